package inet

import (
	"time"

	"github.com/synack-go/synack/wire"
)

// Unreachable is a reason for a destination unreachable error, in terms
// both families have: the stack picks the family's type and code.
type Unreachable uint8

const (
	// UnreachNet: no route to the destination's network (ICMPv4 code 0,
	// ICMPv6 code 0 "no route"); the sender sees ENETUNREACH.
	UnreachNet Unreachable = iota
	// UnreachHost: the host does not answer (ICMPv4 code 1, ICMPv6 code 3
	// "address unreachable"); the sender sees EHOSTUNREACH.
	UnreachHost
	// UnreachPort: nothing listens on the port (ICMPv4 code 3, ICMPv6
	// code 4); the sender sees ECONNREFUSED.
	UnreachPort
	// UnreachProhibited: a policy forbids it (ICMPv4 code 13, ICMPv6 code
	// 1); the sender sees EHOSTUNREACH (IPv4) or EACCES (IPv6) on Linux.
	UnreachProhibited
)

var unreachCodes = [...][2]uint8{
	UnreachNet:        {wire.ICMPv4NetUnreachable, wire.ICMPv6NoRoute},
	UnreachHost:       {wire.ICMPv4HostUnreachable, wire.ICMPv6AddrUnreachable},
	UnreachPort:       {wire.ICMPv4PortUnreachable, wire.ICMPv6PortUnreachable},
	UnreachProhibited: {wire.ICMPv4AdminProhibited, wire.ICMPv6AdminProhibited},
}

// How much of the invoking packet an error quotes: RFC 1812 §4.3.2.3, as
// much as keeps the error within 576 bytes (IPv4); RFC 4443 §2.4 (c),
// within the IPv6 minimum MTU of 1280.
const (
	maxError4 = 576
	maxError6 = 1280
)

// ICMPError builds into buf an ICMP destination unreachable error for
// why, about pkt, the whole packet as received (or reassembled) that ip
// describes. It goes from ip.Dst (the address pkt was sent to, ours or a
// forwarded flow's) to ip.Src, and quotes as much of pkt as the family's
// limit and the MTU allow. It returns the error's length, or 0 when no
// error may be sent: RFC 1122 §3.2.2 and RFC 4443 §2.4 (e) forbid errors
// about ICMP errors, packets to a multicast or broadcast address, non-initial
// fragments and packets from a source that names no single host; and the
// token bucket limits the rest (RFC 4443 §2.4 (f)). Both are counted. buf
// must hold at least the MTU.
func (l *Layer) ICMPError(buf, pkt []byte, ip *wire.IPPacket, why Unreachable, now time.Duration) int {
	return l.icmpError(buf, pkt, ip, why, now)
}

// timeExceeded is icmpError's kind for Expire's errors, beside the
// Unreachable reasons.
const timeExceeded Unreachable = 255

func (l *Layer) icmpError(buf, pkt []byte, ip *wire.IPPacket, why Unreachable, now time.Duration) int {
	if l.noICMP || !l.mayAnswer(pkt, ip) {
		l.stats.ICMPSuppressed++
		return 0
	}
	if !l.icmpTB.Allow(now) {
		l.stats.ICMPRateLimited++
		return 0
	}
	v6 := ip.Dst.Is6()
	hl := wire.IPHeaderLen(ip.Src)
	limit := maxError4
	if v6 {
		limit = maxError6
	}
	limit = min(limit, l.mtu, len(buf))
	quote := pkt[:min(len(pkt), limit-hl-8)]
	m := wire.ICMPMessage{Body: quote}
	switch {
	case why == timeExceeded && v6:
		m.Type, m.Code = wire.ICMPv6TimeExceeded, 1
	case why == timeExceeded:
		m.Type, m.Code = wire.ICMPv4TimeExceeded, 1
	case v6:
		m.Type, m.Code = wire.ICMPv6DestUnreachable, unreachCodes[why][1]
	default:
		m.Type, m.Code = wire.ICMPv4DestUnreachable, unreachCodes[why][0]
	}
	n := m.Len()
	if v6 {
		wire.PutIPHeader(buf, ip.Dst, ip.Src, wire.ProtoICMPv6, n, l.ttl)
		m.EmitV6(buf[hl:], ip.Dst, ip.Src)
	} else {
		wire.PutIPHeader(buf, ip.Dst, ip.Src, wire.ProtoICMPv4, n, l.ttl)
		m.EmitV4(buf[hl:])
	}
	l.stats.ICMPErrors++
	return hl + n
}

// mayAnswer reports whether an ICMP error about pkt is allowed: RFC 1122
// §3.2.2 (v4) and RFC 4443 §2.4 (e) (v6).
func (l *Layer) mayAnswer(pkt []byte, ip *wire.IPPacket) bool {
	if l.BadSource(ip.Src) || ip.Dst.IsMulticast() {
		return false
	}
	if ip.Dst.Is4() {
		if l.BadSource(ip.Dst) && !ip.Dst.IsLoopback() { // a broadcast
			return false
		}
		if len(pkt) >= 20 && wire.IPv4(pkt).FragmentOffset() != 0 {
			return false
		}
	}
	switch ip.Protocol {
	case wire.ProtoICMPv4:
		if ip.Dst.Is4() {
			// Only errors about echo and the other query messages.
			if len(ip.Payload) < 1 {
				return false
			}
			switch ip.Payload[0] {
			case wire.ICMPv4DestUnreachable, wire.ICMPv4SourceQuench, wire.ICMPv4Redirect,
				wire.ICMPv4TimeExceeded, wire.ICMPv4ParamProblem:
				return false
			}
		}
	case wire.ProtoICMPv6:
		// Error messages are types 0-127; a redirect (137) gets none either.
		if ip.Dst.Is6() && (len(ip.Payload) < 1 || ip.Payload[0] < 128 || ip.Payload[0] == 137) {
			return false
		}
	}
	return true
}

// Output is where a Layer writes the packets it builds on its own, such as
// the Time Exceeded errors of Expire. The stack's transmit batch is one.
type Output interface {
	// Buffer returns a buffer for the next packet, at least MTU bytes.
	Buffer() []byte
	// Send sends the first n bytes of the buffer Buffer last returned.
	Send(n int)
}

// Expire drops the fragments of datagrams that did not complete in time
// and, for each whose first fragment had come, sends its source an ICMP
// Time Exceeded, "fragment reassembly time exceeded" (code 1), quoting
// that fragment: RFC 8200 §4.5 ("should"), RFC 1122 §3.3.2 ("MAY"), as
// Linux does for both families. The same rules and token bucket as
// ICMPError apply. Call it at the reassembler's Deadline.
func (l *Layer) Expire(now time.Duration, out Output) {
	l.reasm.ExpireFunc(now, func(first []byte) {
		var ip wire.IPPacket
		if !fragmentAddrs(first, &ip) {
			return
		}
		buf := out.Buffer()
		if n := l.icmpError(buf, first, &ip, timeExceeded, now); n > 0 {
			out.Send(n)
		}
	})
}

// fragmentAddrs fills ip's addresses, protocol and payload from a first
// fragment's bytes (whose headers a reassembler kept, so they parse).
func fragmentAddrs(first []byte, ip *wire.IPPacket) bool {
	err := wire.ParseIP(first, ip)
	if err == nil || err == wire.ErrFragment {
		return true
	}
	// The kept bytes may end before the IP length says: take the
	// addresses from the fixed header.
	if len(first) >= 40 && first[0]>>4 == 6 {
		h := wire.IPv6(first)
		*ip = wire.IPPacket{Src: h.Src(), Dst: h.Dst(), Protocol: wire.ProtoIPv6Fragment}
		return true
	}
	if len(first) >= 20 && first[0]>>4 == 4 {
		h := wire.IPv4(first)
		hl := min(h.HeaderLen(), len(first))
		*ip = wire.IPPacket{Src: h.Src(), Dst: h.Dst(), Protocol: h.Protocol(), Payload: first[hl:]}
		return true
	}
	return false
}

// EchoReply builds into buf the answer to the echo request m, which came
// from ip.Src to ip.Dst: a reply from ip.Dst with the same identifier,
// sequence number and data (RFC 792, RFC 1122 §3.2.2.6 with no IP options
// echoed, RFC 4443 §4.2). It returns the reply's length, or 0 if buf is too
// short. m.Body may alias the request; buf must not.
func (l *Layer) EchoReply(buf []byte, ip *wire.IPPacket, m *wire.ICMPMessage) int {
	hl := wire.IPHeaderLen(ip.Src)
	n := m.Len()
	if hl+n > len(buf) {
		return 0
	}
	reply := *m
	reply.Code = 0
	if ip.Src.Is6() {
		reply.Type = wire.ICMPv6EchoReply
		wire.PutIPHeader(buf, ip.Dst, ip.Src, wire.ProtoICMPv6, n, l.ttl)
		reply.EmitV6(buf[hl:], ip.Dst, ip.Src)
	} else {
		reply.Type = wire.ICMPv4EchoReply
		wire.PutIPHeader(buf, ip.Dst, ip.Src, wire.ProtoICMPv4, n, l.ttl)
		reply.EmitV4(buf[hl:])
	}
	return hl + n
}
