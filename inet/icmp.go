package inet

import (
	"net/netip"
	"syscall"

	"github.com/synack-go/synack/wire"
)

// ICMPAction is what an arriving ICMP message asks of the stack.
type ICMPAction uint8

const (
	// ICMPIgnore: nothing (echo replies, source quench, redirects,
	// neighbor discovery, unknown types and codes).
	ICMPIgnore ICMPAction = iota
	// ICMPEcho: answer with an echo reply.
	ICMPEcho
	// ICMPSoft: a soft error for the flow (RFC 1122 §4.2.3.9): kept and
	// reported if nothing better explains a failure.
	ICMPSoft
	// ICMPHard: a hard error: it ends a TCP connection that is not yet
	// synchronized, and a connected UDP socket reports it.
	ICMPHard
	// ICMPTooBig: a smaller path MTU (RFC 1191, RFC 8201).
	ICMPTooBig
)

// ClassifyICMP says what m, of ICMPv6 if v6 else ICMPv4, asks of the stack
// and, for an error, which errno a flow reports for it. The classes are RFC
// 9293 §3.9.2.2's (RFC 1122 §4.2.3.9): destination unreachable codes 0, 1
// and 5, time exceeded and parameter problem are soft, protocol and port
// unreachable hard. The codes the RFCs leave unclassified and the errnos
// are Linux's (icmp_err_convert, icmpv6_err_convert), so that programs see
// what they would see there. Source quench MUST be ignored (RFC 6633,
// MUST-55); redirects mean nothing to a stack without routes; unknown types
// and codes are ignored.
// https://www.rfc-editor.org/rfc/rfc9293#section-3.9.2.2
func ClassifyICMP(v6 bool, m *wire.ICMPMessage) (ICMPAction, syscall.Errno) {
	if v6 {
		switch m.Type {
		case wire.ICMPv6EchoRequest:
			return ICMPEcho, 0
		case wire.ICMPv6PacketTooBig:
			return ICMPTooBig, syscall.EMSGSIZE
		case wire.ICMPv6TimeExceeded:
			return ICMPSoft, syscall.EHOSTUNREACH
		case wire.ICMPv6ParamProblem:
			return ICMPSoft, syscall.EPROTO
		case wire.ICMPv6DestUnreachable:
			if int(m.Code) < len(unreachable6) {
				u := unreachable6[m.Code]
				return u.action, u.errno
			}
		}
		return ICMPIgnore, 0
	}
	switch m.Type {
	case wire.ICMPv4EchoRequest:
		return ICMPEcho, 0
	case wire.ICMPv4TimeExceeded:
		return ICMPSoft, syscall.EHOSTUNREACH
	case wire.ICMPv4ParamProblem:
		return ICMPSoft, syscall.EPROTO
	case wire.ICMPv4DestUnreachable:
		if int(m.Code) < len(unreachable4) {
			u := unreachable4[m.Code]
			return u.action, u.errno
		}
	}
	return ICMPIgnore, 0
}

type unreachable struct {
	action ICMPAction
	errno  syscall.Errno
}

// unreachable4 gives each ICMPv4 destination unreachable code its meaning.
var unreachable4 = [...]unreachable{
	wire.ICMPv4NetUnreachable:      {ICMPSoft, syscall.ENETUNREACH},
	wire.ICMPv4HostUnreachable:     {ICMPSoft, syscall.EHOSTUNREACH},
	wire.ICMPv4ProtocolUnreachable: {ICMPHard, syscall.ENOPROTOOPT},
	wire.ICMPv4PortUnreachable:     {ICMPHard, syscall.ECONNREFUSED},
	wire.ICMPv4FragmentationNeeded: {ICMPTooBig, syscall.EMSGSIZE},
	wire.ICMPv4SourceRouteFailed:   {ICMPSoft, syscall.EOPNOTSUPP},
	wire.ICMPv4NetUnknown:          {ICMPHard, syscall.ENETUNREACH},
	wire.ICMPv4HostUnknown:         {ICMPHard, syscall.EHOSTDOWN},
	wire.ICMPv4HostIsolated:        {ICMPHard, errHostIsolated},
	wire.ICMPv4NetProhibited:       {ICMPHard, syscall.ENETUNREACH},
	wire.ICMPv4HostProhibited:      {ICMPHard, syscall.EHOSTUNREACH},
	wire.ICMPv4NetUnreachableTOS:   {ICMPSoft, syscall.ENETUNREACH},
	wire.ICMPv4HostUnreachableTOS:  {ICMPSoft, syscall.EHOSTUNREACH},
	wire.ICMPv4AdminProhibited:     {ICMPHard, syscall.EHOSTUNREACH},
	wire.ICMPv4HostPrecedence:      {ICMPHard, syscall.EHOSTUNREACH},
	wire.ICMPv4PrecedenceCutoff:    {ICMPHard, syscall.EHOSTUNREACH},
}

// unreachable6 gives each ICMPv6 destination unreachable code (RFC 4443
// §3.1) its meaning: no route, beyond scope and address unreachable are
// soft, like their ICMPv4 counterparts; the rest say the destination or a
// policy refuses, and are hard.
var unreachable6 = [...]unreachable{
	wire.ICMPv6NoRoute:         {ICMPSoft, syscall.ENETUNREACH},
	wire.ICMPv6AdminProhibited: {ICMPHard, syscall.EACCES},
	wire.ICMPv6BeyondScope:     {ICMPSoft, syscall.EHOSTUNREACH},
	wire.ICMPv6AddrUnreachable: {ICMPSoft, syscall.EHOSTUNREACH},
	wire.ICMPv6PortUnreachable: {ICMPHard, syscall.ECONNREFUSED},
	wire.ICMPv6SourcePolicy:    {ICMPHard, syscall.EACCES},
	wire.ICMPv6RejectRoute:     {ICMPHard, syscall.EACCES},
}

// ICMPDrop is why the stack did not act on an arriving ICMP message.
type ICMPDrop uint8

const (
	// ICMPMalformed: shorter than its header, or an error whose quoted
	// packet does not parse or is of the other IP version.
	ICMPMalformed ICMPDrop = iota
	// ICMPChecksum: a bad ICMP checksum.
	ICMPChecksum
	// ICMPBadSource: from a multicast, broadcast, loopback or unspecified
	// address (RFC 1122 §3.2.1.3).
	ICMPBadSource
	// ICMPIgnored: a message that means nothing to the stack.
	ICMPIgnored
	// ICMPNoFlow: an error about a packet of no flow of ours.
	ICMPNoFlow
	// ICMPOutOfWindow: an error whose quoted TCP sequence number is not in
	// flight (RFC 5927 §4.1); the TCP flow decides.
	ICMPOutOfWindow
	// NumICMPDrops is the number of reasons.
	NumICMPDrops
)

var icmpDropNames = [NumICMPDrops]string{
	ICMPMalformed:   "icmp-malformed",
	ICMPChecksum:    "icmp-bad-checksum",
	ICMPBadSource:   "icmp-bad-source",
	ICMPIgnored:     "icmp-ignored",
	ICMPNoFlow:      "icmp-no-conn",
	ICMPOutOfWindow: "icmp-out-of-window",
}

// String returns the reason's name as traces show it.
func (d ICMPDrop) String() string {
	if d < NumICMPDrops {
		return icmpDropNames[d]
	}
	return "icmp-?"
}

// ICMPIn is an arriving ICMP message, checked and classified by ParseICMP.
type ICMPIn struct {
	Msg    wire.ICMPMessage
	Action ICMPAction
	Errno  syscall.Errno
	// For an error (ICMPSoft, ICMPHard, ICMPTooBig): the quoted packet and
	// the flow it names, seen from this host: Key.Local is the quoted
	// source (us), Key.Remote the quoted destination. RFC 1122 §4.2.3.9:
	// "The necessary demultiplexing information can be found in the IP
	// header contained within the ICMP message".
	Quote wire.ICMPInvoking
	Key   Key
	// PathMTU is, for ICMPTooBig, the path MTU to use (see PathMTU).
	PathMTU uint32
}

// ParseICMP checks and classifies ip, an ICMP packet to this host (the
// ICMP of ip's version: ip.Protocol is wire.ProtoICMPv4 for IPv4,
// wire.ProtoICMPv6 for IPv6), into in. It returns ok false with the reason
// for a message the stack does not act on; the flow lookup (ICMPNoFlow) and
// the TCP window check (ICMPOutOfWindow) are the caller's. in.Msg.Body and
// in.Quote alias ip.Payload.
func (l *Layer) ParseICMP(ip *wire.IPPacket, in *ICMPIn) (ICMPDrop, bool) {
	v6 := ip.Protocol == wire.ProtoICMPv6
	var err error
	var sumOK bool
	if v6 {
		err, sumOK = in.Msg.ParseV6(wire.ICMPv6(ip.Payload)), wire.ICMPv6(ip.Payload).VerifyChecksum(ip.Src, ip.Dst)
	} else {
		err, sumOK = in.Msg.ParseV4(wire.ICMPv4(ip.Payload)), wire.ICMPv4(ip.Payload).VerifyChecksum()
	}
	switch {
	case err != nil:
		return ICMPMalformed, false
	case !sumOK:
		return ICMPChecksum, false
	case l.BadSource(ip.Src):
		return ICMPBadSource, false
	}
	in.Action, in.Errno = ClassifyICMP(v6, &in.Msg)
	switch in.Action {
	case ICMPIgnore:
		return ICMPIgnored, false
	case ICMPEcho:
		return 0, true
	}
	q := &in.Quote
	if err := q.Parse(in.Msg.Body); err != nil || q.Src.Is4() != ip.Src.Is4() {
		return ICMPMalformed, false
	}
	in.Key = Key{Proto: q.Protocol, Local: netip.AddrPortFrom(q.Src, q.SrcPort()), Remote: netip.AddrPortFrom(q.Dst, q.DstPort())}
	if q.Protocol != wire.ProtoTCP && q.Protocol != wire.ProtoUDP {
		return ICMPIgnored, false
	}
	if in.Action == ICMPTooBig {
		in.PathMTU = PathMTU(in.Msg.MTU, q)
	}
	return 0, true
}

// Path MTU floors: the smallest path MTU an ICMP message may make us use.
const (
	// MinPathMTU4 is ours: RFC 1191 §3 only forbids going below 68 bytes,
	// but a path under 576 (the datagram every host accepts, RFC 1122
	// §3.3.3) is more likely a forged message (RFC 5927 §7) than a real
	// link; Linux keeps a similar floor (min_pmtu, 552).
	MinPathMTU4 = 576
	// MinPathMTU6 is the IPv6 minimum link MTU, below which RFC 8201 §4
	// forbids going.
	MinPathMTU6 = 1280
)

// mtuPlateaus are RFC 1191 §7's "plateaus" (Table 7-1), highest first.
var mtuPlateaus = [...]uint32{65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68}

// PathMTU turns the MTU a fragmentation-needed or packet-too-big message
// reports about the quoted packet q into the path MTU to use: never below
// MinPathMTU4 or MinPathMTU6; an old router's zero, a value under 68 or not
// under the dropped packet's own length gives RFC 1191 §5's plateau below
// that length.
func PathMTU(mtu uint32, q *wire.ICMPInvoking) uint32 {
	if q.Src.Is6() {
		return max(mtu, MinPathMTU6)
	}
	if mtu < 68 || mtu >= uint32(q.TotalLen) {
		mtu = mtuPlateaus[len(mtuPlateaus)-1]
		for _, p := range mtuPlateaus {
			if p < uint32(q.TotalLen) {
				mtu = p
				break
			}
		}
	}
	return max(mtu, MinPathMTU4)
}
