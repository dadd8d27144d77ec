package wire

import (
	"errors"
	"net/netip"
)

// Protocol numbers carried in the IPv4 Protocol and IPv6 Next Header fields
// (IANA "Assigned Internet Protocol Numbers").
const (
	ProtoICMPv4 = 1
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoICMPv6 = 58
	// ProtoIPv6Fragment is the Next Header value of the IPv6 Fragment
	// extension header (RFC 8200 §4.5).
	ProtoIPv6Fragment = 44
)

// Errors returned by the parsers. They are sentinels: compare with
// errors.Is. A stack counts each as a separate drop reason.
var (
	// ErrTruncated reports a packet shorter than its headers say it is.
	ErrTruncated = errors.New("wire: truncated packet")
	// ErrMalformed reports a header whose fields contradict the format.
	ErrMalformed = errors.New("wire: malformed header")
	// ErrFragment reports an IP fragment: a piece of a datagram that must
	// be reassembled before its transport header can be read. ParseIP
	// describes it in IPPacket.Fragment.
	ErrFragment = errors.New("wire: IP fragment")
	// ErrChecksum reports a checksum that does not verify.
	ErrChecksum = errors.New("wire: bad checksum")
	// ErrUnsupported reports a packet that is well formed but of a kind this
	// package does not handle, such as an IP version other than 4 or 6.
	ErrUnsupported = errors.New("wire: unsupported packet")
)

// IPPacket is the meaning of an IPv4 or IPv6 packet, as far as a transport
// protocol needs it.
type IPPacket struct {
	Src, Dst netip.Addr
	// Protocol is the IPv4 Protocol, or for IPv6 the Next Header value
	// after the skipped extension headers.
	Protocol uint8
	// Payload is the transport header and data, cut at the length the IP
	// header gives. It aliases the parsed buffer.
	Payload []byte
	// Fragment describes the packet when ParseIP returned ErrFragment; it
	// is zero otherwise.
	Fragment IPFragment
}

// IPFragment describes an IP fragment (RFC 791 §2.3 and §3.2 for IPv4, the
// Fragment header of RFC 8200 §4.5 for IPv6). When ParseIP returns
// ErrFragment, the IPPacket holds the fragment: Src and Dst, Protocol (for
// IPv6 the Fragment header's Next Header, which only the first fragment's
// says for sure), Payload the fragment's data, and this description.
type IPFragment struct {
	// ID is the Identification: 16 bits in IPv4, 32 in the IPv6 Fragment
	// header. With the addresses (and for IPv4 the protocol) it names the
	// datagram the fragment belongs to.
	ID uint32
	// Offset is where the fragment's data goes in the datagram's payload,
	// in bytes: the header's 13-bit offset field times 8.
	Offset int
	// More is the More Fragments flag (M): another fragment follows.
	More bool
	// HeaderLen is the length of the packet before the fragment's data:
	// the IPv4 header with its options; for IPv6 the fixed header, the
	// extension headers before the Fragment header (the unfragmentable
	// part) and the 8-byte Fragment header.
	HeaderLen int
	// NextHeaderAt is, for IPv6, the offset in the packet of the Next
	// Header field that names the Fragment header: 6 in the fixed header,
	// or the first byte of the extension header before it. Reassembly
	// writes the Fragment header's Next Header there (RFC 8200 §4.5). It
	// is 0 for IPv4.
	NextHeaderAt int
}

// ParseIP parses the IPv4 or IPv6 packet pkt into out, by the version
// nibble. It does not allocate, and out.Payload aliases pkt.
//
// For IPv4 it runs [IPv4.Check] and verifies the header checksum
// (ErrChecksum); IPv4 options are skipped. For IPv6 it runs [IPv6.Check],
// then skips the Hop-by-Hop (which must come first), Routing and
// Destination Options extension headers, and an atomic fragment's Fragment
// header (offset 0, M clear: RFC 6946 §4 has it processed as a whole
// packet); an extension header running past the payload gives ErrMalformed.
// Any other Next Header value (TCP, UDP, ICMPv6, No Next Header, or one
// this package does not know) ends the walk: out.Protocol is set to it and
// out.Payload to what follows, and the caller decides. Bytes after the
// length the IP header gives are ignored. A version other than 4 or 6 gives
// ErrUnsupported, and an empty pkt ErrTruncated.
//
// A fragment of a larger datagram gives ErrFragment with out filled as
// [IPFragment] says, so that a caller may reassemble it; on any other
// error, out is unspecified.
func ParseIP(pkt []byte, out *IPPacket) error {
	if len(pkt) == 0 {
		return ErrTruncated
	}
	switch pkt[0] >> 4 {
	case 4:
		return parseIPv4(IPv4(pkt), out)
	case 6:
		return parseIPv6(IPv6(pkt), out)
	}
	return ErrUnsupported
}

// IPHeaderLen returns the length of the IP header [PutIPHeader] writes for
// the destination dst: 20 for an IPv4 address, 40 otherwise. An
// IPv4-mapped IPv6 address counts as IPv6.
func IPHeaderLen(dst netip.Addr) int {
	if dst.Is4() {
		return ipv4HeaderLen
	}
	return ipv6HeaderLen
}

// PutIPHeader writes an IP header for a packet from src to dst carrying
// payloadLen bytes of protocol proto into the start of b, and returns its
// length, [IPHeaderLen](dst). The family follows dst. IPv4 headers have no
// options, TOS 0, ID 0, Don't Fragment set (RFC 6864 §4.1 allows ID 0 on
// atomic datagrams), time to live ttl and a correct header checksum. IPv6
// headers have traffic class 0, flow label 0 and hop limit ttl.
//
// src should be of the same family as dst; an IPv6 src in an IPv4 header is
// written as 0.0.0.0. The caller keeps payloadLen within the 16-bit length
// fields (at most 65515 for IPv4, 65535 for IPv6). PutIPHeader panics if b is
// shorter than IPHeaderLen(dst), like binary.BigEndian.PutUint32 does.
func PutIPHeader(b []byte, src, dst netip.Addr, proto uint8, payloadLen int, ttl uint8) int {
	if dst.Is4() {
		return putIPv4Header(b, src, dst, proto, payloadLen, ttl)
	}
	return putIPv6Header(b, src, dst, proto, payloadLen, ttl)
}
