package synack

import (
	"net/netip"

	"github.com/synack-go/synack/tcp"
	"github.com/synack-go/synack/trace"
	"github.com/synack-go/synack/wire"
)

// deliver parses one packet and hands its segment to its connection, to
// its listener, or answers it with a RST (RFC 9293 §3.10.7.1); ICMP goes to
// deliverICMP. Every discard is counted. checked says the link vouches for
// the TCP or UDP checksum (link.Meta).
func (s *Stack) deliver(pkt []byte, checked bool, seg *wire.TCPSegment, ev *trace.Event, tx *txBatch) {
	c := &s.ctr
	c.packetsIn.Add(1)
	var ip wire.IPPacket
	err := wire.ParseIP(pkt, &ip)
	if err == wire.ErrFragment {
		if pkt = s.reassemble(pkt, &ip); pkt == nil {
			return // held, or dropped and counted (netlayer.go)
		}
		err = nil
	}
	if err != nil {
		why := "malformed-ip"
		switch err {
		case wire.ErrFragment:
			c.fragment.Add(1)
			why = "fragment"
		case wire.ErrChecksum:
			c.checksum.Add(1)
			why = "bad-ip-checksum"
		default:
			c.malformed.Add(1)
		}
		s.traceDrop(netip.AddrPort{}, netip.AddrPort{}, why)
		return
	}
	if ip.Protocol == wire.ProtoUDP {
		s.deliverUDP(pkt, &ip, checked, tx) // any destination: a forwarder may take it
		return
	}
	if !s.isLocal(ip.Dst) {
		c.notForUs.Add(1)
		s.traceDrop(netip.AddrPortFrom(ip.Dst, 0), netip.AddrPortFrom(ip.Src, 0), "not-for-us")
		return
	}
	if ip.Protocol != wire.ProtoTCP {
		if ip.Protocol == wire.ProtoICMPv4 && ip.Dst.Is4() || ip.Protocol == wire.ProtoICMPv6 && ip.Dst.Is6() {
			s.deliverICMP(&ip, tx)
			return
		}
		c.protocol.Add(1)
		s.traceDrop(netip.AddrPortFrom(ip.Dst, 0), netip.AddrPortFrom(ip.Src, 0), "protocol")
		return
	}
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
	if s.badSource(ip.Src) && !(ip.Src.IsLoopback() && ip.Dst.IsLoopback()) ||
		ip.Src == ip.Dst && seg.SrcPort == seg.DstPort {
		// RFC 1122 §4.2.3.10: no connection from a broadcast or
		// multicast source (our subnets' directed broadcasts included),
		// nor from an unspecified or, on a link, a loopback address; a
		// segment to itself is a LAND attack. Answering any of them
		// would reach everyone, or no one.
		c.badSource.Add(1)
		s.traceDrop(netip.AddrPortFrom(ip.Dst, seg.DstPort), netip.AddrPortFrom(ip.Src, seg.SrcPort), "bad-source")
		return
	}
	if f := seg.Flags; f&wire.SYN != 0 && f&(wire.RST|wire.FIN) != 0 {
		// SYN with RST or FIN means nothing in any state (Linux drops
		// SYN+FIN in LISTEN, the RFC's first check drops a RST): drop it
		// here, whatever it is addressed to, and count it.
		c.badFlags.Add(1)
		s.traceDrop(netip.AddrPortFrom(ip.Dst, seg.DstPort), netip.AddrPortFrom(ip.Src, seg.SrcPort), "bad-flags")
		return
	}
	key := flowKey{netip.AddrPortFrom(ip.Dst, seg.DstPort), netip.AddrPortFrom(ip.Src, seg.SrcPort)}
	c.segsIn.Add(1)
	if seg.Flags&wire.RST != 0 {
		c.rstsIn.Add(1)
	}
	if s.tracer != nil {
		*ev = trace.Event{Kind: trace.SegmentIn, Local: key.local, Remote: key.remote, Seg: seg}
		s.trace(ev)
		ev.Seg = nil
	}
	var iss tcp.Seq
	if conn := tx.lookup(key); conn != nil {
		if conn.input(seg, tx) {
			return
		}
	} else if s.tw.n.Load() > 0 {
		var handled bool
		if handled, iss = s.timeWaitInput(key, seg, tx); handled {
			return
		}
	}
	if l := s.listenerFor(key.local); l != nil {
		l.input(key, seg, tx, iss)
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
