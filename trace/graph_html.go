package trace

import (
	"bufio"
	_ "embed"
	"io"
	"strconv"
	"strings"
	"time"
)

//go:embed html_graph.css
var graphCSS string

//go:embed html_graph.js
var graphJS string

// GraphLadderCap is the most segments the graph page draws as a ladder: a
// ladder is the right picture for tens of segments, not for thousands, so
// the page asks to zoom in until the visible range holds no more.
const GraphLadderCap = 400

// WriteGraphHTML writes one self-contained HTML page (inline CSS and
// script, no network fetch) for a long trace: a summary of each connection
// (see Summarize) and its graphs (see WritePlot), drawn by the page's
// script so that they zoom (mouse wheel, or the buttons) and pan (drag)
// together; and, below them, the ladder of the segments in the visible
// range once it holds at most GraphLadderCap. A selector switches between
// connections. The page's data is compact (a few dozen bytes per segment),
// so a capture of 56,000 packets makes a page of about 3 MB that a browser
// opens in a second. WriteGraphHTML returns an error when events hold no
// connection that opts chooses, or the writer's error.
func WriteGraphHTML(w io.Writer, events []Event, opts PlotOptions) error {
	flows := flowsOf(events, opts.Conns)
	if len(flows) == 0 {
		return errNoConn
	}
	bw := bufio.NewWriter(w)
	title := opts.Title
	if title == "" {
		title = flows[0].conn.Left.String() + " \u2194 " + flows[0].conn.Right.String()
		if len(flows) > 1 {
			title += " and " + strconv.Itoa(len(flows)-1) + " more"
		}
	}
	t := esc(title)
	bw.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" + t + "</title>\n")
	bw.WriteString("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	bw.WriteString("<style>\n" + graphCSS + "</style>\n</head>\n<body>\n<header>\n<h1>" + t + "</h1>\n")
	bw.WriteString(`<select id="conn" aria-label="connection"></select> ` +
		`<button id="zin" title="zoom in (+)">zoom in</button> <button id="zout" title="zoom out (-)">zoom out</button> ` +
		`<button id="reset" title="whole connection (0)">whole</button> <span id="range"></span>` + "\n")
	bw.WriteString("</header>\n<main>\n<pre id=\"summary\"></pre>\n")
	bw.WriteString(`<p class="hint">Wheel: zoom time around the pointer. Drag: pan. The sequence axis fits what is visible.</p>` + "\n")
	bw.WriteString(`<div id="graphs"></div>` + "\n<h2>Ladder of the visible range</h2>\n<p id=\"ladder-note\"></p>\n<div id=\"ladder\"></div>\n</main>\n")
	bw.WriteString("<div id=\"tip\" hidden></div>\n")
	bw.WriteString(`<script type="application/json" id="graph-data">`)
	bw.WriteString(`{"ladderCap":` + strconv.Itoa(GraphLadderCap) + `,"conns":[`)
	for i, f := range flows {
		if i > 0 {
			bw.WriteString(",")
		}
		f.writeJSON(bw, opts)
	}
	bw.WriteString("]}</script>\n<script>\n" + graphJS + "</script>\n</body>\n</html>\n")
	return bw.Flush()
}

// writeJSON writes the connection's page data. Segments are one flat
// array of numbers, eight per segment: time in microseconds, 1 if sent
// by the left end, flags, seq, ack, length, window in bytes, mark (0 new,
// 1 retransmission, 2 lost); SACK blocks are triples of segment index,
// left and right edge. Numbers are relative to each side's first.
func (f *connFlow) writeJSON(w *bufio.Writer, opts PlotOptions) {
	var sum strings.Builder
	s := f.summary()
	WriteSummaries(&sum, []Summary{s})
	q := func(s string) string { return strconv.Quote(s) } // ASCII-safe for endpoints and text
	w.WriteString(`{"name":` + jsonString(f.conn.Left.String()+" \u2194 "+f.conn.Right.String()))
	w.WriteString(`,"left":` + q(f.conn.Left.String()) + `,"right":` + q(f.conn.Right.String()))
	w.WriteString(`,"summary":` + jsonString(strings.TrimPrefix(sum.String(), "connection 1: ")))
	w.WriteString(`,"fwd":` + strconv.FormatBool(f.dataFwd))
	from, to := opts.From, opts.To
	if to <= from {
		from, to = f.start, f.end
	}
	w.WriteString(`,"from":` + micros(from) + `,"to":` + micros(to))
	w.WriteString(`,"seg":[`)
	b := make([]byte, 0, 64)
	for i := range f.segs {
		g := &f.segs[i]
		b = b[:0]
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(g.at/time.Microsecond), 10)
		if g.fromLeft {
			b = append(b, ",1,"...)
		} else {
			b = append(b, ",0,"...)
		}
		b = strconv.AppendUint(b, uint64(g.flags), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, g.seq, 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, g.ack, 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(g.n), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, g.win, 10)
		b = append(b, ',')
		b = strconv.AppendUint(b, uint64(g.mark), 10)
		w.Write(b)
	}
	w.WriteString(`],"sack":[`)
	first := true
	for i := range f.segs {
		for _, r := range f.segs[i].sack {
			b = b[:0]
			if !first {
				b = append(b, ',')
			}
			first = false
			b = strconv.AppendInt(b, int64(i), 10)
			b = append(b, ',')
			b = strconv.AppendInt(b, r.lo, 10)
			b = append(b, ',')
			b = strconv.AppendInt(b, r.hi, 10)
			w.Write(b)
		}
	}
	w.WriteString(`],"rtt":` + points(f.rtt) + `,"cwnd":` + points(f.cwnd) + "}")
}

// points writes [t_us, v, t_us, v, ...].
func points(pts []timePoint) string {
	b := make([]byte, 0, 16*len(pts)+2)
	b = append(b, '[')
	for i, p := range pts {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(p.at/time.Microsecond), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, p.v, 10)
	}
	return string(append(b, ']'))
}

func micros(d time.Duration) string { return strconv.FormatInt(int64(d/time.Microsecond), 10) }

// jsonString quotes s for JSON inside a <script> element: no "<" that could
// end it.
func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r < 0x20 || r == '<' || r == '>' || r == '&':
			b.WriteString(`\u00`)
			b.WriteString(strconv.FormatInt(int64(r)>>4, 16))
			b.WriteString(strconv.FormatInt(int64(r)&15, 16))
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
