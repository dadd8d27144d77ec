package trace

import (
	"errors"
	"net/netip"
	"strconv"
	"time"

	"github.com/synack-go/synack/wire"
)

// Conn names one connection by its two endpoints. Left is the endpoint that
// sent the connection's first traced segment (the client of an ordinary
// open); the ladder diagrams draw it on the left.
type Conn struct {
	Left, Right netip.AddrPort
}

// String returns the endpoints as "10.0.0.1:49152-10.0.0.2:80", the form
// ParseConn reads.
func (c Conn) String() string { return c.Left.String() + "-" + c.Right.String() }

// Has reports whether e belongs to c, seen from either end.
func (c Conn) Has(e *Event) bool {
	return e.Local == c.Left && e.Remote == c.Right || e.Local == c.Right && e.Remote == c.Left
}

// ParseConn parses a connection written as two endpoints, "ip:port-ip:port"
// or "ip:port,ip:port" (IPv6 addresses in brackets, "[2001:db8::1]:80"),
// in either order. It returns an error for anything else.
func ParseConn(s string) (Conn, error) {
	for i := range len(s) {
		if s[i] != '-' && s[i] != ',' {
			continue
		}
		l, errL := netip.ParseAddrPort(s[:i])
		r, errR := netip.ParseAddrPort(s[i+1:])
		if errL == nil && errR == nil {
			return Conn{l, r}, nil
		}
	}
	return Conn{}, errors.New("trace: connection " + strconv.Quote(s) + " is not ip:port-ip:port")
}

// Same reports whether c and d name the same connection, in either order.
func (c Conn) Same(d Conn) bool {
	return c == d || c.Left == d.Right && c.Right == d.Left
}

// Conns returns the connections that events' segments belong to, in the
// order of their first segment. A connection whose first traced segment is
// a SegmentIn has the segment's sender on the left.
func Conns(events []Event) []Conn {
	var conns []Conn
	seen := make(map[Conn]bool)
	for i := range events {
		e := &events[i]
		if e.Seg == nil || !e.Local.IsValid() || !e.Remote.IsValid() || e.Kind != SegmentIn && e.Kind != SegmentOut {
			continue
		}
		c := Conn{e.Local, e.Remote}
		if e.Kind == SegmentIn {
			c = Conn{e.Remote, e.Local}
		}
		if seen[c] || seen[Conn{c.Right, c.Left}] {
			continue
		}
		seen[c] = true
		conns = append(conns, c)
	}
	return conns
}

// rowKind says what one row of a diagram shows.
type rowKind uint8

const (
	rowSend   rowKind = iota // a segment leaves one side: an arrow starts
	rowArrive                // a traced segment arrives: an arrow ends
	rowState                 // one side enters a state
	rowNote                  // a timer fires or a segment is dropped on one side
)

// row is one line of a diagram, in event order. Time runs down the rows.
type row struct {
	kind  rowKind
	lane  int    // index of the connection in diagram.conns
	left  bool   // the side: the sender of rowSend, the receiver of rowArrive, else the side it happened on
	ev    *Event // the event shown
	arrow int    // rowSend and rowArrive: index in diagram.arrows
	// hoisted is a LISTEN drawn at the top of its connection, before the
	// events that came first (see listenFirst): it has no time to show.
	hoisted bool
	// text replaces a note's usual text (see probeNote).
	text string
}

// arrow is one segment of a diagram.
type arrow struct {
	lane     int
	fromLeft bool
	ev       *Event // the SegmentOut, or the SegmentIn of a segment whose sending was not traced
	send     int    // row where it leaves
	arrive   int    // row where it arrives: send when the sending was not traced; -1 if lost
	retrans  bool   // it carries sequence space already sent
	dupAck   bool   // a duplicate ACK (RFC 5681 §2)
	winUp    bool   // a window update: a bare ACK that moves only the window
	seq, ack uint32 // relative to each side's initial sequence number (unless Absolute)
}

// diagram is what the ladder renderers (text, SVG, HTML) draw: the
// connections side by side, and rows of arrows, states and notes.
type diagram struct {
	conns  []Conn
	rows   []row
	arrows []arrow
	start  time.Duration // the earliest At of the events drawn
	abs    bool
}

// segKey identifies a segment well enough to pair its SegmentOut with its
// SegmentIn: everything a receiver can tell two segments apart by, but
// their payload bytes. A retransmission shares the key of the original;
// duplicate ACKs that carry different SACK blocks or windows do not share
// one.
type segKey struct {
	from, to   netip.AddrPort
	seq, ack   wire.Seq
	flags      wire.TCPFlags
	window     uint16
	payloadLen int
	numSACK    int
	sack       [wire.MaxSACKBlocks]wire.SACKBlock
}

func keyOf(from, to netip.AddrPort, s *wire.TCPSegment) segKey {
	k := segKey{from: from, to: to, seq: s.Seq, ack: s.Ack, flags: s.Flags, window: s.Window,
		payloadLen: len(s.Payload), numSACK: s.Options.NumSACK}
	copy(k.sack[:], s.Options.SACK[:min(max(s.Options.NumSACK, 0), wire.MaxSACKBlocks)])
	return k
}

// matchSent picks which of the unmatched identical SegmentOuts q (oldest
// first) a SegmentIn is, and returns its index in q. Identical segments
// arrive in the order they were sent, as on any link that does not
// reorder: three identical duplicate ACKs arrive first, second, third.
// The exception is a segment that carries sequence space (data, SYN, FIN)
// and was sent again before this arrival: the sender resends only what it
// takes for lost, so the copy that arrives is the latest, and the earlier
// ones end in a cross.
func matchSent(q []int, seqLen uint32) int {
	if seqLen > 0 {
		return len(q) - 1
	}
	return 0
}

// buildDiagram lays out the connections of events that opts selects.
//
// An arrow ends where its SegmentIn is traced. A SegmentOut that no
// SegmentIn matches was lost on the link and ends in a cross, unless the
// receiving end of its connection has no SegmentIn traced at all (its
// stack was not traced), in which case nothing says it was lost. Each
// SegmentIn matches an unmatched identical SegmentOut sent before it (see
// matchSent): the oldest, or for a resent segment the latest.
func buildDiagram(events []Event, opts *LadderOptions) (*diagram, error) {
	all := Conns(events)
	var conns []Conn
	if len(opts.Conns) == 0 {
		conns = all
	} else {
		for _, c := range all {
			for _, want := range opts.Conns {
				if c.Same(want) {
					conns = append(conns, c)
					break
				}
			}
		}
	}
	if len(conns) == 0 {
		return nil, errNoConn
	}
	d := &diagram{conns: conns, abs: opts.Absolute}
	laneOf := func(e *Event) (lane int, left bool, ok bool) {
		for i, c := range conns {
			if c.Has(e) {
				return i, e.Local == c.Left, true
			}
		}
		return 0, false, false
	}
	// The ends of connections with a SegmentIn traced, as {local, remote}.
	receivers := make(map[Conn]bool)
	for i := range events {
		if events[i].Kind == SegmentIn && events[i].Seg != nil {
			receivers[Conn{events[i].Local, events[i].Remote}] = true
		}
	}
	unmatched := make(map[segKey][]int)           // SegmentOut arrows not arrived yet
	lastSent := make(map[[2]int]*wire.TCPSegment) // per lane and side: its last segment sent
	first := true
	order, hoisted := listenFirst(events, laneOf)
	for _, i := range order {
		e := &events[i]
		lane, left, ok := laneOf(e)
		if !ok {
			continue
		}
		if first || e.At < d.start {
			d.start, first = e.At, false
		}
		r := row{lane: lane, left: left, ev: e, hoisted: hoisted[i]}
		switch {
		case e.Kind == SegmentOut && e.Seg != nil:
			lastSent[[2]int{lane, sideIdx(left)}] = e.Seg
			r.kind, r.arrow = rowSend, len(d.arrows)
			a := arrow{lane: lane, fromLeft: left, ev: e, send: len(d.rows), arrive: -1}
			if !receivers[Conn{e.Remote, e.Local}] {
				a.arrive = a.send
			} else {
				k := keyOf(e.Local, e.Remote, e.Seg)
				unmatched[k] = append(unmatched[k], r.arrow)
			}
			d.arrows = append(d.arrows, a)
		case e.Kind == SegmentIn && e.Seg != nil:
			k := keyOf(e.Remote, e.Local, e.Seg)
			if q := unmatched[k]; len(q) > 0 {
				m := matchSent(q, e.Seg.SeqLen())
				j := q[m]
				unmatched[k] = append(q[:m], q[m+1:]...)
				d.arrows[j].arrive = len(d.rows)
				r.kind, r.arrow = rowArrive, j
			} else {
				// Its sending was not traced: the arrow starts and ends here.
				r.kind, r.arrow, r.left = rowSend, len(d.arrows), !left
				d.arrows = append(d.arrows, arrow{lane: lane, fromLeft: !left, ev: e, send: len(d.rows), arrive: len(d.rows)})
			}
		case e.Kind == StateChange:
			r.kind = rowState
		case e.Kind == Timer || e.Kind == Drop:
			r.kind = rowNote
			if len(d.rows) > 0 {
				r.text = probeNote(e, &d.rows[len(d.rows)-1], lastSent[[2]int{lane, sideIdx(left)}])
			}
		default:
			continue
		}
		d.rows = append(d.rows, r)
	}
	d.number()
	return d, nil
}

// listenFirst returns the order in which to draw events: as they come,
// except that a side whose first state is LISTEN shows it at the top of
// its connection. A stack makes a connection's passive end when the SYN
// arrives, so it traces LISTEN then; the listening socket was there
// before, which is how the course's figures draw it.
// hoisted holds the events moved up.
func listenFirst(events []Event, laneOf func(*Event) (int, bool, bool)) (order []int, hoisted map[int]bool) {
	order = make([]int, 0, len(events))
	hoisted = make(map[int]bool)
	start := make(map[int]int)   // lane -> position in order of its first event
	stated := make(map[int]bool) // lane*2+side -> a state was seen
	for i := range events {
		e := &events[i]
		lane, left, ok := laneOf(e)
		if !ok {
			order = append(order, i)
			continue
		}
		if _, seen := start[lane]; !seen {
			start[lane] = len(order)
		}
		if e.Kind != StateChange {
			order = append(order, i)
			continue
		}
		side := lane * 2
		if left {
			side++
		}
		if !stated[side] && e.To == "LISTEN" {
			at := start[lane]
			order = append(order[:at], append([]int{i}, order[at:]...)...)
			for l, p := range start {
				if l != lane && p >= at {
					start[l] = p + 1
				}
			}
			hoisted[i] = true
		} else {
			order = append(order, i)
		}
		stated[side] = true
	}
	return order, hoisted
}

// number marks retransmissions and duplicate ACKs and computes each
// arrow's relative numbers. Each side's base is its initial sequence
// number: the seq of its first segment, or the ack - 1 of the other side's
// first ACK.
func (d *diagram) number() {
	type sideState struct {
		base, high wire.Seq
		seen       bool
		bareSYN    bool     // its last segment was a SYN without ACK
		lastAck    wire.Seq // of its last bare ACK, and that ACK's window
		lastWin    uint16
		acked      bool
	}
	sides := make([][2]sideState, len(d.conns))
	for i := range d.arrows {
		a := &d.arrows[i]
		s := a.ev.Seg
		me, other := 0, 1
		if !a.fromLeft {
			me, other = 1, 0
		}
		st := &sides[a.lane]
		if isBare := s.Flags&(wire.SYN|wire.ACK) == wire.SYN; isBare && st[me].seen && s.Seq != st[me].base {
			st[me], st[other] = sideState{}, sideState{} // a new incarnation
		}
		if !st[me].seen {
			st[me] = sideState{base: s.Seq, high: s.Seq, seen: true}
		}
		if s.Flags&wire.ACK != 0 && !st[other].seen {
			st[other] = sideState{base: s.Ack - 1, high: s.Ack, seen: true}
		}
		end := s.Seq.Add(s.SeqLen())
		// A SYN-ACK answering the other side's SYN repeats our SYN in a
		// simultaneous open (RFC 9293 Figure 8): not a retransmission.
		answer := s.Flags&(wire.SYN|wire.ACK) == wire.SYN|wire.ACK && st[me].bareSYN
		a.retrans = s.SeqLen() > 0 && !end.Greater(st[me].high) && !answer
		if end.Greater(st[me].high) {
			st[me].high = end
		}
		st[me].bareSYN = s.Flags&(wire.SYN|wire.ACK) == wire.SYN
		if s.Flags&(wire.SYN|wire.FIN|wire.RST|wire.ACK) == wire.ACK && len(s.Payload) == 0 {
			// RFC 5681 §2: no data, window unchanged, the ack not moving,
			// and data outstanding from the other side.
			a.dupAck = st[me].acked && s.Ack == st[me].lastAck && s.Window == st[me].lastWin && st[other].high.Greater(s.Ack)
			a.winUp = st[me].acked && s.Ack == st[me].lastAck && s.Window != st[me].lastWin
			st[me].lastAck, st[me].lastWin, st[me].acked = s.Ack, s.Window, true
		} else if s.Flags&wire.ACK != 0 {
			st[me].acked = false
		}
		a.seq, a.ack = uint32(s.Seq), uint32(s.Ack)
		if !d.abs {
			a.seq -= uint32(st[me].base)
			a.ack -= uint32(st[other].base)
		}
	}
}

// label is the text an arrow carries: flags, seq, ack and length, as the
// course writes them ("SYN,ACK seq 0 ack 1", "PSH,ACK seq 1 ack 1 len 5").
func (a *arrow) label() string {
	s := a.ev.Seg
	b := make([]byte, 0, 64)
	b = appendFlagNames(b, s.Flags)
	b = append(b, " seq "...)
	b = strconv.AppendUint(b, uint64(a.seq), 10)
	if s.Flags&wire.ACK != 0 {
		b = append(b, " ack "...)
		b = strconv.AppendUint(b, uint64(a.ack), 10)
	}
	if n := len(s.Payload); n > 0 {
		b = append(b, " len "...)
		b = strconv.AppendInt(b, int64(n), 10)
	}
	if s.Flags&(wire.SYN|wire.FIN|wire.RST) == 0 && len(s.Payload) == 0 && (s.Window == 0 || a.winUp) {
		b = append(b, " win "...)
		b = strconv.AppendUint(b, uint64(s.Window), 10)
	}
	switch {
	case a.retrans:
		b = append(b, " (retransmission)"...)
	case a.dupAck:
		b = append(b, " (dup ACK)"...)
	case a.winUp && s.Window != 0:
		b = append(b, " (window update)"...)
	}
	return string(b)
}

// tcpdump returns the arrow's segment as a tcpdump -n line, numbered as
// the label is (relative to each side's ISN, unless Absolute), so that a
// drawing of a run with random ISNs is the same every time.
func (a *arrow) tcpdump() string {
	e := a.ev
	src, dst := e.Local, e.Remote
	if e.Kind == SegmentIn {
		src, dst = e.Remote, e.Local
	}
	return string(appendTCP(nil, src.Addr(), dst.Addr(), e.Seg, a.seq, a.ack, uint32(e.Seg.Ack)-a.ack))
}

// note is the text of a rowNote: "timer retransmit", "drop no-socket".
func (r *row) note() string {
	if r.text != "" {
		return r.text
	}
	if r.ev.Kind == Timer {
		return "timer " + r.ev.Why
	}
	return "drop " + r.ev.Why
}

// probeNote returns what to say instead of "drop out-of-window" when the
// segment dropped (the one that just arrived, prev) is a zero-window or
// keepalive probe: an ACK one below the next byte expected, which the
// receiver must answer with an ACK carrying its window (RFC 9293
// §3.8.6.1, RFC 1122 §4.2.3.6). That is no error. ours is the dropping
// side's last segment sent, whose ack and window tell. Else "".
func probeNote(e *Event, prev *row, ours *wire.TCPSegment) string {
	if e.Kind != Drop || e.Why != "out-of-window" || ours == nil || prev.ev == nil ||
		prev.kind != rowArrive && prev.kind != rowSend || prev.ev.Seg == nil || prev.ev.Local != e.Local {
		return ""
	}
	s := prev.ev.Seg
	if s.Flags&(wire.SYN|wire.FIN|wire.RST|wire.ACK) != wire.ACK || len(s.Payload) > 1 || s.Seq.Add(1) != ours.Ack {
		return ""
	}
	return ProbeNote(ours.Window)
}

// ProbeNote is how traces name a probe the receiver answered: "zero-window
// probe, answered with window 0" when its window (win, as last sent) is
// closed, else "keepalive probe, answered with an ACK".
func ProbeNote(win uint16) string {
	if win == 0 {
		return "zero-window probe, answered with window 0"
	}
	return "keepalive probe, answered with an ACK"
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
