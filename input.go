package synack

import (
	"net/netip"

	"github.com/synack-go/synack/inet"
	"github.com/synack-go/synack/tcp"
	"github.com/synack-go/synack/trace"
	"github.com/synack-go/synack/wire"
)

// input runs one packet from the link to completion: the IP header (and
// reassembly for a fragment), then the protocol's input. Every discard is
// counted. checked says the link vouches for the TCP or UDP checksum
// (link.Meta). Data flows one way from here: each protocol's input makes
// one lookup and hands the packet to one owner, whose result it acts on.
func (s *Stack) input(pkt []byte, checked bool, seg *wire.TCPSegment, ev *trace.Event, tx *txBatch) {
	c := &s.ctr
	c.packetsIn.Add(1)
	var ip wire.IPPacket
	err := wire.ParseIP(pkt, &ip)
	if err == wire.ErrFragment {
		if pkt = s.reassemble(pkt, &ip); pkt == nil {
			return // held, or dropped and counted (network.go)
		}
		err = nil
		checked = false // the link vouched for fragments, not for the whole
	}
	if err != nil {
		why := "malformed-ip"
		switch err {
		case wire.ErrChecksum:
			c.checksum.Add(1)
			why = "bad-ip-checksum"
		default:
			c.malformed.Add(1)
		}
		s.traceDrop(netip.AddrPort{}, netip.AddrPort{}, why)
		return
	}
	switch ip.Protocol {
	case wire.ProtoTCP:
		s.inputTCP(pkt, &ip, checked, seg, ev, tx)
	case wire.ProtoUDP:
		s.inputUDP(pkt, &ip, checked, tx) // udp_io.go
	case wire.ProtoICMPv4, wire.ProtoICMPv6:
		if ip.Protocol == wire.ProtoICMPv4 == ip.Dst.Is4() {
			s.inputICMP(&ip, tx) // icmp.go
			return
		}
		fallthrough
	default:
		if !s.isLocal(ip.Dst) {
			s.dropNotForUs(&ip)
			return
		}
		c.protocol.Add(1)
		s.traceDrop(netip.AddrPortFrom(ip.Dst, 0), netip.AddrPortFrom(ip.Src, 0), "protocol")
	}
}

// dropNotForUs counts a packet to an address that is not ours and that no
// forwarder takes.
func (s *Stack) dropNotForUs(ip *wire.IPPacket) {
	s.ctr.notForUs.Add(1)
	s.traceDrop(netip.AddrPortFrom(ip.Dst, 0), netip.AddrPortFrom(ip.Src, 0), "not-for-us")
}

// inputTCP hands a TCP segment to the one owner the lookup finds, in
// Linux's order: the connection of its 4-tuple (any local address: a
// forwarded flow's is the original destination), the TIME_WAIT table,
// then a listener bound to the destination, one on the wildcard address,
// the TCP forwarder; a segment nobody owns gets a RST (RFC 9293
// §3.10.7.1) if it was to one of our addresses.
func (s *Stack) inputTCP(pkt []byte, ip *wire.IPPacket, checked bool, seg *wire.TCPSegment, ev *trace.Event, tx *txBatch) {
	c := &s.ctr
	b := wire.TCP(ip.Payload)
	// The checksum first: a corrupted header should count as corrupted,
	// not as malformed.
	if !checked && !b.VerifyChecksum(ip.Src, ip.Dst) {
		c.checksum.Add(1)
		s.traceDrop(netip.AddrPortFrom(ip.Dst, 0), netip.AddrPortFrom(ip.Src, 0), "bad-checksum")
		return
	}
	if err := seg.Parse(b); err != nil {
		c.malformed.Add(1)
		s.traceDrop(netip.AddrPortFrom(ip.Dst, 0), netip.AddrPortFrom(ip.Src, 0), "malformed")
		return
	}
	key := flowKey{netip.AddrPortFrom(ip.Dst, seg.DstPort), netip.AddrPortFrom(ip.Src, seg.SrcPort)}
	if s.badSource(ip.Src) && !(ip.Src.IsLoopback() && ip.Dst.IsLoopback()) ||
		ip.Src == ip.Dst && seg.SrcPort == seg.DstPort {
		// RFC 1122 §4.2.3.10: no connection from a broadcast or
		// multicast source (our subnets' directed broadcasts included),
		// nor from an unspecified or, on a link, a loopback address; a
		// segment to itself is a LAND attack. Answering any of them
		// would reach everyone, or no one.
		c.badSource.Add(1)
		s.traceDrop(key.local, key.remote, "bad-source")
		return
	}
	if f := seg.Flags; f&wire.SYN != 0 && f&(wire.RST|wire.FIN) != 0 {
		// SYN with RST or FIN means nothing in any state (Linux drops
		// SYN+FIN in LISTEN, the RFC's first check drops a RST): drop it
		// here, whatever it is addressed to, and count it.
		c.badFlags.Add(1)
		s.traceDrop(key.local, key.remote, "bad-flags")
		return
	}
	conn := tx.lookup(key)
	if conn != nil {
		s.countSegIn(key, seg, ev)
		switch conn.input(seg, tx, false) {
		case inputDone:
			return
		case inputNeedsRoom:
			// The ACK that completes a passive handshake: it takes a
			// place in the accept queue, or Linux drops it while the
			// queue is full (tcp_abort_on_overflow = 0): the SYN-ACK is
			// retransmitted and the client's answer may find room later.
			if conn.listener.queueFull() {
				c.acceptDrops.Add(1)
				s.traceDrop(key.local, key.remote, "accept-queue-full")
				return
			}
			if conn.input(seg, tx, true) == inputDone {
				return
			}
		}
		// inputGone: the connection closed meanwhile; the segment is
		// the TIME_WAIT table's or a listener's, as if it had not been.
	}
	local := s.isLocal(ip.Dst)
	if conn == nil {
		if !local && !s.forwardsAnyTCP.Load() {
			s.dropNotForUs(ip)
			return
		}
		s.countSegIn(key, seg, ev)
	}
	var iss tcp.Seq
	if s.tw.n.Load() > 0 {
		var handled bool
		if handled, iss = s.timeWaitInput(key, seg, tx); handled {
			return
		}
	}
	e, m := s.bound(wire.ProtoTCP, key, local)
	switch m {
	case inet.MatchBound, inet.MatchWildcard:
		e.l.input(key, seg, tx, iss)
		return
	case inet.MatchForwarder:
		e.tf.input(key, pkt, ip, seg, tx, iss)
		return
	}
	if !local {
		s.dropNotForUs(ip)
		return
	}
	if seg.Flags&wire.SYN != 0 && seg.Flags&wire.ACK == 0 {
		c.noListener.Add(1)
	} else {
		c.noConn.Add(1)
	}
	s.traceDrop(key.local, key.remote, "no-socket")
	s.replyRST(key, seg, tx)
}

// countSegIn counts and traces a TCP segment that is for us: to one of our
// addresses, or to any once a forwarder takes any.
func (s *Stack) countSegIn(key flowKey, seg *wire.TCPSegment, ev *trace.Event) {
	s.ctr.segsIn.Add(1)
	if seg.Flags&wire.RST != 0 {
		s.ctr.rstsIn.Add(1)
	}
	if s.tracer != nil {
		*ev = trace.Event{Kind: trace.SegmentIn, Local: key.local, Remote: key.remote, Seg: seg}
		s.trace(ev)
		ev.Seg = nil
	}
}

// replyRST answers a segment that reached no connection: RFC 9293
// §3.10.7.1. https://www.rfc-editor.org/rfc/rfc9293#section-3.10.7.1
func (s *Stack) replyRST(key flowKey, seg *wire.TCPSegment, tx *txBatch) {
	if seg.Flags&wire.RST != 0 {
		return
	}
	if !s.strayRSTs.Allow(s.now()) {
		// Every reply to an unacceptable segment is rate-limited: a
		// stream of strays, perhaps with a victim's source address, draws
		// out no more than Options.InvalidReplyLimit RSTs a second.
		s.ctr.rstsLimited.Add(1)
		return
	}
	if tcp.ReplyRST(seg, &tx.scratch) {
		tx.to(key.local.Addr(), key.remote.Addr())
		tx.Emit(&tx.scratch)
	}
}
