package trace

import (
	"errors"
	"net/netip"
	"time"

	"github.com/synack-go/synack/wire"
)

// ErrNotTCP is what Capture.Add returns for an IP packet that carries
// something other than TCP: a packet to skip, not an error in the capture.
var ErrNotTCP = errors.New("trace: not a TCP segment")

// Capture rebuilds TCP connections from captured IP packets, as `synack
// trace` does with a pcap file. Each segment becomes the events the two
// ends would have traced (the sender's SegmentOut, then the receiver's
// SegmentIn at the same time), and both ends' states are inferred from the
// segments (see Events), so that a capture of any two TCP stacks can be
// printed by a Text and drawn by WriteLadder, WriteSVG and WriteHTML like a
// synack trace. The zero value is ready to use; a Capture is not safe for
// concurrent use.
//
// A capture point sees a segment once, so nothing in a capture says that
// a segment was lost after it: every segment is drawn as arrived, and a
// retransmission shows what the sender resent.
type Capture struct {
	segs    []capSeg
	first   time.Time
	started bool
	zeros   []byte // the payload stand-in, as in Recorder
	scratch []byte // for packets the snapshot length cut
}

// capSeg is one captured segment.
type capSeg struct {
	at       time.Duration
	src, dst netip.AddrPort
	seg      wire.TCPSegment
}

// Add adds one captured IP packet, captured at ts, whose length on the
// wire was origLen (more than len(pkt) when the snapshot length cut it;
// the missing payload bytes read as zeros). Payload bytes are not kept,
// only their count. Add returns ErrNotTCP for a packet of another
// protocol, and a wire error (wrapping wire.ErrTruncated, ErrMalformed,
// ErrFragment or ErrChecksum for the IPv4 header) for one it cannot parse;
// the packet is then skipped. TCP checksums are not verified: a capture
// taken on the sending host often holds checksums the NIC fills in later.
func (c *Capture) Add(ts time.Time, pkt []byte, origLen int) error {
	if origLen > len(pkt) && origLen <= 0xffff+40 {
		c.scratch = append(append(c.scratch[:0], pkt...), make([]byte, origLen-len(pkt))...)
		pkt = c.scratch
	}
	var ip wire.IPPacket
	if err := wire.ParseIP(pkt, &ip); err != nil {
		return err
	}
	if ip.Protocol != wire.ProtoTCP {
		return ErrNotTCP
	}
	var s capSeg
	if err := s.seg.Parse(wire.TCP(ip.Payload)); err != nil {
		return err
	}
	if !c.started {
		c.first, c.started = ts, true
	}
	s.at = ts.Sub(c.first)
	s.src = netip.AddrPortFrom(ip.Src, s.seg.SrcPort)
	s.dst = netip.AddrPortFrom(ip.Dst, s.seg.DstPort)
	if n := len(s.seg.Payload); n > 0 {
		if n > len(c.zeros) {
			c.zeros = make([]byte, max(n, 2*len(c.zeros)))
		}
		s.seg.Payload = c.zeros[:n:n]
	} else {
		s.seg.Payload = nil
	}
	c.segs = append(c.segs, s)
	return nil
}

// Len returns the number of segments added.
func (c *Capture) Len() int { return len(c.segs) }

// Events returns the events of every connection in the capture, in
// capture order: for each segment, the state changes its sending implies
// on the sender, the sender's SegmentOut, the receiver's SegmentIn, and the
// state changes its arrival implies on the receiver. A segment crossing
// one from the other end (as two FINs of a simultaneous close do) takes
// effect on its receiver only after the receiver sent its own, which it
// sent before the first arrived: the receiver's next segment tells, by not
// acknowledging it. At is the time since the first packet added; Stack is
// empty.
//
// States follow RFC 9293's diagram as the segments show it, with the
// names tcp.State prints: a bare SYN puts its sender in SYN_SENT and its
// receiver from LISTEN in SYN_RECV (or, when both send one, both in
// SYN_RECV: a simultaneous open); an ACK of a SYN establishes; a FIN moves
// its sender to FIN_WAIT1 (or LAST_ACK from CLOSE_WAIT) and its receiver to
// CLOSE_WAIT, CLOSING or TIME_WAIT; the ACK of a FIN moves on to FIN_WAIT2,
// TIME_WAIT or CLOSED; a RST closes both ends. The passive end starts in
// LISTEN if it answers a SYN with a SYN-ACK, in CLOSED if it answers with a
// RST. A connection whose opening the capture missed starts ESTABLISHED on
// both ends, with an empty From. A SYN with a new sequence number after the
// connection ended (a reused 4-tuple) starts a new incarnation. What needs
// a clock, such as the end of TIME_WAIT, is not inferred.
//
// The events share their segments with the Capture: treat them as
// read-only.
func (c *Capture) Events() []Event {
	events := make([]Event, 0, 2*len(c.segs)+len(c.segs)/4)
	plans, next := planIncarnations(c.segs)
	infs := make(map[*incarnation]*inference)
	waiting := make(map[int][]*capSeg) // arrivals that take effect after segment i is sent
	for i := range c.segs {
		s := &c.segs[i]
		inf := infs[plans[i]]
		if inf == nil {
			inf = &inference{}
			infs[plans[i]] = inf
		}
		later := next[i] >= 0 && arrivesLater(&s.seg, &c.segs[next[i]].seg)
		if later {
			waiting[next[i]] = append(waiting[next[i]], s)
		}
		events = inf.segment(events, s, plans[i], waiting[i], later)
		delete(waiting, i)
	}
	return events
}
