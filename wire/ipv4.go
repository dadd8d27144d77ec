package wire

import (
	"encoding/binary"
	"net/netip"
)

// Field offsets and constants of the IPv4 header (RFC 791 §3.1).
const (
	ipv4VerIHL    = 0
	ipv4TOS       = 1
	ipv4TotalLen  = 2
	ipv4ID        = 4
	ipv4FlagsFrag = 6
	ipv4TTL       = 8
	ipv4Protocol  = 9
	ipv4Checksum  = 10
	ipv4Src       = 12
	ipv4Dst       = 16
	ipv4HeaderLen = 20 // without options

	ipv4FlagDF     = 0x4000 // Don't Fragment
	ipv4FlagMF     = 0x2000 // More Fragments
	ipv4FragOffset = 0x1fff // fragment offset, in 8-byte units
)

// IPv4 is a view over an IPv4 packet: header, options and payload. Call
// [IPv4.Check] first; after it returns nil, no accessor panics. Accessors read
// the bytes in place and do not allocate.
type IPv4 []byte

// Check reports whether b holds a structurally valid IPv4 packet: ErrTruncated
// if b is shorter than 20 bytes, than the header length or than the total
// length; ErrMalformed if the version is not 4, the header length is under 20
// bytes or the total length is under the header length. Check does not verify
// the header checksum (see [IPv4.VerifyChecksum]) and does not reject
// fragments (see [IPv4.IsFragment]); [ParseIP] does both.
func (b IPv4) Check() error {
	if len(b) < ipv4HeaderLen {
		return ErrTruncated
	}
	if b[ipv4VerIHL]>>4 != 4 {
		return ErrMalformed
	}
	hl := b.HeaderLen()
	if hl < ipv4HeaderLen {
		return ErrMalformed
	}
	if hl > len(b) {
		return ErrTruncated
	}
	tl := b.TotalLen()
	if tl < hl {
		return ErrMalformed
	}
	if tl > len(b) {
		return ErrTruncated
	}
	return nil
}

// HeaderLen returns the header length in bytes, options included (IHL × 4).
func (b IPv4) HeaderLen() int { return int(b[ipv4VerIHL]&0x0f) * 4 }

// TotalLen returns the Total Length field: header and payload in bytes.
func (b IPv4) TotalLen() int { return int(binary.BigEndian.Uint16(b[ipv4TotalLen:])) }

// ID returns the Identification field.
func (b IPv4) ID() uint16 { return binary.BigEndian.Uint16(b[ipv4ID:]) }

// TTL returns the Time to Live field.
func (b IPv4) TTL() uint8 { return b[ipv4TTL] }

// Protocol returns the Protocol field, the payload's protocol number.
func (b IPv4) Protocol() uint8 { return b[ipv4Protocol] }

// Checksum returns the Header Checksum field.
func (b IPv4) Checksum() uint16 { return binary.BigEndian.Uint16(b[ipv4Checksum:]) }

// Src returns the source address.
func (b IPv4) Src() netip.Addr { return netip.AddrFrom4([4]byte(b[ipv4Src:])) }

// Dst returns the destination address.
func (b IPv4) Dst() netip.Addr { return netip.AddrFrom4([4]byte(b[ipv4Dst:])) }

// DontFragment reports whether the DF flag is set.
func (b IPv4) DontFragment() bool {
	return binary.BigEndian.Uint16(b[ipv4FlagsFrag:])&ipv4FlagDF != 0
}

// IsFragment reports whether b is a fragment of a larger datagram: More
// Fragments is set or the fragment offset is not zero (RFC 791 §3.2).
func (b IPv4) IsFragment() bool {
	return binary.BigEndian.Uint16(b[ipv4FlagsFrag:])&(ipv4FlagMF|ipv4FragOffset) != 0
}

// MoreFragments reports whether the MF flag is set: another fragment of
// the datagram follows (RFC 791 §3.1).
func (b IPv4) MoreFragments() bool {
	return binary.BigEndian.Uint16(b[ipv4FlagsFrag:])&ipv4FlagMF != 0
}

// FragmentOffset returns where this fragment's data goes in the datagram's
// payload, in bytes: the 13-bit field counts 8-byte units.
func (b IPv4) FragmentOffset() int {
	return int(binary.BigEndian.Uint16(b[ipv4FlagsFrag:])&ipv4FragOffset) * 8
}

// SetFragment makes the header that of a fragment with Identification id,
// data at offset bytes (a multiple of 8, at most 65528) and the MF flag
// more; Don't Fragment is cleared (RFC 791 §3.2: a datagram being
// fragmented may not have DF). Offset 0 without more makes it a whole
// datagram again. The header checksum is not updated: call
// [IPv4.SetChecksum] after the last change.
func (b IPv4) SetFragment(id uint16, offset int, more bool) {
	binary.BigEndian.PutUint16(b[ipv4ID:], id)
	f := uint16(offset/8) & ipv4FragOffset
	if more {
		f |= ipv4FlagMF
	}
	binary.BigEndian.PutUint16(b[ipv4FlagsFrag:], f)
}

// SetTotalLen sets the Total Length field to n, header included. The
// header checksum is not updated.
func (b IPv4) SetTotalLen(n int) { binary.BigEndian.PutUint16(b[ipv4TotalLen:], uint16(n)) }

// Options returns the options area of the header, possibly empty.
func (b IPv4) Options() []byte { return b[ipv4HeaderLen:b.HeaderLen()] }

// Payload returns the bytes after the header up to the total length; bytes
// past the total length (link padding) are left out.
func (b IPv4) Payload() []byte { return b[b.HeaderLen():b.TotalLen()] }

// VerifyChecksum reports whether the header checksum is correct.
func (b IPv4) VerifyChecksum() bool { return Fold(Sum(b[:b.HeaderLen()], 0)) == 0 }

// SetChecksum computes the header checksum and stores it. The header length
// field must already be set.
func (b IPv4) SetChecksum() {
	b[ipv4Checksum], b[ipv4Checksum+1] = 0, 0
	binary.BigEndian.PutUint16(b[ipv4Checksum:], Fold(Sum(b[:b.HeaderLen()], 0)))
}

func parseIPv4(b IPv4, out *IPPacket) error {
	if err := b.Check(); err != nil {
		return err
	}
	if !b.VerifyChecksum() {
		return ErrChecksum
	}
	*out = IPPacket{Src: b.Src(), Dst: b.Dst(), Protocol: b.Protocol(), Payload: b.Payload()}
	if b.IsFragment() {
		out.Fragment = IPFragment{ID: uint32(b.ID()), Offset: b.FragmentOffset(), More: b.MoreFragments(),
			HeaderLen: b.HeaderLen()}
		return ErrFragment
	}
	return nil
}

func putIPv4Header(b []byte, src, dst netip.Addr, proto uint8, payloadLen int, ttl uint8) int {
	h := b[:ipv4HeaderLen]
	h[ipv4VerIHL] = 4<<4 | ipv4HeaderLen/4
	h[ipv4TOS] = 0
	binary.BigEndian.PutUint16(h[ipv4TotalLen:], uint16(ipv4HeaderLen+payloadLen))
	binary.BigEndian.PutUint16(h[ipv4ID:], 0)
	binary.BigEndian.PutUint16(h[ipv4FlagsFrag:], ipv4FlagDF)
	h[ipv4TTL] = ttl
	h[ipv4Protocol] = proto
	var s [4]byte
	if src.Is4() || src.Is4In6() {
		s = src.As4()
	}
	copy(h[ipv4Src:], s[:])
	d := dst.As4()
	copy(h[ipv4Dst:], d[:])
	IPv4(h).SetChecksum()
	return ipv4HeaderLen
}
