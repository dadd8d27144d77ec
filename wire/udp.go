package wire

import (
	"encoding/binary"
	"net/netip"
)

// Field offsets of the UDP header (RFC 768).
// https://www.rfc-editor.org/rfc/rfc768
const (
	udpSrcPort   = 0
	udpDstPort   = 2
	udpLength    = 4
	udpChecksum  = 6
	UDPHeaderLen = 8 // UDPHeaderLen is the size of the UDP header: ports, length, checksum.
)

// UDP is a view over a UDP datagram: the 8-byte header and the data. Call
// [UDP.Check] first; after it returns nil, no accessor panics. Accessors
// read the bytes in place and do not allocate.
type UDP []byte

// Check reports whether b holds a structurally valid UDP datagram:
// ErrTruncated if b is shorter than 8 bytes or than the Length field says;
// ErrMalformed if the Length field is under 8 (RFC 768: it counts the
// header). Bytes past Length (link padding) are allowed and left out of
// [UDP.Payload]. The checksum is not verified (see [UDP.VerifyChecksum]).
func (b UDP) Check() error {
	if len(b) < UDPHeaderLen {
		return ErrTruncated
	}
	n := b.Length()
	if n < UDPHeaderLen {
		return ErrMalformed
	}
	if n > len(b) {
		return ErrTruncated
	}
	return nil
}

// SrcPort returns the source port; 0 means "none" (RFC 768: a reply has
// nowhere to go).
func (b UDP) SrcPort() uint16 { return binary.BigEndian.Uint16(b[udpSrcPort:]) }

// DstPort returns the destination port.
func (b UDP) DstPort() uint16 { return binary.BigEndian.Uint16(b[udpDstPort:]) }

// Length returns the Length field: header and data in bytes.
func (b UDP) Length() int { return int(binary.BigEndian.Uint16(b[udpLength:])) }

// Checksum returns the checksum field; 0 means the sender computed none
// (allowed over IPv4 only).
func (b UDP) Checksum() uint16 { return binary.BigEndian.Uint16(b[udpChecksum:]) }

// Payload returns the data after the header, cut at the Length field. It
// aliases b.
func (b UDP) Payload() []byte { return b[UDPHeaderLen:b.Length()] }

// udpSum folds the one's-complement sum of the pseudo-header and b: the
// value to store when b's checksum field is zero, 0 when b verifies.
func udpSum(b []byte, src, dst netip.Addr) uint16 {
	return Fold(Sum(b, PseudoHeaderSum(src, dst, ProtoUDP, len(b))))
}

// SetChecksum computes the checksum of b, the whole datagram of b.Length()
// bytes, sent from src to dst, over the pseudo-header (RFC 768 for IPv4,
// RFC 8200 §8.1 for IPv6), and stores it. A computed checksum of zero is
// sent as 0xFFFF, its other one's-complement form, since a zero field
// means "no checksum" (RFC 768) or is invalid (IPv6). b must be at least 8
// bytes long.
func (b UDP) SetChecksum(src, dst netip.Addr) {
	b[udpChecksum], b[udpChecksum+1] = 0, 0
	sum := udpSum(b, src, dst)
	if sum == 0 {
		sum = 0xffff
	}
	binary.BigEndian.PutUint16(b[udpChecksum:], sum)
}

// VerifyChecksum reports whether the checksum of b, received from src to
// dst, is acceptable. Over IPv4 a zero checksum field means the sender
// computed none (RFC 768) and is accepted as RFC 1122 §4.1.3.4 requires.
// Over IPv6 the checksum is mandatory, and a zero field makes the datagram
// invalid (RFC 8200 §8.1; RFC 6936's exceptions for tunnels are not
// supported). b must hold exactly the datagram, as cut by the IP length
// (see [UDP.Check]: b[:b.Length()]). It does not need Check.
func (b UDP) VerifyChecksum(src, dst netip.Addr) bool {
	if len(b) < UDPHeaderLen {
		return false
	}
	if b.Checksum() == 0 {
		return src.Is4() && dst.Is4()
	}
	return udpSum(b, src, dst) == 0
}

// UDPDatagram is the meaning of a UDP datagram: what [UDPDatagram.Parse]
// reads from a [UDP] view and what [UDPDatagram.Emit] writes back. The
// checksum belongs to the view ([UDP.SetChecksum], [UDP.VerifyChecksum]),
// since it needs the addresses.
type UDPDatagram struct {
	SrcPort, DstPort uint16
	// Payload is the data. After Parse it aliases the parsed buffer.
	Payload []byte
}

// Parse checks b (see [UDP.Check]) and fills d from it, replacing all it
// held; d.Payload aliases b. It does not verify the checksum. It never
// allocates or panics; on error, d is unspecified.
func (d *UDPDatagram) Parse(b UDP) error {
	if err := b.Check(); err != nil {
		return err
	}
	*d = UDPDatagram{SrcPort: b.SrcPort(), DstPort: b.DstPort(), Payload: b.Payload()}
	return nil
}

// Len returns the number of bytes Emit writes: 8 plus the payload.
func (d *UDPDatagram) Len() int { return UDPHeaderLen + len(d.Payload) }

// Emit writes the datagram from src to dst into out[:d.Len()], checksum
// included (see [UDP.SetChecksum]), and returns d.Len(). The caller keeps
// the payload under 65528 bytes, so that the Length field holds it. d.Payload
// may overlap out: it is moved as by copy before the header is written.
// Emit panics only if out is shorter than d.Len().
func (d *UDPDatagram) Emit(out []byte, src, dst netip.Addr) int {
	n := d.Len()
	out = out[:n]
	copy(out[UDPHeaderLen:], d.Payload) // first: the payload may lie where the header goes
	binary.BigEndian.PutUint16(out[udpSrcPort:], d.SrcPort)
	binary.BigEndian.PutUint16(out[udpDstPort:], d.DstPort)
	binary.BigEndian.PutUint16(out[udpLength:], uint16(n))
	UDP(out).SetChecksum(src, dst)
	return n
}
