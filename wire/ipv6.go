package wire

import (
	"encoding/binary"
	"net/netip"
)

// Field offsets of the IPv6 header (RFC 8200 §3).
const (
	ipv6VerTCFlow  = 0
	ipv6PayloadLen = 4
	ipv6NextHeader = 6
	ipv6HopLimit   = 7
	ipv6Src        = 8
	ipv6Dst        = 24
	ipv6HeaderLen  = 40
)

// IPv6 extension header types (RFC 8200 §4, IANA protocol numbers).
const (
	ipv6HopByHop = 0
	ipv6Routing  = 43
	ipv6Fragment = 44
	ipv6DestOpts = 60
)

// IPv6 is a view over an IPv6 packet: fixed header, then extension headers
// and payload. Call [IPv6.Check] first; after it returns nil, no accessor
// panics. Accessors read the bytes in place and do not allocate.
type IPv6 []byte

// Check reports whether b holds a structurally valid IPv6 packet:
// ErrTruncated if b is shorter than 40 bytes or than the header plus the
// payload length; ErrMalformed if the version is not 6. Jumbograms (RFC 2675)
// are not supported: a zero payload length means an empty payload.
func (b IPv6) Check() error {
	if len(b) < ipv6HeaderLen {
		return ErrTruncated
	}
	if b[ipv6VerTCFlow]>>4 != 6 {
		return ErrMalformed
	}
	if ipv6HeaderLen+b.PayloadLen() > len(b) {
		return ErrTruncated
	}
	return nil
}

// TrafficClass returns the Traffic Class field.
func (b IPv6) TrafficClass() uint8 {
	return uint8(binary.BigEndian.Uint16(b[ipv6VerTCFlow:]) >> 4)
}

// FlowLabel returns the 20-bit Flow Label field.
func (b IPv6) FlowLabel() uint32 {
	return binary.BigEndian.Uint32(b[ipv6VerTCFlow:]) & 0xfffff
}

// PayloadLen returns the Payload Length field: the bytes after the fixed
// 40-byte header, extension headers included.
func (b IPv6) PayloadLen() int { return int(binary.BigEndian.Uint16(b[ipv6PayloadLen:])) }

// NextHeader returns the Next Header field of the fixed header.
func (b IPv6) NextHeader() uint8 { return b[ipv6NextHeader] }

// HopLimit returns the Hop Limit field.
func (b IPv6) HopLimit() uint8 { return b[ipv6HopLimit] }

// Src returns the source address.
func (b IPv6) Src() netip.Addr { return netip.AddrFrom16([16]byte(b[ipv6Src:])) }

// Dst returns the destination address.
func (b IPv6) Dst() netip.Addr { return netip.AddrFrom16([16]byte(b[ipv6Dst:])) }

// Payload returns the bytes after the fixed header up to the payload length,
// extension headers included; bytes past it are left out.
func (b IPv6) Payload() []byte { return b[ipv6HeaderLen : ipv6HeaderLen+b.PayloadLen()] }

func parseIPv6(b IPv6, out *IPPacket) error {
	if err := b.Check(); err != nil {
		return err
	}
	nh, p := b.NextHeader(), b.Payload()
	// Each extension header is at least 8 bytes long, so the walk ends.
	for first := true; ; first = false {
		switch nh {
		case ipv6HopByHop, ipv6Routing, ipv6DestOpts:
			// RFC 8200 §4.1: Hop-by-Hop Options may only follow the IPv6
			// header itself.
			if nh == ipv6HopByHop && !first {
				return ErrMalformed
			}
			// RFC 8200 §4.3-4.6: Next Header, then Hdr Ext Len in 8-octet
			// units not counting the first 8 octets.
			if len(p) < 8 {
				return ErrMalformed
			}
			n := (int(p[1]) + 1) * 8
			if n > len(p) {
				return ErrMalformed
			}
			nh, p = p[0], p[n:]
		case ipv6Fragment:
			return ErrFragment
		default:
			*out = IPPacket{Src: b.Src(), Dst: b.Dst(), Protocol: nh, Payload: p}
			return nil
		}
	}
}

func putIPv6Header(b []byte, src, dst netip.Addr, proto uint8, payloadLen int, ttl uint8) int {
	h := b[:ipv6HeaderLen]
	binary.BigEndian.PutUint32(h[ipv6VerTCFlow:], 6<<28)
	binary.BigEndian.PutUint16(h[ipv6PayloadLen:], uint16(payloadLen))
	h[ipv6NextHeader] = proto
	h[ipv6HopLimit] = ttl
	s, d := src.As16(), dst.As16()
	copy(h[ipv6Src:], s[:])
	copy(h[ipv6Dst:], d[:])
	return ipv6HeaderLen
}
