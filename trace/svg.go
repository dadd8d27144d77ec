package trace

import (
	"bufio"
	"html"
	"io"
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
// A lost segment ends in a cross halfway; a retransmission is dashed.
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
	svgSide   = 150 // room beside each line for states and notes
	svgLaneW  = 440 // distance between a connection's two lines
	svgTimeW  = 76  // the time column, when LadderOptions.Times
	svgPad    = 12
	svgTop    = 86 // y of the first row
	svgRowH   = 22
	svgBottom = 24
)

// svgLayout places a diagram's parts.
type svgLayout struct {
	d     *diagram
	timeW int
}

func (l *svgLayout) lineX(lane int, left bool) int {
	x := svgPad + l.timeW + lane*(2*svgSide+svgLaneW) + svgSide
	if !left {
		x += svgLaneW
	}
	return x
}

func (l *svgLayout) rowY(i int) int { return svgTop + i*svgRowH }

func (l *svgLayout) width() int {
	return 2*svgPad + l.timeW + len(l.d.conns)*(2*svgSide+svgLaneW)
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

// svgStyle is the stylesheet inside every SVG: it works the same in a file
// opened alone, in an <img> and inline in the HTML page.
const svgStyle = `
.bg{fill:#fff}
.title{font-size:15px;font-weight:bold}
.host{font-size:12px;font-weight:bold;text-anchor:middle}
.life{stroke:#333;stroke-width:2}
.time{fill:#888;font-size:11px;text-anchor:end}
.seg line{stroke-width:1.6}
.seg text{font-size:11.5px}
.backdrop{fill:#fff;fill-opacity:.9}
.syn line{stroke:#1b7f2a}.syn text{fill:#1b7f2a}
.fin line{stroke:#1f5fbf}.fin text{fill:#1f5fbf}
.rst line{stroke:#c62828}.rst text{fill:#c62828}
.data line{stroke:#111}.data text{fill:#111}
.ack line{stroke:#777}.ack text{fill:#666}
.rexmit line{stroke-dasharray:6 3}
.cross{stroke:#c62828;stroke-width:2.4}
.state text{font-size:12px;font-weight:bold;fill:#5b2a86}
.state circle{fill:#5b2a86}
.note text{font-size:11px;font-style:italic;fill:#888}
`

// svgClasses are the arrow classes, each with its arrow head marker.
var svgClasses = [...]struct{ name, color string }{
	{"syn", "#1b7f2a"}, {"fin", "#1f5fbf"}, {"rst", "#c62828"}, {"data", "#111"}, {"ack", "#777"},
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
	l := svgLayout{d: d}
	if opts.Times {
		l.timeW = svgTimeW
	}
	W, H := l.width(), l.height()
	p := func(ss ...string) {
		for _, s := range ss {
			w.WriteString(s)
		}
	}
	n := strconv.Itoa
	p(`<svg xmlns="http://www.w3.org/2000/svg" class="ladder" width="`, n(W), `" height="`, n(H),
		`" viewBox="0 0 `, n(W), " ", n(H), `" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace">`, "\n")
	p("<style>", svgStyle, "</style>\n<defs>\n")
	for _, c := range svgClasses {
		p(`<marker id="head-`, c.name, `" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,1 L10,5 L0,9 z" fill="`, c.color, `"/></marker>`, "\n")
	}
	p("</defs>\n")
	p(`<rect class="bg" width="100%" height="100%"/>`, "\n")
	p(`<text class="title" x="`, n(svgPad), `" y="24">`, esc(d.title(opts)), "</text>\n")
	bottom := l.rowY(max(len(d.rows)-1, 0)) + svgBottom
	for lane, c := range d.conns {
		for _, left := range []bool{true, false} {
			x := n(l.lineX(lane, left))
			name := c.Left.String()
			if !left {
				name = c.Right.String()
			}
			p(`<text class="host" x="`, x, `" y="56">`, esc(name), "</text>\n")
			p(`<line class="life" x1="`, x, `" y1="64" x2="`, x, `" y2="`, n(bottom), `"/>`, "\n")
		}
	}
	for i := range d.rows {
		r := &d.rows[i]
		y := l.rowY(i)
		if opts.Times && !r.hoisted {
			p(`<text class="time" x="`, n(svgPad+l.timeW-8), `" y="`, n(y+4), `">`, seconds(r.ev.At-d.start), "</text>\n")
		}
		switch r.kind {
		case rowSend:
			l.arrowSVG(w, r.arrow)
		case rowState, rowNote:
			l.sideText(w, i, r)
		}
	}
	p("</svg>\n")
}

// arrowSVG writes arrow i as a group: line, label, cross when lost.
func (l *svgLayout) arrowSVG(w *bufio.Writer, i int) {
	a := &l.d.arrows[i]
	s := a.ev.Seg
	xs, xe := l.lineX(a.lane, a.fromLeft), l.lineX(a.lane, !a.fromLeft)
	ys := l.rowY(a.send)
	ye := ys + svgRowH*2/3 // a segment whose sending was not traced
	if a.arrive > a.send {
		ye = l.rowY(a.arrive)
	}
	lost := a.arrive < 0
	if lost {
		// Where it would have arrived a row later, cut short.
		ye = ys + svgRowH
		xe = xs + (xe-xs)*55/100
		ye = ys + (ye-ys)*55/100
	}
	cls := class(s)
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
	w.WriteString(`<line x1="` + n(xs) + `" y1="` + n(ys) + `" x2="` + n(xe) + `" y2="` + n(ye) + `"`)
	if !lost {
		w.WriteString(` marker-end="url(#head-` + cls + `)"`)
	}
	w.WriteString("/>")
	if lost {
		const c = 5
		w.WriteString(`<path class="cross" d="M` + n(xe-c) + "," + n(ye-c) + " L" + n(xe+c) + "," + n(ye+c) +
			" M" + n(xe-c) + "," + n(ye+c) + " L" + n(xe+c) + "," + n(ye-c) + `"/>`)
	}
	// The label lies level just above the arrow's start: arrows leave one
	// row apart, so their labels never overlap, even where the arrows of a
	// burst cross; the white halo keeps a label readable over a line.
	// A backdrop as wide as the monospace text hides the lines of earlier
	// arrows behind it.
	const off = 12 // from the sender's line
	label := a.label()
	width := len(label)*7 + 4
	ax, bx, anchor := xs+off, xs+off-2, "start"
	if xe < xs {
		ax, bx, anchor = xs-off, xs-off+2-width, "end"
	}
	w.WriteString(`<rect class="backdrop" x="` + n(bx) + `" y="` + n(ys-17) + `" width="` + n(width) + `" height="15"/>`)
	w.WriteString(`<text x="` + n(ax) + `" y="` + n(ys-5) + `" text-anchor="` + anchor + `">` + esc(label) + "</text>")
	w.WriteString("</g>\n")
}

// sideText writes a state or a note beside its line.
func (l *svgLayout) sideText(w *bufio.Writer, i int, r *row) {
	n := strconv.Itoa
	x := l.lineX(r.lane, r.left)
	y := l.rowY(i)
	tx, anchor := x-10, "end"
	if !r.left {
		tx, anchor = x+10, "start"
	}
	var cls, text, title string
	if r.kind == rowState {
		cls, text = "state", r.ev.To
		title = r.ev.To
		if r.ev.From != "" {
			title = r.ev.From + " -> " + r.ev.To
		}
		if r.ev.Why != "" {
			title += " (" + r.ev.Why + ")"
		}
	} else {
		cls, text = "note", note(r.ev)
		title = text
	}
	w.WriteString(`<g class="` + cls + `" data-step="` + n(i) + `"><title>` + esc(title) + "</title>")
	if r.kind == rowState {
		w.WriteString(`<circle cx="` + n(x) + `" cy="` + n(y) + `" r="3.5"/>`)
	}
	w.WriteString(`<text x="` + n(tx) + `" y="` + n(y+4) + `" text-anchor="` + anchor + `">` + esc(text) + "</text></g>\n")
}

// esc escapes s for XML text and attribute values.
func esc(s string) string { return html.EscapeString(s) }
