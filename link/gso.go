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
	udpLenOff    = 4
	udpCsumOff   = 6
	ipv4HdrLen   = 20
	tcpFIN       = 0x01
	tcpPSH       = 0x08
	tcpCWR       = 0x80
)

// Bounds on what Segment accepts, so that hostile metadata cannot make
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

// Segment cuts pkt, a packet marked with a GSO type and NeedsChecksum,
// into segments of m.GSOSize payload bytes as a NIC's segmentation offload
// does, and calls emit with each, complete with its own headers and
// checksums, in a buffer valid until emit returns. Every segment gets its
// IPv4 total length, ID (counting up from the packet's) and header
// checksum, or IPv6 payload length. TCP (TSO): the sequence numbers follow
// on, PSH and FIN go on the last segment only and CWR on the first
// (Linux's tcp_gso_segment). UDP (USO): each segment is a datagram of its
// own with its length and checksum (Linux's __udp_gso_segment). A packet
// without a GSO type goes to emit whole, its checksum completed. scratch
// must hold m.HdrLen+m.GSOSize bytes.
func Segment(pkt []byte, m *Meta, scratch []byte, emit func(seg []byte)) error {
	if m.GSO == GSONone {
		if err := CompleteChecksum(pkt, m); err != nil {
			return err
		}
		emit(pkt)
		return nil
	}
	if m.Flags&NeedsChecksum == 0 || m.GSOSize < minGSOSize || len(pkt) == 0 {
		return ErrBadGSO
	}
	version := pkt[0] >> 4
	v4 := version == 4
	hl, th := int(m.HdrLen), int(m.CsumStart)
	proto, thMin, csumOff := uint8(wire.ProtoTCP), 20, tcpCsumOff
	switch {
	case m.GSO == GSOTCPv4 && v4, m.GSO == GSOTCPv6 && version == 6:
	case m.GSO == GSOUDPL4 && (v4 || version == 6):
		proto, thMin, csumOff = wire.ProtoUDP, 8, udpCsumOff
	default:
		return ErrBadGSO
	}
	if hl > maxGSOHeaders || hl > len(pkt) || th+thMin > hl || int(m.CsumOffset) != csumOff ||
		th < ipv4HdrLen || !v4 && th < ipv6HdrLen {
		return ErrBadGSO
	}
	if len(scratch) < hl+int(m.GSOSize) {
		return ErrBadGSO
	}
	hdr, payload := pkt[:hl], pkt[hl:]
	var flags byte
	var seq uint32
	if proto == wire.ProtoTCP {
		flags = hdr[th+tcpFlagsOff]
		seq = binary.BigEndian.Uint32(hdr[th+tcpSeqOff:])
	}
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
		tlen := len(seg) - th
		if proto == wire.ProtoTCP {
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
		} else {
			binary.BigEndian.PutUint16(seg[th+udpLenOff:], uint16(tlen))
		}
		var pseudo uint64
		if v4 {
			binary.BigEndian.PutUint16(seg[ipv4TotalLen:], uint16(len(seg)))
			binary.BigEndian.PutUint16(seg[ipv4ID:], id)
			id++
			seg[ipv4Checksum], seg[ipv4Checksum+1] = 0, 0
			binary.BigEndian.PutUint16(seg[ipv4Checksum:], wire.Fold(wire.Sum(seg[:th], 0)))
			pseudo = wire.Sum(seg[12:20], uint64(proto)+uint64(tlen))
		} else {
			binary.BigEndian.PutUint16(seg[ipv6PayLen:], uint16(len(seg)-ipv6HdrLen))
			pseudo = wire.Sum(seg[8:40], uint64(proto)+uint64(tlen))
		}
		seg[th+csumOff], seg[th+csumOff+1] = 0, 0
		sum := wire.Fold(wire.Sum(seg[th:], pseudo))
		if sum == 0 && proto == wire.ProtoUDP {
			sum = 0xffff // RFC 768: a computed zero is sent as all ones
		}
		binary.BigEndian.PutUint16(seg[th+csumOff:], sum)
		emit(seg)
	}
	return nil
}

// Splitter turns packets that carry a virtio-net header into plain
// packets, as a NIC without offloads would have delivered them: checksums
// completed, TSO, USO and GRO packets cut into segments of at most their
// GSOSize (Segment). A link with offloads uses it to serve ReadBatch, for readers
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
// fails, keeping nothing, on a header or packet it cannot make sense of.
func (s *Splitter) Load(pkt []byte) error {
	s.segs, s.ends, s.next = s.segs[:0], s.ends[:0], 0
	var m Meta
	if err := DecodeVirtioNetHdr(pkt, &m); err != nil {
		return err
	}
	if s.scratch == nil {
		s.scratch = make([]byte, 65535)
	}
	err := Segment(pkt[VirtioNetHdrLen:], &m, s.scratch, func(seg []byte) {
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
