package link

import (
	"encoding/binary"
	"errors"

	"github.com/synack-go/synack/wire"
)

// What a software stand-in for a NIC's offloads needs of IP and TCP.
const (
	ipv4TotalLen = 2
	ipv4ID       = 4
	ipv4Checksum = 10
	ipv6PayLen   = 4
	ipv6HdrLen   = 40
	tcpSeqOff    = 4
	tcpFlagsOff  = 13
	tcpCsumOff   = 16
	tcpFIN       = 0x01
	tcpPSH       = 0x08
	tcpCWR       = 0x80
)

// Bounds on what SegmentTCP accepts, so that hostile metadata cannot make
// it produce thousands of copies of a long header: Linux's smallest MSS
// (TCP_MIN_MSS, 88) is above the first, and IP and TCP headers with every
// option are below the second.
const (
	minGSOSize    = 64
	maxGSOHeaders = 256
)

// ErrBadGSO is returned for a packet whose metadata does not fit its bytes.
var ErrBadGSO = errors.New("link: packet does not match its offload metadata")

// CompleteChecksum fills the transport checksum of a packet marked
// NeedsChecksum, as a link with TxChecksum would: the field holds the
// pseudo-header sum, and the sum from CsumStart to the end of pkt goes
// there, complemented. It clears the flag in m. Packets without the flag
// are left alone.
func CompleteChecksum(pkt []byte, m *Meta) error {
	if m.Flags&NeedsChecksum == 0 {
		return nil
	}
	at := int(m.CsumStart) + int(m.CsumOffset)
	if int(m.CsumStart) > len(pkt) || at+2 > len(pkt) {
		return ErrBadGSO
	}
	sum := wire.Fold(wire.Sum(pkt[m.CsumStart:], 0))
	binary.BigEndian.PutUint16(pkt[at:], sum)
	m.Flags &^= NeedsChecksum
	return nil
}

// SegmentTCP cuts pkt, a TCP packet marked GSOTCPv4 or GSOTCPv6 with
// NeedsChecksum, into segments of m.GSOSize payload bytes as a NIC's TSO
// does, and calls emit with each, complete with its own headers and
// checksums, in a buffer valid until emit returns: IPv4 total length, ID
// (counting up from the packet's) and header checksum, IPv6 payload length,
// TCP sequence number, and PSH, FIN only on the last segment and CWR only
// on the first (Linux's tcp_gso_segment). A packet without a GSO type goes
// to emit whole, its checksum completed. scratch must hold
// m.HdrLen+m.GSOSize bytes.
func SegmentTCP(pkt []byte, m *Meta, scratch []byte, emit func(seg []byte)) error {
	if m.GSO == GSONone {
		if err := CompleteChecksum(pkt, m); err != nil {
			return err
		}
		emit(pkt)
		return nil
	}
	v4 := m.GSO == GSOTCPv4
	if !v4 && m.GSO != GSOTCPv6 || m.Flags&NeedsChecksum == 0 || m.GSOSize < minGSOSize {
		return ErrBadGSO
	}
	hl, th := int(m.HdrLen), int(m.CsumStart)
	if hl > maxGSOHeaders {
		return ErrBadGSO
	}
	version := byte(6)
	if v4 {
		version = 4
	}
	if hl > len(pkt) || th+20 > hl || int(m.CsumOffset) != tcpCsumOff || pkt[0]>>4 != version {
		return ErrBadGSO
	}
	if len(scratch) < hl+int(m.GSOSize) {
		return ErrBadGSO
	}
	hdr, payload := pkt[:hl], pkt[hl:]
	flags := hdr[th+tcpFlagsOff]
	seq := binary.BigEndian.Uint32(hdr[th+tcpSeqOff:])
	var id uint16
	if v4 {
		id = binary.BigEndian.Uint16(hdr[ipv4ID:])
	}
	for first := true; first || len(payload) > 0; first = false {
		n := min(len(payload), int(m.GSOSize))
		seg := scratch[:hl+n]
		copy(seg, hdr)
		copy(seg[hl:], payload[:n])
		payload = payload[n:]
		f := flags
		if len(payload) > 0 {
			f &^= tcpFIN | tcpPSH
		}
		if !first {
			f &^= tcpCWR
		}
		seg[th+tcpFlagsOff] = f
		binary.BigEndian.PutUint32(seg[th+tcpSeqOff:], seq)
		seq += uint32(n)
		tcpLen := len(seg) - th
		var pseudo uint64
		if v4 {
			binary.BigEndian.PutUint16(seg[ipv4TotalLen:], uint16(len(seg)))
			binary.BigEndian.PutUint16(seg[ipv4ID:], id)
			id++
			seg[ipv4Checksum], seg[ipv4Checksum+1] = 0, 0
			binary.BigEndian.PutUint16(seg[ipv4Checksum:], wire.Fold(wire.Sum(seg[:th], 0)))
			pseudo = wire.Sum(seg[12:20], uint64(wire.ProtoTCP)+uint64(tcpLen))
		} else {
			binary.BigEndian.PutUint16(seg[ipv6PayLen:], uint16(len(seg)-ipv6HdrLen))
			pseudo = wire.Sum(seg[8:40], uint64(wire.ProtoTCP)+uint64(tcpLen))
		}
		seg[th+tcpCsumOff], seg[th+tcpCsumOff+1] = 0, 0
		binary.BigEndian.PutUint16(seg[th+tcpCsumOff:], wire.Fold(wire.Sum(seg[th:], pseudo)))
		emit(seg)
	}
	return nil
}

// Splitter turns packets that carry a virtio-net header into plain
// packets, as a NIC without offloads would have delivered them: checksums
// completed, TSO and GRO packets cut into segments of at most their
// GSOSize. A link with offloads uses it to serve ReadBatch, for readers
// (wrappers that hide the offloads) that expect plain packets; the stack
// reads with ReadPackets and never needs it. The zero value is ready; a
// Splitter is not safe for concurrent use.
type Splitter struct {
	scratch []byte // one segment being built
	segs    []byte // the segments of the last packet, back to back
	ends    []int  // where each segment ends in segs
	next    int    // the next segment to hand out
}

// Load takes pkt, a virtio-net header followed by a packet, and cuts it
// into segments for Next, dropping what remained of the last one. It
// fails, keeping nothing, on a header or packet it cannot make sense of
// (UDP segmentation, for one).
func (s *Splitter) Load(pkt []byte) error {
	s.segs, s.ends, s.next = s.segs[:0], s.ends[:0], 0
	var m Meta
	if err := DecodeVirtioNetHdr(pkt, &m); err != nil {
		return err
	}
	if s.scratch == nil {
		s.scratch = make([]byte, 65535)
	}
	err := SegmentTCP(pkt[VirtioNetHdrLen:], &m, s.scratch, func(seg []byte) {
		s.segs = append(s.segs, seg...)
		s.ends = append(s.ends, len(s.segs))
	})
	if err != nil {
		s.segs, s.ends = s.segs[:0], s.ends[:0]
	}
	return err
}

// Segments returns how many segments the last Load made.
func (s *Splitter) Segments() int { return len(s.ends) }

// Pending reports whether segments wait to be handed out.
func (s *Splitter) Pending() bool { return s.next < len(s.ends) }

// Next copies the next segment into dst and returns its length, cut short
// to len(dst). It must only be called while Pending.
func (s *Splitter) Next(dst []byte) int {
	start := 0
	if s.next > 0 {
		start = s.ends[s.next-1]
	}
	n := copy(dst, s.segs[start:s.ends[s.next]])
	s.next++
	return n
}
