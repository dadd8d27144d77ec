package trace

import (
	"net/netip"

	"github.com/synack-go/synack/tcp"
	"github.com/synack-go/synack/wire"
)

// incarnation is what a first pass over a capture learns about one
// incarnation of a 4-tuple, so that the second can tell each end's
// initial state: the passive end was in LISTEN only if it answers with a
// SYN-ACK, and in CLOSED if it answers with a RST or opens itself.
type incarnation struct {
	first *capSeg
	ep    [2]netip.AddrPort // the first segment's sender, then its receiver
	sends [2]struct{ bareSYN, synAck, rst bool }
}

// side returns the index in ep of endpoint a.
func (p *incarnation) side(a netip.AddrPort) int {
	if a == p.ep[0] {
		return 0
	}
	return 1
}

// isBareSYN reports a SYN without ACK: an active open.
func isBareSYN(s *wire.TCPSegment) bool { return s.Flags&(wire.SYN|wire.ACK) == wire.SYN }

// planIncarnations returns, for each segment, the incarnation of its
// 4-tuple it belongs to, and the index of the next segment the other end
// sends in that incarnation (-1 if none). A bare SYN starts a new
// incarnation when its sender already opened this one with another
// sequence number, or when the incarnation has carried data, a FIN or a
// RST.
func planIncarnations(segs []capSeg) (plans []*incarnation, next []int) {
	type state struct {
		cur      *incarnation
		synSeq   [2]wire.Seq
		synSeen  [2]bool
		progress bool
	}
	plans = make([]*incarnation, len(segs))
	next = make([]int, len(segs))
	last := make(map[*incarnation]*[2][]int) // segments waiting for the other end's next one
	byConn := make(map[Conn]*state)
	for i := range segs {
		s := &segs[i]
		k := Conn{s.src, s.dst}
		st := byConn[k]
		if st == nil {
			st = byConn[Conn{s.dst, s.src}]
		}
		if st == nil {
			st = &state{}
			byConn[k] = st
		}
		bare := isBareSYN(&s.seg)
		if st.cur != nil && bare {
			me := st.cur.side(s.src)
			if st.progress || st.synSeen[me] && st.synSeq[me] != s.seg.Seq {
				st.cur = nil
			}
		}
		if st.cur == nil {
			*st = state{cur: &incarnation{first: s, ep: [2]netip.AddrPort{s.src, s.dst}}}
		}
		p := st.cur
		me := p.side(s.src)
		f := s.seg.Flags
		switch {
		case bare:
			p.sends[me].bareSYN = true
			st.synSeq[me], st.synSeen[me] = s.seg.Seq, true
		case f&(wire.SYN|wire.ACK) == wire.SYN|wire.ACK:
			p.sends[me].synAck = true
		}
		if f&wire.RST != 0 {
			p.sends[me].rst = true
		}
		if f&(wire.FIN|wire.RST) != 0 || len(s.seg.Payload) > 0 {
			st.progress = true
		}
		plans[i] = p
		next[i] = -1
		w := last[p]
		if w == nil {
			w = new([2][]int)
			last[p] = w
		}
		for _, j := range w[1-me] {
			next[j] = i
		}
		w[1-me] = w[1-me][:0]
		w[me] = append(w[me], i)
	}
	return plans, next
}

// arrivesLater reports whether the end that sent n, the next segment after
// s in the other direction, had not yet received s when it sent n, so that
// s's arrival must take effect after n's sending: n does not acknowledge
// all of s's sequence space (crossing SYNs, crossing FINs), or s
// acknowledges and n is still a SYN (n's sender was still opening).
func arrivesLater(s, n *wire.TCPSegment) bool {
	if l := s.SeqLen(); l > 0 && (n.Flags&wire.ACK == 0 || !n.Ack.Greater(s.Seq.Add(l-1))) {
		return true
	}
	return s.Flags&wire.ACK != 0 && n.Flags&wire.SYN != 0
}

// stUnknown is an end whose state nothing has shown yet.
const stUnknown = tcp.State(255)

// inferSide is one end of a connection as the inference sees it.
type inferSide struct {
	ep      netip.AddrPort
	st      tcp.State
	iss     wire.Seq
	issSet  bool
	finSent bool
	finSeq  wire.Seq // the sequence number of its FIN
	finRcvd bool     // its peer's FIN has reached it
}

// inference runs RFC 9293's state diagram for both ends of one 4-tuple,
// driven by the segments between them.
type inference struct {
	cur   *incarnation
	sides [2]inferSide
	out   []Event
	at    *capSeg
}

// set moves side i to state to, recording the change; no change, no event.
func (in *inference) set(i int, to tcp.State, why string) {
	s := &in.sides[i]
	if s.st == to {
		return
	}
	from := ""
	if s.st != stUnknown {
		from = s.st.String()
	}
	s.st = to
	in.out = append(in.out, Event{Kind: StateChange, At: in.at.at, Local: s.ep, Remote: in.sides[1-i].ep,
		From: from, To: to.String(), Why: why})
}

// start resets both ends for a new incarnation and records their initial
// states, as far as the incarnation shows them.
func (in *inference) start(p *incarnation) {
	in.cur = p
	for i := range in.sides {
		in.sides[i] = inferSide{ep: p.ep[i], st: stUnknown}
	}
	f := p.first.seg.Flags
	switch {
	case isBareSYN(&p.first.seg):
		in.sides[0].st = tcp.StateClosed // its SYN shows CLOSED -> SYN_SENT
		switch peer := p.sends[1]; {
		case peer.bareSYN:
			in.sides[1].st = tcp.StateClosed // a simultaneous open
		case peer.synAck:
			in.set(1, tcp.StateListen, "listening")
		case peer.rst:
			in.set(1, tcp.StateClosed, "nobody listening")
		}
	case f&(wire.SYN|wire.ACK) == wire.SYN|wire.ACK:
		in.set(0, tcp.StateSynReceived, "capture began after the SYN")
		in.set(1, tcp.StateSynSent, "capture began after the SYN")
	default:
		in.set(0, tcp.StateEstablished, "capture began mid-connection")
		in.set(1, tcp.StateEstablished, "capture began mid-connection")
	}
}

// segment appends to events what segment s implies: the sender's state
// changes, SegmentOut, SegmentIn, then the state changes of the arrivals
// at the sender that wait for this segment (see arrivesLater), then the
// receiver's, unless later reports that s's arrival waits.
func (in *inference) segment(events []Event, s *capSeg, p *incarnation, waiting []*capSeg, later bool) []Event {
	in.out, in.at = events, s
	if p != in.cur {
		in.start(p)
	}
	a := p.side(s.src)
	in.sent(a, &s.seg)
	seg := &s.seg
	in.out = append(in.out,
		Event{Kind: SegmentOut, At: s.at, Local: s.src, Remote: s.dst, Seg: seg},
		Event{Kind: SegmentIn, At: s.at, Local: s.dst, Remote: s.src, Seg: seg})
	for _, w := range waiting {
		in.received(a, &w.seg)
	}
	if !later {
		in.received(1-a, seg)
	}
	events, in.out, in.at = in.out, nil, nil
	return events
}

// sent applies to side i what sending seg means.
func (in *inference) sent(i int, seg *wire.TCPSegment) {
	me := &in.sides[i]
	f := seg.Flags
	if f&wire.SYN != 0 && !me.issSet {
		me.iss, me.issSet = seg.Seq, true
	}
	switch {
	case f&wire.RST != 0:
		if me.st != tcp.StateListen {
			in.set(i, tcp.StateClosed, "sent RST")
		}
		return
	case isBareSYN(seg):
		switch me.st {
		case stUnknown, tcp.StateClosed, tcp.StateTimeWait:
			in.set(i, tcp.StateSynSent, "sent SYN")
		}
	case f&wire.SYN != 0: // SYN-ACK
		switch me.st {
		case stUnknown, tcp.StateClosed, tcp.StateListen:
			in.set(i, tcp.StateSynReceived, "sent SYN-ACK")
		}
	}
	if f&wire.FIN != 0 && !me.finSent {
		me.finSent, me.finSeq = true, seg.Seq.Add(uint32(len(seg.Payload)))
		switch me.st {
		case tcp.StateEstablished, tcp.StateSynReceived:
			in.set(i, tcp.StateFinWait1, "sent FIN")
		case tcp.StateCloseWait:
			in.set(i, tcp.StateLastAck, "sent FIN")
		}
	}
}

// received applies to side i what the arrival of seg means.
func (in *inference) received(i int, seg *wire.TCPSegment) {
	me := &in.sides[i]
	f := seg.Flags
	if f&wire.RST != 0 {
		switch me.st {
		case tcp.StateListen, tcp.StateClosed, stUnknown:
		default:
			in.set(i, tcp.StateClosed, "rcvd RST")
		}
		return
	}
	switch {
	case isBareSYN(seg):
		switch me.st {
		case tcp.StateListen:
			in.set(i, tcp.StateSynReceived, "rcvd SYN")
		case tcp.StateSynSent:
			in.set(i, tcp.StateSynReceived, "rcvd SYN: simultaneous open")
		}
	case f&wire.SYN != 0: // SYN-ACK
		switch me.st {
		case tcp.StateSynSent, tcp.StateSynReceived:
			in.set(i, tcp.StateEstablished, "rcvd SYN-ACK")
		}
	}
	if f&wire.ACK != 0 && f&wire.SYN == 0 {
		if me.st == tcp.StateSynReceived && me.issSet && seg.Ack.Greater(me.iss) {
			in.set(i, tcp.StateEstablished, "rcvd ACK")
		}
		if me.finSent && seg.Ack.Greater(me.finSeq) {
			switch me.st {
			case tcp.StateFinWait1:
				in.set(i, tcp.StateFinWait2, "our FIN acked")
			case tcp.StateClosing:
				in.set(i, tcp.StateTimeWait, "our FIN acked")
			case tcp.StateLastAck:
				in.set(i, tcp.StateClosed, "our FIN acked")
			}
		}
	}
	if f&wire.FIN != 0 && !me.finRcvd {
		me.finRcvd = true
		switch me.st {
		case tcp.StateEstablished, tcp.StateSynReceived:
			in.set(i, tcp.StateCloseWait, "rcvd FIN")
		case tcp.StateFinWait1:
			in.set(i, tcp.StateClosing, "rcvd FIN: simultaneous close")
		case tcp.StateFinWait2:
			in.set(i, tcp.StateTimeWait, "rcvd FIN")
		}
	}
}
