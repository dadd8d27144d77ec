package wire

import (
	"encoding/binary"
	"net/netip"
)

// Field offsets of the TCP header (RFC 9293 §3.1).
const (
	tcpSrcPort    = 0
	tcpDstPort    = 2
	tcpSeq        = 4
	tcpAck        = 8
	tcpDataOffset = 12 // high nibble: header length in 32-bit words
	tcpFlags      = 13
	tcpWindow     = 14
	tcpChecksum   = 16
	tcpUrgent     = 18
	tcpHeaderLen  = 20 // without options

	// TCPMaxOptionsLen is the most option bytes a header can carry: a 4-bit
	// data offset allows 60 header bytes, 20 of them fixed.
	TCPMaxOptionsLen = 40
)

// TCP is a view over a TCP segment: header, options and payload. Call
// [TCP.Check] first; after it returns nil, no accessor panics. Accessors read
// the bytes in place and do not allocate.
type TCP []byte

// Check reports whether b holds a structurally valid TCP header:
// ErrTruncated if b is shorter than 20 bytes or than the data offset;
// ErrMalformed if the data offset is under 5 words. The options are not
// examined (see [TCPSegment.Parse]) and the checksum is not verified (see
// [TCP.VerifyChecksum]).
func (b TCP) Check() error {
	if len(b) < tcpHeaderLen {
		return ErrTruncated
	}
	off := b.DataOffset()
	if off < tcpHeaderLen {
		return ErrMalformed
	}
	if off > len(b) {
		return ErrTruncated
	}
	return nil
}

// SrcPort returns the source port.
func (b TCP) SrcPort() uint16 { return binary.BigEndian.Uint16(b[tcpSrcPort:]) }

// DstPort returns the destination port.
func (b TCP) DstPort() uint16 { return binary.BigEndian.Uint16(b[tcpDstPort:]) }

// Seq returns the sequence number.
func (b TCP) Seq() Seq { return Seq(binary.BigEndian.Uint32(b[tcpSeq:])) }

// Ack returns the acknowledgment number, meaningful only with [ACK] set.
func (b TCP) Ack() Seq { return Seq(binary.BigEndian.Uint32(b[tcpAck:])) }

// DataOffset returns the header length in bytes, options included.
func (b TCP) DataOffset() int { return int(b[tcpDataOffset]>>4) * 4 }

// Flags returns the control bits. The reserved bits and the historic NS/AE
// bit in byte 12 are not included.
func (b TCP) Flags() TCPFlags { return TCPFlags(b[tcpFlags]) }

// Window returns the window field as sent, before any window scaling.
func (b TCP) Window() uint16 { return binary.BigEndian.Uint16(b[tcpWindow:]) }

// Checksum returns the checksum field.
func (b TCP) Checksum() uint16 { return binary.BigEndian.Uint16(b[tcpChecksum:]) }

// Urgent returns the urgent pointer, meaningful only with [URG] set.
func (b TCP) Urgent() uint16 { return binary.BigEndian.Uint16(b[tcpUrgent:]) }

// Options returns the options area of the header, possibly empty.
func (b TCP) Options() []byte { return b[tcpHeaderLen:b.DataOffset()] }

// Payload returns the data after the header; it aliases b.
func (b TCP) Payload() []byte { return b[b.DataOffset():] }

// SetChecksum computes the checksum over the pseudo-header for src and dst
// (see [PseudoHeaderSum]) and the whole of b, header and payload, and stores
// it. b must be at least 20 bytes long.
func (b TCP) SetChecksum(src, dst netip.Addr) {
	b[tcpChecksum], b[tcpChecksum+1] = 0, 0
	sum := Fold(Sum(b, PseudoHeaderSum(src, dst, ProtoTCP, len(b))))
	binary.BigEndian.PutUint16(b[tcpChecksum:], sum)
}

// VerifyChecksum reports whether the checksum of b, as received from src to
// dst, is correct. It reads every byte of b and does not need [TCP.Check].
func (b TCP) VerifyChecksum(src, dst netip.Addr) bool {
	return Fold(Sum(b, PseudoHeaderSum(src, dst, ProtoTCP, len(b)))) == 0
}
