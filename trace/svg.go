package trace

import (
	"bufio"
	"html"
	"io"
	"math"
	"net/netip"
	"strconv"
	"strings"

	"github.com/synack-go/synack/wire"
)

// WriteSVG draws connections as one SVG ladder diagram: each connection is
// a pair of vertical lines, side by side with the others, and time runs
// down the rows shared by all, so that what happens at once on several
// connections lines up. Arrows slant from the row where a segment left to
// the row where it arrived and carry what WriteLadder's do; states are
// written beside each line after every change, timers and drops in grey.
// A lost segment ends in a cross halfway; a retransmission is dashed. An
// endpoint that several connections share (a server) has one line.
// Hovering an arrow shows its whole segment in tcpdump's format (an SVG
// title). Colours tell SYN (green), FIN (blue), RST (red), data (black)
// and bare ACKs (grey) apart. The picture depends only on the events, not
// on when they happened, unless opts.Times is set. WriteSVG returns an error
// when events hold no connection that opts selects, or the writer's error.
func WriteSVG(w io.Writer, events []Event, opts LadderOptions) error {
	d, err := buildDiagram(events, &opts)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	d.svg(bw, &opts)
	return bw.Flush()
}

// SVG geometry, in pixels.
const (
	svgSide   = 150 // room beside the outer lines for states and notes
	svgLaneW  = 440 // distance between the two lines of a single connection
	svgColW   = 340 // distance between neighbouring lines when there are more than two
	svgTimeW  = 76  // the time column, when LadderOptions.Times
	svgPad    = 12
	svgTop    = 86 // y of the first row
	svgRowH   = 22
	svgBottom = 24
)

// svgLayout places a diagram's parts. Every endpoint has one vertical
// line (a column), however many connections it has: a server that three
// clients reach is drawn once, to the right of them.
type svgLayout struct {
	d     *diagram
	timeW int
	cols  []netip.AddrPort
	col   [][2]int // per lane: the columns of its left and right endpoints
}

func newSVGLayout(d *diagram, opts *LadderOptions) *svgLayout {
	l := &svgLayout{d: d, col: make([][2]int, len(d.conns))}
	if opts.Times {
		l.timeW = svgTimeW
	}
	index := make(map[netip.AddrPort]int)
	add := func(ep netip.AddrPort) {
		if _, ok := index[ep]; !ok {
			index[ep] = len(l.cols)
			l.cols = append(l.cols, ep)
		}
	}
	// Left endpoints first, then right ones, so every connection reads
	// left to right as its ladder does.
	for _, c := range d.conns {
		add(c.Left)
	}
	for _, c := range d.conns {
		add(c.Right)
	}
	for i, c := range d.conns {
		l.col[i] = [2]int{index[c.Left], index[c.Right]}
	}
	return l
}

// gap is the distance between neighbouring columns.
func (l *svgLayout) gap() int {
	if len(l.cols) <= 2 {
		return svgLaneW
	}
	return svgColW
}

func (l *svgLayout) colX(col int) int { return svgPad + l.timeW + svgSide + col*l.gap() }

func (l *svgLayout) lineX(lane int, left bool) int {
	if left {
		return l.colX(l.col[lane][0])
	}
	return l.colX(l.col[lane][1])
}

func (l *svgLayout) rowY(i int) int { return svgTop + i*svgRowH }

func (l *svgLayout) width() int {
	return 2*svgPad + l.timeW + 2*svgSide + max(len(l.cols)-1, 1)*l.gap()
}

func (l *svgLayout) height() int { return svgTop + max(len(l.d.rows)-1, 0)*svgRowH + svgBottom + 20 }

// title is what heads the picture.
func (d *diagram) title(opts *LadderOptions) string {
	if opts.Title != "" {
		return opts.Title
	}
	names := make([]string, len(d.conns))
	for i, c := range d.conns {
		names[i] = c.Left.String() + " \u2194 " + c.Right.String()
	}
	return strings.Join(names, ", ")
}

// The picture's colours. Every element carries its presentation as
// attributes (fill, stroke, font-size ...), not as CSS, and arrow heads are
// drawn as triangles, not markers, so that renderers without CSS or marker
// support (ImageMagick's, older rsvg) draw the same picture as a browser.
// The class attributes remain for the HTML page's script and stylesheet.
const (
	colSYN   = "#1b7f2a"
	colFIN   = "#1f5fbf"
	colRST   = "#c62828"
	colData  = "#111111"
	colACK   = "#777777"
	colACKTx = "#666666" // a bare ACK's label: a shade darker than its line
	colState = "#5b2a86"
	colNote  = "#888888"
	colLife  = "#333333"
)

// segColors returns the line and text colours of a segment's class.
func segColors(cls string) (line, text string) {
	switch cls {
	case "syn":
		return colSYN, colSYN
	case "fin":
		return colFIN, colFIN
	case "rst":
		return colRST, colRST
	case "data":
		return colData, colData
	}
	return colACK, colACKTx
}

// class returns the colour class of a segment: its most telling flag.
func class(s *wire.TCPSegment) string {
	switch {
	case s.Flags&wire.RST != 0:
		return "rst"
	case s.Flags&wire.SYN != 0:
		return "syn"
	case s.Flags&wire.FIN != 0:
		return "fin"
	case len(s.Payload) > 0:
		return "data"
	}
	return "ack"
}

// svg writes the diagram as a standalone SVG element.
func (d *diagram) svg(w *bufio.Writer, opts *LadderOptions) {
	l := newSVGLayout(d, opts)
	W, H := l.width(), l.height()
	p := func(ss ...string) {
		for _, s := range ss {
			w.WriteString(s)
		}
	}
	n := strconv.Itoa
	p(`<svg xmlns="http://www.w3.org/2000/svg" class="ladder" width="`, n(W), `" height="`, n(H),
		`" viewBox="0 0 `, n(W), " ", n(H), `" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace">`, "\n")
	p(`<rect class="bg" width="100%" height="100%" fill="#ffffff"/>`, "\n")
	p(`<text class="title" x="`, n(svgPad), `" y="24" font-size="15" font-weight="bold" fill="#222222">`, esc(d.title(opts)), "</text>\n")
	bottom := l.rowY(max(len(d.rows)-1, 0)) + svgBottom
	for col, ep := range l.cols {
		x := n(l.colX(col))
		p(`<text class="host" x="`, x, `" y="56" font-size="12" font-weight="bold" text-anchor="middle" fill="#222222">`, esc(ep.String()), "</text>\n")
		p(`<line class="life" x1="`, x, `" y1="64" x2="`, x, `" y2="`, n(bottom), `" stroke="`, colLife, `" stroke-width="2"/>`, "\n")
	}
	// Lines first, labels after: a label is drawn over every line, on a
	// white backdrop, however the arrows of a burst cross it.
	for i := range d.rows {
		r := &d.rows[i]
		y := l.rowY(i)
		if opts.Times && !r.hoisted {
			p(`<text class="time" x="`, n(svgPad+l.timeW-8), `" y="`, n(y+4), `" font-size="11" text-anchor="end" fill="`, colNote, `">`, seconds(r.ev.At-d.start), "</text>\n")
		}
		switch r.kind {
		case rowSend:
			l.arrowSVG(w, r.arrow)
		case rowState, rowNote:
			l.sideText(w, i, r)
		}
	}
	for i := range d.rows {
		if r := &d.rows[i]; r.kind == rowSend {
			l.labelSVG(w, r.arrow)
		}
	}
	p("</svg>\n")
}

// arrowEnds returns where arrow i starts and ends, and whether it was lost
// (then it ends halfway, in a cross).
func (l *svgLayout) arrowEnds(i int) (xs, ys, xe, ye int, lost bool) {
	a := &l.d.arrows[i]
	xs, xe = l.lineX(a.lane, a.fromLeft), l.lineX(a.lane, !a.fromLeft)
	ys = l.rowY(a.send)
	ye = ys + svgRowH*2/3 // a segment whose sending was not traced
	if a.arrive > a.send {
		ye = l.rowY(a.arrive)
	}
	lost = a.arrive < 0
	if lost {
		// Where it would have arrived a row later, cut short.
		ye = ys + svgRowH
		xe = xs + (xe-xs)*55/100
		ye = ys + (ye-ys)*55/100
	}
	return xs, ys, xe, ye, lost
}

// arrowSVG writes arrow i as a group: line, head or cross when lost.
func (l *svgLayout) arrowSVG(w *bufio.Writer, i int) {
	a := &l.d.arrows[i]
	xs, ys, xe, ye, lost := l.arrowEnds(i)
	cls := class(a.ev.Seg)
	line, _ := segColors(cls)
	group := "seg " + cls
	if a.retrans {
		group += " rexmit"
	}
	if lost {
		group += " lost"
	}
	n := strconv.Itoa
	title := a.tcpdump()
	switch {
	case lost:
		title += " (lost)"
	case a.retrans:
		title += " (retransmission)"
	}
	w.WriteString(`<g class="` + group + `" id="seg-` + n(i) + `" data-seg="` + n(i) + `" data-step="` + n(a.send) + `" data-arrive="` + n(a.arrive) + `">`)
	w.WriteString("<title>" + esc(title) + "</title>")
	w.WriteString(`<line x1="` + n(xs) + `" y1="` + n(ys) + `" x2="` + n(xe) + `" y2="` + n(ye) + `" stroke="` + line + `" stroke-width="1.6"`)
	if a.retrans {
		w.WriteString(` stroke-dasharray="6 3"`)
	}
	w.WriteString("/>")
	if lost {
		const c = 5
		w.WriteString(`<path class="cross" d="M` + n(xe-c) + "," + n(ye-c) + " L" + n(xe+c) + "," + n(ye+c) +
			" M" + n(xe-c) + "," + n(ye+c) + " L" + n(xe+c) + "," + n(ye-c) + `" stroke="` + colRST + `" stroke-width="2.4" fill="none"/>`)
	} else {
		w.WriteString(arrowHead(xs, ys, xe, ye, line))
	}
	w.WriteString("</g>\n")
}

// arrowHead returns a filled triangle pointing at (xe, ye) along the line
// from (xs, ys): 9 px long, 7 px wide.
func arrowHead(xs, ys, xe, ye int, color string) string {
	dx, dy := float64(xe-xs), float64(ye-ys)
	d := math.Hypot(dx, dy)
	if d == 0 {
		return ""
	}
	ux, uy := dx/d, dy/d
	const length, half = 9.0, 3.5
	bx, by := float64(xe)-ux*length, float64(ye)-uy*length
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
	return `<path class="head" d="M` + strconv.Itoa(xe) + "," + strconv.Itoa(ye) +
		" L" + f(bx-uy*half) + "," + f(by+ux*half) + " L" + f(bx+uy*half) + "," + f(by-ux*half) + ` z" fill="` + color + `"/>`
}

// labelSVG writes arrow i's label: it lies level just above the arrow's
// start, so labels of arrows that leave one row apart never overlap each
// other; a backdrop as wide as the monospace text hides the lines behind
// it.
func (l *svgLayout) labelSVG(w *bufio.Writer, i int) {
	a := &l.d.arrows[i]
	xs, ys, xe, _, _ := l.arrowEnds(i)
	_, text := segColors(class(a.ev.Seg))
	n := strconv.Itoa
	const off = 12 // from the sender's line
	label := a.label()
	width := len(label)*7 + 4
	ax, bx, anchor := xs+off, xs+off-2, "start"
	if xe < xs {
		ax, bx, anchor = xs-off, xs-off+2-width, "end"
	}
	w.WriteString(`<g class="label" data-step="` + n(a.send) + `" data-arrive="` + n(a.send) + `">`)
	w.WriteString(`<rect class="backdrop" x="` + n(bx) + `" y="` + n(ys-17) + `" width="` + n(width) + `" height="15" fill="#ffffff" fill-opacity="0.9"/>`)
	w.WriteString(`<text x="` + n(ax) + `" y="` + n(ys-5) + `" text-anchor="` + anchor + `" font-size="11.5" fill="` + text + `">` + esc(label) + "</text></g>\n")
}

// sideText writes a state or a note beside its line: to the left of a
// connection's left line, to the right of its right line.
func (l *svgLayout) sideText(w *bufio.Writer, i int, r *row) {
	n := strconv.Itoa
	x := l.lineX(r.lane, r.left)
	y := l.rowY(i)
	tx, anchor := x-10, "end"
	if !r.left {
		tx, anchor = x+10, "start"
	}
	var cls, text, title, attrs string
	if r.kind == rowState {
		cls, text = "state", r.ev.To
		title = r.ev.To
		if r.ev.From != "" {
			title = r.ev.From + " -> " + r.ev.To
		}
		if r.ev.Why != "" {
			title += " (" + flatWhy(r.ev.Why) + ")"
		}
		attrs = `font-size="12" font-weight="bold" fill="` + colState + `"`
	} else {
		cls, text = "note", r.note()
		title = text
		attrs = `font-size="11" font-style="italic" fill="` + colNote + `"`
	}
	w.WriteString(`<g class="` + cls + `" data-step="` + n(i) + `"><title>` + esc(title) + "</title>")
	if r.kind == rowState {
		w.WriteString(`<circle cx="` + n(x) + `" cy="` + n(y) + `" r="3.5" fill="` + colState + `"/>`)
	}
	w.WriteString(`<text x="` + n(tx) + `" y="` + n(y+4) + `" text-anchor="` + anchor + `" ` + attrs + `>` + esc(text) + "</text></g>\n")
}

// esc escapes s for XML text and attribute values.
func esc(s string) string { return html.EscapeString(s) }
