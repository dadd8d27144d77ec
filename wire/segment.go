package wire

import "encoding/binary"

// TCPSegment is the meaning of a TCP segment: what [TCPSegment.Parse] reads
// from a [TCP] view and what [TCPSegment.Emit] writes back. It holds no
// addresses; the checksum belongs to the view ([TCP.SetChecksum],
// [TCP.VerifyChecksum]).
type TCPSegment struct {
	SrcPort, DstPort uint16
	Seq, Ack         Seq
	Flags            TCPFlags
	// Window is the window field as sent, not scaled.
	Window uint16
	Urgent uint16
	// Options are the parsed options; unknown ones are not kept.
	Options TCPOptions
	// Payload is the segment's data. After Parse it aliases the parsed
	// buffer.
	Payload []byte
}

// Parse checks b (see [TCP.Check]), parses its options (see
// [TCPOptions.Parse]) and fills s, replacing all it held; s.Payload aliases
// b. It returns ErrTruncated or ErrMalformed for a bad header and does not
// verify the checksum. It never allocates or panics. On error, s is
// unspecified.
func (s *TCPSegment) Parse(b TCP) error {
	if err := b.Check(); err != nil {
		return err
	}
	if err := s.Options.Parse(b.Options()); err != nil {
		return err
	}
	s.SrcPort = b.SrcPort()
	s.DstPort = b.DstPort()
	s.Seq = b.Seq()
	s.Ack = b.Ack()
	s.Flags = b.Flags()
	s.Window = b.Window()
	s.Urgent = b.Urgent()
	s.Payload = b.Payload()
	return nil
}

// HeaderLen returns the length of the header Emit writes: 20 bytes plus
// [TCPOptions.Len].
func (s *TCPSegment) HeaderLen() int { return tcpHeaderLen + s.Options.Len() }

// Len returns the number of bytes Emit writes: header and payload.
func (s *TCPSegment) Len() int { return s.HeaderLen() + len(s.Payload) }

// SeqLen returns the sequence space the segment occupies (RFC 9293 §3.4):
// its data length, plus one for SYN and one for FIN.
func (s *TCPSegment) SeqLen() uint32 {
	n := uint32(len(s.Payload))
	if s.Flags&SYN != 0 {
		n++
	}
	if s.Flags&FIN != 0 {
		n++
	}
	return n
}

// Emit writes the segment, header, options (see [TCPOptions.Emit]) and
// payload, into out[:s.Len()] and returns s.Len(). The checksum field is left
// 0: fill it with [TCP.SetChecksum] once the addresses are known. The reserved
// bits are written as 0. s.Payload may overlap out: it is moved
// as by copy before the header is written. Emit
// panics only if out is shorter than s.Len().
func (s *TCPSegment) Emit(out []byte) int {
	hl := s.HeaderLen()
	n := hl + len(s.Payload)
	out = out[:n]
	// The payload goes first so that a payload already inside out, even
	// where the header goes, is moved before the header overwrites it.
	copy(out[hl:], s.Payload)
	binary.BigEndian.PutUint16(out[tcpSrcPort:], s.SrcPort)
	binary.BigEndian.PutUint16(out[tcpDstPort:], s.DstPort)
	binary.BigEndian.PutUint32(out[tcpSeq:], uint32(s.Seq))
	binary.BigEndian.PutUint32(out[tcpAck:], uint32(s.Ack))
	out[tcpDataOffset] = byte(hl/4) << 4
	out[tcpFlags] = byte(s.Flags)
	binary.BigEndian.PutUint16(out[tcpWindow:], s.Window)
	binary.BigEndian.PutUint16(out[tcpChecksum:], 0)
	binary.BigEndian.PutUint16(out[tcpUrgent:], s.Urgent)
	s.Options.Emit(out[tcpHeaderLen:hl])
	return n
}
