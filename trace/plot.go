package trace

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/synack-go/synack/wire"
)

// PlotOptions shapes the graphs of WritePlot and WriteGraphHTML. The zero
// value graphs every connection over its whole time.
type PlotOptions struct {
	// Conns chooses the connections to graph, in either order of their
	// endpoints; nil graphs every connection in the events.
	Conns []Conn
	// From and To bound the time shown, measured as Event.At is; To zero
	// means the end of the trace.
	From, To time.Duration
	// Title heads the picture. Empty means the connections' endpoints.
	Title string
}

// Plot geometry, in pixels, and colours (presentation attributes, as the
// ladders have: every renderer draws them alike).
const (
	plotW      = 960
	plotLeft   = 78 // room for the value axis
	plotRight  = 16
	plotTSG    = 340 // the time-sequence graph's height
	plotSmall  = 120 // each of the three smaller graphs
	plotGap    = 46
	plotTitleH = 40
	colAckLine = "#1b7f2a"
	colWindow  = "#c9a100"
	colSACK    = "#1f5fbf"
	colRetrans = "#c62828"
	colLost    = "#ff6f00"
	colRate    = "#1f5fbf"
	colRTT     = "#5b2a86"
	colCwnd    = "#5b2a86"
	colFlight  = "#777777"
	colGrid    = "#e4e4e4"
	colAxis    = "#444444"
)

// WritePlot draws, for each connection, four graphs one above the other,
// sharing their time axis: the time-sequence graph of the direction that
// carried more data, as Stevens drew it (each data segment a vertical bar
// from its first to its last sequence number, retransmissions in red,
// segments lost on the link in orange with a cross; the ACK line in
// green, the receive window's right edge in yellow, SACK blocks in blue),
// then the goodput (bytes acknowledged per interval), the round-trip
// times (from a segment to the ACK that covered it), and the congestion
// window (from the sender's Congestion events, when it was traced live)
// with the bytes in flight (highest sequence sent minus highest ACK). A
// long trace is drawn one pixel column at a time, so the picture's size
// does not grow with the number of segments. WritePlot returns an error
// when events hold no connection that opts chooses, or the writer's error.
func WritePlot(w io.Writer, events []Event, opts PlotOptions) error {
	flows := flowsOf(events, opts.Conns)
	if len(flows) == 0 {
		return errNoConn
	}
	bw := bufio.NewWriter(w)
	h := plotTitleH + len(flows)*plotBlockH()
	n := strconv.Itoa
	fmt.Fprintf(bw, `<svg xmlns="http://www.w3.org/2000/svg" class="plot" width="%d" height="%d" viewBox="0 0 %d %d" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">`+"\n", plotW, h, plotW, h)
	bw.WriteString(`<rect width="100%" height="100%" fill="#ffffff"/>` + "\n")
	title := opts.Title
	if title == "" {
		names := make([]string, len(flows))
		for i, f := range flows {
			names[i] = f.conn.Left.String() + " \u2194 " + f.conn.Right.String()
		}
		title = strings.Join(names, ", ")
	}
	bw.WriteString(`<text x="12" y="24" font-size="15" font-weight="bold" fill="#222222">` + esc(title) + "</text>\n")
	for i, f := range flows {
		t0, t1 := opts.From, opts.To
		if t1 <= t0 {
			t1 = f.end
			if t0 == 0 {
				t0 = f.start
			}
		}
		if t1 <= t0 {
			t1 = t0 + time.Millisecond
		}
		y := plotTitleH + i*plotBlockH()
		bw.WriteString(`<g class="conn" transform="translate(0,` + n(y) + `)">` + "\n")
		f.plot(bw, t0, t1)
		bw.WriteString("</g>\n")
	}
	bw.WriteString("</svg>\n")
	return bw.Flush()
}

func plotBlockH() int { return 24 + plotTSG + 3*(plotSmall+plotGap) + plotGap }

// panel maps a time range and a value range onto a rectangle.
type panel struct {
	x, y, w, h int
	t0, t1     time.Duration
	v0, v1     float64
}

func (p *panel) X(t time.Duration) float64 {
	return float64(p.x) + float64(t-p.t0)/float64(p.t1-p.t0)*float64(p.w)
}

func (p *panel) Y(v float64) float64 {
	if p.v1 <= p.v0 {
		return float64(p.y + p.h)
	}
	v = min(max(v, p.v0), p.v1) // what is off the scale runs along its edge
	return float64(p.y+p.h) - (v-p.v0)/(p.v1-p.v0)*float64(p.h)
}

// col returns the pixel column of t, or -1 outside the panel.
func (p *panel) col(t time.Duration) int {
	if t < p.t0 || t > p.t1 {
		return -1
	}
	return min(int(float64(t-p.t0)/float64(p.t1-p.t0)*float64(p.w)), p.w-1)
}

func ff(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// frame draws the panel's box, grid, axis labels and title.
func (p *panel) frame(w *bufio.Writer, title string, unit func(float64) string) {
	fmt.Fprintf(w, `<text x="%d" y="%d" font-size="12" font-weight="bold" fill="%s">%s</text>`+"\n", p.x, p.y-8, colAxis, esc(title))
	fmt.Fprintf(w, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="%s" stroke-width="1"/>`+"\n", p.x, p.y, p.w, p.h, colAxis)
	for _, v := range niceTicks(p.v0, p.v1, 5) {
		y := p.Y(v)
		fmt.Fprintf(w, `<line x1="%d" y1="%s" x2="%d" y2="%s" stroke="%s" stroke-width="1"/>`, p.x, ff(y), p.x+p.w, ff(y), colGrid)
		fmt.Fprintf(w, `<text x="%d" y="%s" font-size="10" text-anchor="end" fill="%s">%s</text>`+"\n", p.x-4, ff(y+3), colAxis, unit(v))
	}
	for _, v := range niceTicks(p.t0.Seconds(), p.t1.Seconds(), 8) {
		x := p.X(time.Duration(v * float64(time.Second)))
		fmt.Fprintf(w, `<line x1="%s" y1="%d" x2="%s" y2="%d" stroke="%s" stroke-width="1"/>`, ff(x), p.y, ff(x), p.y+p.h, colGrid)
		fmt.Fprintf(w, `<text x="%s" y="%d" font-size="10" text-anchor="middle" fill="%s">%s s</text>`+"\n", ff(x), p.y+p.h+13, colAxis, strconv.FormatFloat(v, 'g', 6, 64))
	}
}

// niceTicks returns about n round values between lo and hi.
func niceTicks(lo, hi float64, n int) []float64 {
	if !(hi > lo) || n < 1 {
		return nil
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var out []float64
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		out = append(out, v)
	}
	return out
}

// bytesUnit labels a byte count: 0, 512, 64K, 1.5M.
func bytesUnit(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1<<30:
		return strconv.FormatFloat(v/(1<<30), 'g', 3, 64) + "G"
	case a >= 1<<20:
		return strconv.FormatFloat(v/(1<<20), 'g', 3, 64) + "M"
	case a >= 1<<10:
		return strconv.FormatFloat(v/(1<<10), 'g', 3, 64) + "K"
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// columns accumulates the smallest and largest value per pixel column.
type columns struct {
	lo, hi []float64
	set    []bool
}

func newColumns(w int) *columns {
	return &columns{lo: make([]float64, w), hi: make([]float64, w), set: make([]bool, w)}
}

func (c *columns) add(col int, lo, hi float64) {
	if col < 0 {
		return
	}
	if !c.set[col] {
		c.lo[col], c.hi[col], c.set[col] = lo, hi, true
		return
	}
	c.lo[col] = min(c.lo[col], lo)
	c.hi[col] = max(c.hi[col], hi)
}

// bars draws one vertical bar per column that holds a value.
func (c *columns) bars(w *bufio.Writer, p *panel, color string, width float64) {
	var b strings.Builder
	for i, ok := range c.set {
		if !ok {
			continue
		}
		x := float64(p.x+i) + 0.5
		y0, y1 := p.Y(c.lo[i]), p.Y(c.hi[i])
		if y0-y1 < 1 {
			y0 += 0.5
			y1 -= 0.5
		}
		b.WriteString("M" + ff(x) + "," + ff(y0) + "V" + ff(y1))
	}
	if b.Len() > 0 {
		fmt.Fprintf(w, `<path d="%s" stroke="%s" stroke-width="%s" fill="none"/>`+"\n", b.String(), color, ff(width))
	}
}

// stepLine draws a value that holds until its next sample, one point per
// pixel column (the column's last value).
func stepLine(w *bufio.Writer, p *panel, pts []timePoint, color string, width float64, dash string) {
	var b strings.Builder
	lastY := math.NaN()
	lastCol := -2
	for _, pt := range pts {
		if pt.at > p.t1 {
			break
		}
		col := max(p.col(pt.at), 0)
		y := p.Y(float64(pt.v))
		x := float64(p.x + col)
		if pt.at < p.t0 {
			lastY, lastCol = y, -1
			continue
		}
		switch {
		case math.IsNaN(lastY):
			b.WriteString("M" + ff(x) + "," + ff(y))
		case lastCol == -1:
			b.WriteString("M" + ff(float64(p.x)) + "," + ff(lastY) + "H" + ff(x) + "V" + ff(y))
		case col == lastCol:
			b.WriteString("V" + ff(y))
		default:
			b.WriteString("H" + ff(x) + "V" + ff(y))
		}
		lastY, lastCol = y, col
	}
	if !math.IsNaN(lastY) {
		if lastCol == -1 {
			b.WriteString("M" + ff(float64(p.x)) + "," + ff(lastY))
		}
		b.WriteString("H" + ff(float64(p.x+p.w)))
	}
	if b.Len() > 0 {
		extra := ""
		if dash != "" {
			extra = ` stroke-dasharray="` + dash + `"`
		}
		fmt.Fprintf(w, `<path d="%s" stroke="%s" stroke-width="%s" fill="none"%s/>`+"\n", b.String(), color, ff(width), extra)
	}
}

// series are the points the four graphs draw, derived from a connFlow.
type series struct {
	acks, wins, flight []timePoint
	data               [3][]flowSeg // by mark
	sacks              []flowSeg
	maxSeq             int64
}

func (f *connFlow) series(t0, t1 time.Duration) *series {
	s := &series{}
	var maxHi, lastAck int64
	for i := range f.segs {
		g := &f.segs[i]
		if g.fromLeft == f.dataFwd {
			seqLen := int64(g.n)
			if g.flags&(wire.SYN|wire.FIN) != 0 {
				seqLen++
			}
			if seqLen == 0 {
				continue
			}
			maxHi = max(maxHi, g.seq+seqLen)
			s.flight = append(s.flight, timePoint{g.at, max(maxHi-lastAck, 0)})
			if g.at >= t0 && g.at <= t1 {
				s.data[g.mark] = append(s.data[g.mark], *g)
				s.maxSeq = max(s.maxSeq, g.seq+seqLen)
			}
			continue
		}
		if g.flags&wire.ACK == 0 {
			continue
		}
		lastAck = max(lastAck, g.ack)
		s.acks = append(s.acks, timePoint{g.at, g.ack})
		s.wins = append(s.wins, timePoint{g.at, g.ack + g.win})
		if g.at >= t0 && g.at <= t1 {
			s.maxSeq = max(s.maxSeq, g.ack)
			if len(g.sack) > 0 {
				s.sacks = append(s.sacks, *g)
			}
		}
		s.flight = append(s.flight, timePoint{g.at, max(maxHi-lastAck, 0)})
	}
	return s
}

// minSeqIn returns the lowest sequence number the graph shows in [t0, t1].
func (s *series) minSeqIn(t0, t1 time.Duration) int64 {
	lo := int64(math.MaxInt64)
	for _, d := range s.data {
		for i := range d {
			lo = min(lo, d[i].seq)
		}
	}
	for _, a := range s.acks {
		if a.at >= t0 && a.at <= t1 {
			lo = min(lo, a.v)
		}
	}
	if lo == math.MaxInt64 {
		return 0
	}
	return lo
}

// plot draws one connection's four graphs.
func (f *connFlow) plot(w *bufio.Writer, t0, t1 time.Duration) {
	s := f.series(t0, t1)
	pw := plotW - plotLeft - plotRight
	fmt.Fprintf(w, `<text x="12" y="12" font-size="13" fill="#222222">%s → %s: %d bytes, %d segments, %d retransmitted</text>`+"\n",
		esc(f.sender().String()), esc(f.receiver().String()), f.bytes[sideIdx(f.dataFwd)], f.count[sideIdx(f.dataFwd)], f.retrans[sideIdx(f.dataFwd)])

	// Time-sequence graph.
	// The scale fits the data and the ACKs; a window far above them
	// runs along the top edge.
	lo := s.minSeqIn(t0, t1)
	hi := s.maxSeq
	if hi <= lo {
		hi = lo + 1
	}
	ts := &panel{x: plotLeft, y: 24 + plotGap - 20, w: pw, h: plotTSG, t0: t0, t1: t1, v0: float64(lo), v1: float64(hi) + float64(hi-lo)*0.02}
	ts.frame(w, "time-sequence graph: sequence number (bytes, relative) over time", bytesUnit)
	stepLine(w, ts, s.wins, colWindow, 1.2, "")
	stepLine(w, ts, s.acks, colAckLine, 1.4, "")
	sack := newColumns(pw)
	for i := range s.sacks {
		for _, b := range s.sacks[i].sack {
			sack.add(ts.col(s.sacks[i].at), float64(b.lo), float64(b.hi))
		}
	}
	sack.bars(w, ts, colSACK, 2)
	for mark, color := range [3]string{markNew: "#111111", markRetrans: colRetrans, markLost: colLost} {
		c := newColumns(pw)
		for i := range s.data[mark] {
			g := &s.data[mark][i]
			seqLen := int64(g.n)
			if g.flags&(wire.SYN|wire.FIN) != 0 {
				seqLen++
			}
			c.add(ts.col(g.at), float64(g.seq), float64(g.seq+seqLen))
		}
		c.bars(w, ts, color, 1.4)
		if segMark(mark) == markLost && len(s.data[mark]) <= 2000 {
			var b strings.Builder
			for i := range s.data[mark] {
				g := &s.data[mark][i]
				x, y := ts.X(g.at), ts.Y(float64(g.seq+int64(g.n)))
				b.WriteString("M" + ff(x-3) + "," + ff(y-3) + "l6,6m-6,0l6,-6")
			}
			fmt.Fprintf(w, `<path d="%s" stroke="%s" stroke-width="1.6" fill="none"/>`+"\n", b.String(), colLost)
		}
	}
	legend(w, ts, []legendItem{{"data", "#111111"}, {"retransmitted", colRetrans}, {"lost", colLost}, {"ACK", colAckLine}, {"window", colWindow}, {"SACK", colSACK}})

	// Goodput: bytes acknowledged per bin.
	bins := max(pw/6, 1)
	rates := make([]float64, bins)
	binDur := (t1 - t0) / time.Duration(bins)
	if binDur <= 0 {
		binDur = 1
	}
	var prev int64
	havePrev := false
	for _, a := range s.acks {
		if havePrev && a.v > prev && a.at >= t0 && a.at <= t1 {
			b := min(int((a.at-t0)/binDur), bins-1)
			rates[b] += float64(a.v - prev)
		}
		if !havePrev || a.v > prev {
			prev, havePrev = a.v, true
		}
	}
	maxRate := 1.0
	for i := range rates {
		rates[i] = rates[i] * 8 / binDur.Seconds()
		maxRate = max(maxRate, rates[i])
	}
	y := ts.y + ts.h + plotGap
	gp := &panel{x: plotLeft, y: y, w: pw, h: plotSmall, t0: t0, t1: t1, v0: 0, v1: maxRate * 1.05}
	gp.frame(w, "goodput (bytes acknowledged per "+binDur.Round(time.Microsecond).String()+")", func(v float64) string { return bitRate(v) })
	var b strings.Builder
	for i, r := range rates {
		x0 := float64(gp.x) + float64(i)*float64(pw)/float64(bins)
		if i == 0 {
			b.WriteString("M" + ff(x0) + "," + ff(gp.Y(r)))
		} else {
			b.WriteString("L" + ff(x0) + "," + ff(gp.Y(r)))
		}
		b.WriteString("H" + ff(x0+float64(pw)/float64(bins)))
	}
	fmt.Fprintf(w, `<path d="%s" stroke="%s" stroke-width="1.4" fill="none"/>`+"\n", b.String(), colRate)

	// RTT samples.
	y += plotSmall + plotGap
	maxRTT := int64(1)
	for _, r := range f.rtt {
		if r.at >= t0 && r.at <= t1 {
			maxRTT = max(maxRTT, r.v)
		}
	}
	rp := &panel{x: plotLeft, y: y, w: pw, h: plotSmall, t0: t0, t1: t1, v0: 0, v1: float64(maxRTT) * 1.05}
	rp.frame(w, "round-trip time (segment to the ACK that covered it)", func(v float64) string { return strconv.FormatFloat(v/1000, 'g', 4, 64) + " ms" })
	rc := newColumns(pw)
	for _, r := range f.rtt {
		rc.add(rp.col(r.at), float64(r.v), float64(r.v))
	}
	rc.bars(w, rp, colRTT, 2)
	if len(f.rtt) == 0 {
		fmt.Fprintf(w, `<text x="%d" y="%d" font-size="11" fill="%s">no sample: the data's sender was not traced, or every segment was resent</text>`+"\n", rp.x+8, rp.y+20, colNote)
	}

	// Congestion window and bytes in flight.
	y += plotSmall + plotGap
	maxW := int64(1)
	for _, pts := range [][]timePoint{f.cwnd, s.flight} {
		for _, p := range pts {
			if p.at >= t0 && p.at <= t1 {
				maxW = max(maxW, p.v)
			}
		}
	}
	cp := &panel{x: plotLeft, y: y, w: pw, h: plotSmall, t0: t0, t1: t1, v0: 0, v1: float64(maxW) * 1.05}
	title := "bytes in flight (highest sequence sent - highest ACK)"
	items := []legendItem{{"in flight", colFlight}}
	if len(f.cwnd) > 0 {
		title = "congestion window (the sender's own) and bytes in flight"
		items = append(items, legendItem{"cwnd", colCwnd})
	}
	cp.frame(w, title, bytesUnit)
	stepLine(w, cp, s.flight, colFlight, 1, "")
	if len(f.cwnd) > 0 {
		stepLine(w, cp, f.cwnd, colCwnd, 1.6, "")
	}
	legend(w, cp, items)
}

type legendItem struct{ name, color string }

// legend writes a row of colour keys at the panel's top right.
func legend(w *bufio.Writer, p *panel, items []legendItem) {
	x := p.x + p.w
	for i := len(items) - 1; i >= 0; i-- {
		it := items[i]
		x -= 14 + 7*len(it.name)
		fmt.Fprintf(w, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d" font-size="11" fill="%s">%s</text>`+"\n",
			x, p.y-18, it.color, x+13, p.y-9, colAxis, esc(it.name))
		x -= 8
	}
}
