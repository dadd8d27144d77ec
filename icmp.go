package synack

import (
	"net/netip"
	"syscall"

	"github.com/synack-go/synack/wire"
)

// icmpDrop is why the stack did not act on an ICMP message: it indexes
// counters.icmpDrops (Stats.Drops.ICMP) and names the trace event.
type icmpDrop uint8

const (
	icmpMalformed icmpDrop = iota
	icmpChecksum
	icmpBadSource
	icmpIgnored
	icmpNoConn
	icmpOutOfWindow
	icmpRateLimited
	numICMPDrops
)

var icmpDropNames = [numICMPDrops]string{
	icmpMalformed:   "icmp-malformed",
	icmpChecksum:    "icmp-bad-checksum",
	icmpBadSource:   "icmp-bad-source",
	icmpIgnored:     "icmp-ignored",
	icmpNoConn:      "icmp-no-conn",
	icmpOutOfWindow: "icmp-out-of-window",
	icmpRateLimited: "icmp-rate-limited",
}

// dropICMP counts and traces an ICMP message the stack does not act on.
func (s *Stack) dropICMP(r icmpDrop, local, remote netip.AddrPort) {
	s.ctr.icmpDrops[r].Add(1)
	s.traceDrop(local, remote, icmpDropNames[r])
}

// icmpAction is what an ICMP message asks of the stack.
type icmpAction uint8

const (
	icmpIgnore icmpAction = iota
	icmpEcho              // answer with an echo reply
	icmpSoft              // a soft error for the connection: tcp.TCB.SoftError
	icmpHard              // a hard error: tcp.TCB.HardError
	icmpTooBig            // a smaller path MTU: tcp.TCB.LowerMTU
)

// deliverICMP handles an ICMPv4 or ICMPv6 message to one of our addresses
// (ip.Protocol matches ip's version): echo requests are answered (RFC 1122
// §3.2.2.6, RFC 4443 §4.1), errors about our TCP segments go to their
// connection (icmperror.go), and the rest is counted and dropped. The stack
// sends no ICMP error of its own, so no ICMP message, error or not, ever
// gets one in answer (RFC 1122 §3.2.2, RFC 4443 §2.4 (e)).
func (s *Stack) deliverICMP(ip *wire.IPPacket, tx *txBatch) {
	s.ctr.icmpIn.Add(1)
	v6 := ip.Protocol == wire.ProtoICMPv6
	local, remote := netip.AddrPortFrom(ip.Dst, 0), netip.AddrPortFrom(ip.Src, 0)
	var m wire.ICMPMessage
	var err error
	var sumOK bool
	if v6 {
		err, sumOK = m.ParseV6(wire.ICMPv6(ip.Payload)), wire.ICMPv6(ip.Payload).VerifyChecksum(ip.Src, ip.Dst)
	} else {
		err, sumOK = m.ParseV4(wire.ICMPv4(ip.Payload)), wire.ICMPv4(ip.Payload).VerifyChecksum()
	}
	switch {
	case err != nil:
		s.dropICMP(icmpMalformed, local, remote)
		return
	case !sumOK:
		s.dropICMP(icmpChecksum, local, remote)
		return
	case s.badSource(ip.Src):
		s.dropICMP(icmpBadSource, local, remote)
		return
	}
	act, errno := icmpMeaning(v6, &m)
	switch act {
	case icmpEcho:
		if s.echoes != nil && !s.echoes.allow(s.now()) {
			s.dropICMP(icmpRateLimited, local, remote)
			return
		}
		tx.emitEchoReply(ip, &m, v6)
	case icmpSoft, icmpHard, icmpTooBig:
		s.icmpError(ip, &m, act, errno, tx)
	default:
		s.dropICMP(icmpIgnored, local, remote)
	}
}

// icmpMeaning says what m, of ICMPv6 if v6 else ICMPv4, asks of the stack
// and, for an error, which errno a connection reports for it. The classes
// are RFC 9293 §3.9.2.2's (RFC 1122 §4.2.3.9): destination unreachable
// codes 0, 1 and 5, time exceeded and parameter problem are soft, protocol
// and port unreachable hard. The codes the RFCs leave unclassified and the
// errnos are Linux's (icmp_err_convert, icmpv6_err_convert), so that
// programs see what they would see there. Source quench MUST be ignored
// (RFC 6633, MUST-55); redirects mean nothing to a stack without routes;
// unknown types and codes are ignored.
// https://www.rfc-editor.org/rfc/rfc9293#section-3.9.2.2
func icmpMeaning(v6 bool, m *wire.ICMPMessage) (icmpAction, syscall.Errno) {
	if v6 {
		switch m.Type {
		case wire.ICMPv6EchoRequest:
			return icmpEcho, 0
		case wire.ICMPv6PacketTooBig:
			return icmpTooBig, syscall.EMSGSIZE
		case wire.ICMPv6TimeExceeded:
			return icmpSoft, syscall.EHOSTUNREACH
		case wire.ICMPv6ParamProblem:
			return icmpSoft, syscall.EPROTO
		case wire.ICMPv6DestUnreachable:
			if int(m.Code) < len(unreachable6) {
				u := unreachable6[m.Code]
				return u.action, u.errno
			}
		}
		return icmpIgnore, 0
	}
	switch m.Type {
	case wire.ICMPv4EchoRequest:
		return icmpEcho, 0
	case wire.ICMPv4TimeExceeded:
		return icmpSoft, syscall.EHOSTUNREACH
	case wire.ICMPv4ParamProblem:
		return icmpSoft, syscall.EPROTO
	case wire.ICMPv4DestUnreachable:
		if int(m.Code) < len(unreachable4) {
			u := unreachable4[m.Code]
			return u.action, u.errno
		}
	}
	return icmpIgnore, 0
}

type unreachable struct {
	action icmpAction
	errno  syscall.Errno
}

// unreachable4 gives each ICMPv4 destination unreachable code its meaning.
var unreachable4 = [...]unreachable{
	wire.ICMPv4NetUnreachable:      {icmpSoft, syscall.ENETUNREACH},
	wire.ICMPv4HostUnreachable:     {icmpSoft, syscall.EHOSTUNREACH},
	wire.ICMPv4ProtocolUnreachable: {icmpHard, syscall.ENOPROTOOPT},
	wire.ICMPv4PortUnreachable:     {icmpHard, syscall.ECONNREFUSED},
	wire.ICMPv4FragmentationNeeded: {icmpTooBig, syscall.EMSGSIZE},
	wire.ICMPv4SourceRouteFailed:   {icmpSoft, syscall.EOPNOTSUPP},
	wire.ICMPv4NetUnknown:          {icmpHard, syscall.ENETUNREACH},
	wire.ICMPv4HostUnknown:         {icmpHard, syscall.EHOSTDOWN},
	wire.ICMPv4HostIsolated:        {icmpHard, errHostIsolated},
	wire.ICMPv4NetProhibited:       {icmpHard, syscall.ENETUNREACH},
	wire.ICMPv4HostProhibited:      {icmpHard, syscall.EHOSTUNREACH},
	wire.ICMPv4NetUnreachableTOS:   {icmpSoft, syscall.ENETUNREACH},
	wire.ICMPv4HostUnreachableTOS:  {icmpSoft, syscall.EHOSTUNREACH},
	wire.ICMPv4AdminProhibited:     {icmpHard, syscall.EHOSTUNREACH},
	wire.ICMPv4HostPrecedence:      {icmpHard, syscall.EHOSTUNREACH},
	wire.ICMPv4PrecedenceCutoff:    {icmpHard, syscall.EHOSTUNREACH},
}

// unreachable6 gives each ICMPv6 destination unreachable code (RFC 4443
// §3.1) its meaning: no route, beyond scope and address unreachable are
// soft, like their ICMPv4 counterparts; the rest say the destination or a
// policy refuses, and are hard.
var unreachable6 = [...]unreachable{
	wire.ICMPv6NoRoute:         {icmpSoft, syscall.ENETUNREACH},
	wire.ICMPv6AdminProhibited: {icmpHard, syscall.EACCES},
	wire.ICMPv6BeyondScope:     {icmpSoft, syscall.EHOSTUNREACH},
	wire.ICMPv6AddrUnreachable: {icmpSoft, syscall.EHOSTUNREACH},
	wire.ICMPv6PortUnreachable: {icmpHard, syscall.ECONNREFUSED},
	wire.ICMPv6SourcePolicy:    {icmpHard, syscall.EACCES},
	wire.ICMPv6RejectRoute:     {icmpHard, syscall.EACCES},
}

// badSource reports a source address no ICMP message we act on may come
// from: one that names no single host, a multicast, broadcast, unspecified
// or loopback address (RFC 1122 §3.2.1.3; §3.2.2.6 lets a host ignore
// echoes to broadcasts, and a reply to a broadcast source would go to
// everyone).
func (s *Stack) badSource(a netip.Addr) bool {
	if a.IsMulticast() || a.IsUnspecified() || a.IsLoopback() {
		return true
	}
	if !a.Is4() {
		return false
	}
	if a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return true
	}
	for _, p := range s.addrs {
		// The directed broadcast of each of our IPv4 subnets (RFC 922):
		// the prefix with every host bit set; /31 and /32 have none.
		if p.Addr().Is4() && p.Bits() < 31 && a == broadcastOf(p) {
			return true
		}
	}
	return false
}

// broadcastOf returns the IPv4 prefix p with every host bit set.
func broadcastOf(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := ^uint32(0) >> p.Bits()
	for i := range b {
		b[i] |= byte(host >> (24 - 8*i))
	}
	return netip.AddrFrom4(b)
}

// emitEchoReply answers the echo request m, which came from ip.Src to
// ip.Dst (one of our addresses), with a reply from ip.Dst carrying the same
// identifier, sequence number and data: RFC 792, RFC 1122 §3.2.2.6 (IP
// options are not echoed), RFC 4443 §4.2.
func (b *txBatch) emitEchoReply(ip *wire.IPPacket, m *wire.ICMPMessage, v6 bool) {
	buf := b.next()
	hl := wire.IPHeaderLen(ip.Src)
	n := m.Len()
	if hl+n > len(buf) {
		b.s.ctr.tooBig.Add(1) // cannot happen: the request fit the link
		return
	}
	reply := *m
	reply.Code = 0
	if v6 {
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
