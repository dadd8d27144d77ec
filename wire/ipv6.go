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
	ipv6Fragment = ProtoIPv6Fragment
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

// SetPayloadLen sets the Payload Length field to n: the bytes after the
// fixed header.
func (b IPv6) SetPayloadLen(n int) { binary.BigEndian.PutUint16(b[ipv6PayloadLen:], uint16(n)) }

// Payload returns the bytes after the fixed header up to the payload length,
// extension headers included; bytes past it are left out.
func (b IPv6) Payload() []byte { return b[ipv6HeaderLen : ipv6HeaderLen+b.PayloadLen()] }

func parseIPv6(b IPv6, out *IPPacket) error {
	if err := b.Check(); err != nil {
		return err
	}
	nh, p := b.NextHeader(), b.Payload()
	end := ipv6HeaderLen + len(p) // p ends there, whatever link padding follows
	nhAt := ipv6NextHeader        // where the Next Header naming p's first header sits
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
			nhAt = end - len(p)
			nh, p = p[0], p[n:]
		case ipv6Fragment:
			var f IPv6FragmentHeader
			if err := f.Parse(p); err != nil {
				return ErrMalformed
			}
			if f.Offset == 0 && !f.More {
				// An atomic fragment: RFC 6946 §4, a whole packet.
				nhAt = end - len(p)
				nh, p = f.NextHeader, p[IPv6FragmentHeaderLen:]
				continue
			}
			hl := end - len(p) + IPv6FragmentHeaderLen
			*out = IPPacket{Src: b.Src(), Dst: b.Dst(), Protocol: f.NextHeader, Payload: p[IPv6FragmentHeaderLen:],
				Fragment: IPFragment{ID: f.ID, Offset: f.Offset, More: f.More, HeaderLen: hl, NextHeaderAt: nhAt}}
			return ErrFragment
		default:
			*out = IPPacket{Src: b.Src(), Dst: b.Dst(), Protocol: nh, Payload: p}
			return nil
		}
	}
}

// IPv6FragmentHeaderLen is the size of the IPv6 Fragment header.
const IPv6FragmentHeaderLen = 8

// IPv6FragmentHeader is the meaning of the IPv6 Fragment extension header
// (RFC 8200 §4.5): Next Header, the 13-bit offset in 8-byte units, the M
// flag and the 32-bit Identification.
// https://www.rfc-editor.org/rfc/rfc8200#section-4.5
type IPv6FragmentHeader struct {
	// NextHeader names the first header of the fragmentable part.
	NextHeader uint8
	// Offset is the fragment's place in the fragmentable part, in bytes
	// (a multiple of 8, at most 65528).
	Offset int
	// More is the M flag: more fragments follow.
	More bool
	// ID is the Identification.
	ID uint32
}

// Parse reads the Fragment header at the start of b into h. It returns
// ErrTruncated if b is shorter than 8 bytes; the reserved fields are
// ignored, as RFC 8200 §4.5 asks. It never panics or allocates.
func (h *IPv6FragmentHeader) Parse(b []byte) error {
	if len(b) < IPv6FragmentHeaderLen {
		return ErrTruncated
	}
	off := binary.BigEndian.Uint16(b[2:])
	*h = IPv6FragmentHeader{NextHeader: b[0], Offset: int(off>>3) * 8, More: off&1 != 0,
		ID: binary.BigEndian.Uint32(b[4:])}
	return nil
}

// Emit writes h into b[:8], reserved fields zero, and returns 8. An Offset
// that is not a multiple of 8 is rounded down. It panics only if b is
// shorter than 8 bytes.
func (h *IPv6FragmentHeader) Emit(b []byte) int {
	b = b[:IPv6FragmentHeaderLen]
	b[0], b[1] = h.NextHeader, 0
	off := uint16(h.Offset/8) << 3
	if h.More {
		off |= 1
	}
	binary.BigEndian.PutUint16(b[2:], off)
	binary.BigEndian.PutUint32(b[4:], h.ID)
	return IPv6FragmentHeaderLen
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
