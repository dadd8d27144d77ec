package synack

import (
	"net/netip"

	"github.com/synack-go/synack/inet"
	"github.com/synack-go/synack/wire"
)

// dropICMP counts and traces an ICMP message the stack does not act on.
func (s *Stack) dropICMP(r inet.ICMPDrop, local, remote netip.AddrPort) {
	s.ctr.icmpDrops[r].Add(1)
	s.traceDrop(local, remote, r.String())
}

// inputICMP handles an ICMPv4 or ICMPv6 message (ip.Protocol matches ip's
// version), checked and classified by inet.Layer.ParseICMP: echo requests
// to our addresses are answered (RFC 1122 §3.2.2.6, RFC 4443 §4.1); errors
// about our TCP segments and UDP datagrams go to their flow (icmperror.go),
// whatever address they came to, since a forwarded flow's packets leave
// from the address its client dialled; the rest is counted and dropped.
// No ICMP message, error or not, ever gets an error in answer (RFC 1122
// §3.2.2, RFC 4443 §2.4 (e)).
func (s *Stack) inputICMP(ip *wire.IPPacket, tx *txBatch) {
	local, remote := netip.AddrPortFrom(ip.Dst, 0), netip.AddrPortFrom(ip.Src, 0)
	isLocal := s.isLocal(ip.Dst)
	if !isLocal && !s.forwardsAnyTCP.Load() && !s.forwardsAnyUDP.Load() {
		s.dropNotForUs(ip)
		return
	}
	var in inet.ICMPIn
	why, ok := s.ip.ParseICMP(ip, &in)
	if !isLocal && (!ok || in.Action == inet.ICMPEcho) {
		// To an address not ours, only an error about a forwarded flow
		// means anything: echo requests are a forwarder's client pinging
		// the world.
		s.dropNotForUs(ip)
		return
	}
	s.ctr.icmpIn.Add(1)
	if !ok {
		s.dropICMP(why, local, remote)
		return
	}
	if in.Action == inet.ICMPEcho {
		if s.echoes != nil && !s.echoes.allow(s.now()) {
			s.ctr.icmpEchoLimited.Add(1)
			s.traceDrop(local, remote, "icmp-rate-limited")
			return
		}
		tx.emitEchoReply(ip, &in.Msg)
		return
	}
	s.icmpError(&in, tx)
}

// emitEchoReply answers the echo request m, which came from ip.Src to
// ip.Dst (one of our addresses), with a reply from ip.Dst carrying the same
// identifier, sequence number and data: RFC 792, RFC 1122 §3.2.2.6 (IP
// options are not echoed), RFC 4443 §4.2.
func (b *txBatch) emitEchoReply(ip *wire.IPPacket, m *wire.ICMPMessage) {
	buf := b.next()
	hl := wire.IPHeaderLen(ip.Src)
	n := m.Len()
	if hl+n > len(buf) {
		b.s.ctr.tooBig.Add(1) // cannot happen: the request fit the link
		return
	}
	reply := *m
	reply.Code = 0
	if ip.Src.Is6() {
		reply.Type = wire.ICMPv6EchoReply
		wire.PutIPHeader(buf, ip.Dst, ip.Src, wire.ProtoICMPv6, n, ipTTL)
		reply.EmitV6(buf[hl:], ip.Dst, ip.Src)
	} else {
		reply.Type = wire.ICMPv4EchoReply
		wire.PutIPHeader(buf, ip.Dst, ip.Src, wire.ProtoICMPv4, n, ipTTL)
		reply.EmitV4(buf[hl:])
	}
	b.commit(hl + n)
	b.s.ctr.echoes.Add(1)
	b.s.ctr.icmpOut.Add(1)
}
