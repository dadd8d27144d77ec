package trace

import (
	"bufio"
	"errors"
	"io"
	"net/netip"
	"strconv"
	"strings"

	"github.com/synack-go/synack/wire"
)

// LadderOptions shapes a text ladder diagram. The zero value is ready to use.
type LadderOptions struct {
	// Width is the number of columns between the two vertical lines. Zero
	// means 56.
	Width int
	// Absolute prints absolute sequence numbers instead of numbers relative
	// to each side's initial sequence number.
	Absolute bool
}

// WriteLadder draws one connection as the ladder diagram of a TCP textbook:
// two vertical lines, one per endpoint, and an arrow per segment carrying
// its flags, sequence and acknowledgment numbers and payload length. Each
// side's new state is written beside its line after every change. A segment
// that was sent and never arrived ends in a cross; a retransmitted one is
// marked. events must hold both stacks' events, as a Recorder attached to
// both collects them; the connection drawn is the first one seen.
func WriteLadder(w io.Writer, events []Event, opts LadderOptions) error {
	width := opts.Width
	if width <= 0 {
		width = 56
	}
	left, right, ok := firstConn(events)
	if !ok {
		return errors.New("trace: no connection in the events")
	}
	l := ladder{w: bufio.NewWriter(w), width: width, left: left, right: right, abs: opts.Absolute}
	l.header()
	arrived := arrivals(events)
	for i := range events {
		e := &events[i]
		switch {
		case e.Kind == StateChange && e.Local == left:
			l.state(true, e.To)
		case e.Kind == StateChange && e.Local == right:
			l.state(false, e.To)
		case e.Kind == SegmentOut && e.Seg != nil && (e.Local == left && e.Remote == right || e.Local == right && e.Remote == left):
			l.segment(e.Local == left, e.Seg, arrived[i])
		}
	}
	l.flushStates()
	return l.w.Flush()
}

// firstConn returns the endpoints of the first connection in events: the
// left one sent the first segment.
func firstConn(events []Event) (left, right netip.AddrPort, ok bool) {
	for i := range events {
		e := &events[i]
		if e.Seg != nil && e.Local.IsValid() && e.Remote.IsValid() {
			if e.Kind == SegmentOut {
				return e.Local, e.Remote, true
			}
			return e.Remote, e.Local, true
		}
	}
	return left, right, false
}

// arrivals marks each SegmentOut that arrived: every SegmentIn is the
// arrival of the latest unmatched identical SegmentOut sent before it by the
// peer (a retransmission, not the lost original, is what arrives).
func arrivals(events []Event) []bool {
	arrived := make([]bool, len(events))
	for j := range events {
		in := &events[j]
		if in.Kind != SegmentIn || in.Seg == nil {
			continue
		}
		for i := j - 1; i >= 0; i-- {
			out := &events[i]
			if arrived[i] || out.Kind != SegmentOut || out.Seg == nil || out.Local != in.Remote || out.Remote != in.Local {
				continue
			}
			s, o := in.Seg, out.Seg
			if s.Seq == o.Seq && s.Ack == o.Ack && s.Flags == o.Flags && len(s.Payload) == len(o.Payload) {
				arrived[i] = true
				break
			}
		}
	}
	return arrived
}

type ladder struct {
	w           *bufio.Writer
	width       int
	left, right netip.AddrPort
	abs         bool
	base        [2]wire.Seq // initial sequence number of left [0] and right [1]
	seen        [2]bool
	high        [2]wire.Seq // highest sequence sent + 1
	pendL       string      // left state to print with the next line
	pendR       string
}

const margin = 14 // columns for the left state names

func (l *ladder) header() {
	ls, rs := l.left.String(), l.right.String()
	l.line(ls, strings.Repeat(" ", max(l.width-len(rs)+2, 1))+rs, "")
}

// state notes a new state for one side; it is printed on that side's next
// line.
func (l *ladder) state(left bool, s string) {
	if left {
		if l.pendL != "" {
			l.flushStates()
		}
		l.pendL = s
	} else {
		if l.pendR != "" {
			l.flushStates()
		}
		l.pendR = s
	}
}

func (l *ladder) flushStates() {
	if l.pendL == "" && l.pendR == "" {
		return
	}
	l.line(l.pendL, "|"+strings.Repeat(" ", l.width)+"|", l.pendR)
	l.pendL, l.pendR = "", ""
}

func (l *ladder) line(left, mid, right string) {
	l.w.WriteString(left)
	l.w.WriteString(strings.Repeat(" ", max(margin-len(left), 1)))
	l.w.WriteString(mid)
	if right != "" {
		l.w.WriteString(" ")
		l.w.WriteString(right)
	}
	l.w.WriteString("\n")
}

// segment draws one arrow.
func (l *ladder) segment(fromLeft bool, s *wire.TCPSegment, arrived bool) {
	l.flushStates()
	side, other := 0, 1
	if !fromLeft {
		side, other = 1, 0
	}
	if !l.seen[side] {
		l.seen[side], l.base[side], l.high[side] = true, s.Seq, s.Seq
	}
	if s.Flags&wire.ACK != 0 && !l.seen[other] {
		l.seen[other], l.base[other], l.high[other] = true, s.Ack-1, s.Ack
	}
	end := s.Seq.Add(s.SeqLen())
	retrans := s.SeqLen() > 0 && !end.Greater(l.high[side])
	if end.Greater(l.high[side]) {
		l.high[side] = end
	}
	label := l.label(s, side, other)
	if retrans {
		label += " (retransmission)"
	}
	label = " " + label + " "
	room := l.width - 2 // arrow head and tail
	if len(label) > room {
		label = label[:room]
	}
	dashes := room - len(label)
	var mid string
	if fromLeft {
		mid = "-" + label + strings.Repeat("-", dashes) + ">"
		if !arrived {
			mid = "-" + label + strings.Repeat("-", dashes/2) + "X" + strings.Repeat(" ", dashes-dashes/2)
		}
	} else {
		mid = "<" + strings.Repeat("-", dashes) + label + "-"
		if !arrived {
			mid = strings.Repeat(" ", dashes-dashes/2) + "X" + strings.Repeat("-", dashes/2) + label + "-"
		}
	}
	l.line("", "|"+mid+"|", "")
}

func (l *ladder) label(s *wire.TCPSegment, side, other int) string {
	b := make([]byte, 0, 64)
	b = appendFlagNames(b, s.Flags)
	seq, ack := uint32(s.Seq), uint32(s.Ack)
	if !l.abs {
		seq -= uint32(l.base[side])
		ack -= uint32(l.base[other])
	}
	b = append(b, " seq "...)
	b = strconv.AppendUint(b, uint64(seq), 10)
	if s.Flags&wire.ACK != 0 {
		b = append(b, " ack "...)
		b = strconv.AppendUint(b, uint64(ack), 10)
	}
	if n := len(s.Payload); n > 0 {
		b = append(b, " len "...)
		b = strconv.AppendInt(b, int64(n), 10)
	}
	return string(b)
}

// appendFlagNames spells flags as the course does: SYN, SYN,ACK, FIN,ACK,
// PSH,ACK, RST.
func appendFlagNames(b []byte, f wire.TCPFlags) []byte {
	names := [...]struct {
		f    wire.TCPFlags
		name string
	}{{wire.SYN, "SYN"}, {wire.FIN, "FIN"}, {wire.RST, "RST"}, {wire.PSH, "PSH"}, {wire.URG, "URG"}, {wire.ACK, "ACK"}}
	n := len(b)
	for _, x := range names {
		if f&x.f != 0 {
			if len(b) > n {
				b = append(b, ',')
			}
			b = append(b, x.name...)
		}
	}
	if len(b) == n {
		b = append(b, "none"...)
	}
	return b
}
