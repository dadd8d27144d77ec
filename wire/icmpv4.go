package wire

import "encoding/binary"

// ICMPv4 message types this package interprets: RFC 792, with Source Quench
// deprecated by RFC 6633. https://www.rfc-editor.org/rfc/rfc792
const (
	ICMPv4EchoReply       = 0
	ICMPv4DestUnreachable = 3
	ICMPv4SourceQuench    = 4
	ICMPv4Redirect        = 5
	ICMPv4EchoRequest     = 8
	ICMPv4TimeExceeded    = 11
	ICMPv4ParamProblem    = 12
)

// ICMPv4 Destination Unreachable codes: RFC 792 (0–5), RFC 1122 §3.2.2.1
// (6–12) and RFC 1812 §5.2.7.1 (13–15).
// https://www.rfc-editor.org/rfc/rfc1812#section-5.2.7.1
const (
	ICMPv4NetUnreachable      = 0
	ICMPv4HostUnreachable     = 1
	ICMPv4ProtocolUnreachable = 2
	ICMPv4PortUnreachable     = 3
	// ICMPv4FragmentationNeeded is "fragmentation needed and DF set"; since
	// RFC 1191 §4 it carries the next-hop MTU.
	ICMPv4FragmentationNeeded = 4
	ICMPv4SourceRouteFailed   = 5
	ICMPv4NetUnknown          = 6
	ICMPv4HostUnknown         = 7
	ICMPv4HostIsolated        = 8
	ICMPv4NetProhibited       = 9
	ICMPv4HostProhibited      = 10
	ICMPv4NetUnreachableTOS   = 11
	ICMPv4HostUnreachableTOS  = 12
	ICMPv4AdminProhibited     = 13
	ICMPv4HostPrecedence      = 14
	ICMPv4PrecedenceCutoff    = 15
)

// Field offsets shared by ICMPv4 and ICMPv6 (RFC 792, RFC 4443 §2.1): type,
// code, checksum, then four bytes whose meaning depends on the type.
const (
	icmpType      = 0
	icmpCode      = 1
	icmpChecksum  = 2
	icmpRest      = 4 // identifier, MTU, pointer or unused
	icmpSeqNum    = 6
	icmpHeaderLen = 8
)

// ICMPv4 is a view over an ICMPv4 message (RFC 792): the 8-byte header and
// the body after it. Call [ICMPv4.Check] first; after it returns nil, no
// accessor panics. Accessors read the bytes in place and do not allocate.
type ICMPv4 []byte

// Check reports ErrTruncated if b is shorter than the 8 bytes every ICMPv4
// message has. It does not verify the checksum (see
// [ICMPv4.VerifyChecksum]).
func (b ICMPv4) Check() error {
	if len(b) < icmpHeaderLen {
		return ErrTruncated
	}
	return nil
}

// Type returns the message type, such as [ICMPv4EchoRequest].
func (b ICMPv4) Type() uint8 { return b[icmpType] }

// Code returns the code, such as [ICMPv4HostUnreachable].
func (b ICMPv4) Code() uint8 { return b[icmpCode] }

// Checksum returns the checksum field.
func (b ICMPv4) Checksum() uint16 { return binary.BigEndian.Uint16(b[icmpChecksum:]) }

// Ident returns the identifier of an echo request or reply.
func (b ICMPv4) Ident() uint16 { return binary.BigEndian.Uint16(b[icmpRest:]) }

// SeqNum returns the sequence number of an echo request or reply.
func (b ICMPv4) SeqNum() uint16 { return binary.BigEndian.Uint16(b[icmpSeqNum:]) }

// NextHopMTU returns the next-hop MTU of a fragmentation-needed message
// (RFC 1191 §4); routers older than RFC 1191 send 0.
func (b ICMPv4) NextHopMTU() uint16 { return binary.BigEndian.Uint16(b[icmpSeqNum:]) }

// Body returns the bytes after the header: an echo's data, or the start of
// the packet an error message is about (see [ICMPInvoking.Parse]).
func (b ICMPv4) Body() []byte { return b[icmpHeaderLen:] }

// VerifyChecksum reports whether the checksum over the whole message is
// correct (RFC 792: no pseudo-header). It does not need [ICMPv4.Check].
func (b ICMPv4) VerifyChecksum() bool { return Fold(Sum(b, 0)) == 0 }

// SetChecksum computes the checksum over the whole message and stores it.
// b must be at least 4 bytes long.
func (b ICMPv4) SetChecksum() {
	b[icmpChecksum], b[icmpChecksum+1] = 0, 0
	binary.BigEndian.PutUint16(b[icmpChecksum:], Fold(Sum(b, 0)))
}
