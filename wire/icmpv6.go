package wire

import (
	"encoding/binary"
	"net/netip"
)

// ICMPv6 message types this package interprets: RFC 4443 §2.1. Types below
// 128 are errors, the others informational.
// https://www.rfc-editor.org/rfc/rfc4443#section-2.1
const (
	ICMPv6DestUnreachable = 1
	ICMPv6PacketTooBig    = 2
	ICMPv6TimeExceeded    = 3
	ICMPv6ParamProblem    = 4
	ICMPv6EchoRequest     = 128
	ICMPv6EchoReply       = 129
)

// ICMPv6 Destination Unreachable codes: RFC 4443 §3.1.
const (
	ICMPv6NoRoute         = 0
	ICMPv6AdminProhibited = 1
	ICMPv6BeyondScope     = 2
	ICMPv6AddrUnreachable = 3
	ICMPv6PortUnreachable = 4
	ICMPv6SourcePolicy    = 5
	ICMPv6RejectRoute     = 6
)

// ICMPv6 is a view over an ICMPv6 message (RFC 4443): the 8-byte header and
// the body after it. Call [ICMPv6.Check] first; after it returns nil, no
// accessor panics. Accessors read the bytes in place and do not allocate.
type ICMPv6 []byte

// Check reports ErrTruncated if b is shorter than 8 bytes, the header every
// message RFC 4443 defines has. It does not verify the checksum (see
// [ICMPv6.VerifyChecksum]).
func (b ICMPv6) Check() error {
	if len(b) < icmpHeaderLen {
		return ErrTruncated
	}
	return nil
}

// Type returns the message type, such as [ICMPv6PacketTooBig].
func (b ICMPv6) Type() uint8 { return b[icmpType] }

// Code returns the code, such as [ICMPv6AddrUnreachable].
func (b ICMPv6) Code() uint8 { return b[icmpCode] }

// Checksum returns the checksum field.
func (b ICMPv6) Checksum() uint16 { return binary.BigEndian.Uint16(b[icmpChecksum:]) }

// Ident returns the identifier of an echo request or reply (RFC 4443 §4).
func (b ICMPv6) Ident() uint16 { return binary.BigEndian.Uint16(b[icmpRest:]) }

// SeqNum returns the sequence number of an echo request or reply.
func (b ICMPv6) SeqNum() uint16 { return binary.BigEndian.Uint16(b[icmpSeqNum:]) }

// MTU returns the MTU of a packet-too-big message: RFC 4443 §3.2.
func (b ICMPv6) MTU() uint32 { return binary.BigEndian.Uint32(b[icmpRest:]) }

// Body returns the bytes after the header: an echo's data, or the start of
// the packet an error message is about (see [ICMPInvoking.Parse]).
func (b ICMPv6) Body() []byte { return b[icmpHeaderLen:] }

// VerifyChecksum reports whether the checksum of b, as received from src to
// dst, is correct: RFC 4443 §2.3, over the IPv6 pseudo-header of RFC 8200
// §8.1 and the whole message. It does not need [ICMPv6.Check].
func (b ICMPv6) VerifyChecksum(src, dst netip.Addr) bool {
	return Fold(Sum(b, PseudoHeaderSum(src, dst, ProtoICMPv6, len(b)))) == 0
}

// SetChecksum computes the checksum of b sent from src to dst (see
// [ICMPv6.VerifyChecksum]) and stores it. b must be at least 4 bytes long.
func (b ICMPv6) SetChecksum(src, dst netip.Addr) {
	b[icmpChecksum], b[icmpChecksum+1] = 0, 0
	sum := Fold(Sum(b, PseudoHeaderSum(src, dst, ProtoICMPv6, len(b))))
	binary.BigEndian.PutUint16(b[icmpChecksum:], sum)
}
