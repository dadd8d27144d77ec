package link

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/synack-go/synack/wire"
)

func TestVirtioNetHdrRoundTrip(t *testing.T) {
	m := Meta{Flags: NeedsChecksum, GSO: GSOTCPv6, HdrLen: 72, GSOSize: 1428, CsumStart: 40, CsumOffset: 16}
	var b [VirtioNetHdrLen]byte
	EncodeVirtioNetHdr(b[:], &m)
	var got Meta
	if err := DecodeVirtioNetHdr(b[:], &got); err != nil || got != m {
		t.Fatalf("decoded %+v, %v; want %+v", got, err, m)
	}
	// The ECN bit of gso_type is accepted and dropped.
	b[1] |= 0x80
	if err := DecodeVirtioNetHdr(b[:], &got); err != nil || got != m {
		t.Fatalf("with GSO_ECN: %+v, %v", got, err)
	}
	for _, bad := range [][]byte{b[:9], {4, 0, 0, 0, 0, 0, 0, 0, 0, 0}, {0, 2, 0, 0, 0, 0, 0, 0, 0, 0}} {
		if err := DecodeVirtioNetHdr(bad, &got); err != ErrBadVirtioHdr {
			t.Errorf("% x: %v, want ErrBadVirtioHdr", bad, err)
		}
	}
}

// tsoPacket builds a TCP packet of n payload bytes from src to dst, marked
// for TSO at mss, its checksum field holding the pseudo-header sum, as the
// stack hands one to a link.
func tsoPacket(src, dst netip.Addr, n, mss int, flags wire.TCPFlags) ([]byte, Meta) {
	payload := make([]byte, n)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	seg := wire.TCPSegment{SrcPort: 1, DstPort: 2, Seq: 1000, Ack: 7, Flags: flags, Window: 100, Payload: payload}
	seg.Options.HasTS, seg.Options.TSVal = true, 5
	hl := wire.IPHeaderLen(dst)
	pkt := make([]byte, hl+seg.Len())
	wire.PutIPHeader(pkt, src, dst, wire.ProtoTCP, seg.Len(), 64)
	seg.Emit(pkt[hl:])
	sum := wire.PseudoHeaderSum(src, dst, wire.ProtoTCP, seg.Len())
	binary.BigEndian.PutUint16(pkt[hl+16:], ^wire.Fold(sum))
	m := Meta{Flags: NeedsChecksum, GSO: GSOTCPv4, HdrLen: uint16(hl + seg.HeaderLen()), GSOSize: uint16(mss),
		CsumStart: uint16(hl), CsumOffset: 16}
	if dst.Is6() {
		m.GSO = GSOTCPv6
	}
	return pkt, m
}

// Segment cuts a TSO packet as Linux's tcp_gso_segment does: every
// segment valid on its own (IP and TCP checksums), sequence numbers
// following on, PSH and FIN on the last only, the payload unchanged.
func TestSegment(t *testing.T) {
	for _, fam := range []struct{ src, dst netip.Addr }{
		{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")},
		{netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::2")},
	} {
		pkt, m := tsoPacket(fam.src, fam.dst, 10000, 1448, wire.ACK|wire.PSH|wire.FIN)
		want := append([]byte(nil), pkt[m.HdrLen:]...)
		var got []byte
		var segs int
		seq := wire.Seq(1000)
		err := Segment(pkt, &m, make([]byte, 65535), func(b []byte) {
			segs++
			var ip wire.IPPacket
			if err := wire.ParseIP(b, &ip); err != nil {
				t.Fatalf("segment %d: %v", segs, err)
			}
			tcp := wire.TCP(ip.Payload)
			if !tcp.VerifyChecksum(ip.Src, ip.Dst) {
				t.Fatalf("segment %d: bad TCP checksum", segs)
			}
			var s wire.TCPSegment
			if err := s.Parse(tcp); err != nil {
				t.Fatal(err)
			}
			last := len(got)+len(s.Payload) == len(want)
			if s.Seq != seq || len(s.Payload) > 1448 || (s.Flags&(wire.PSH|wire.FIN) != 0) != last || !s.Options.HasTS {
				t.Fatalf("segment %d: seq %d, %d bytes, flags %v", segs, s.Seq, len(s.Payload), s.Flags)
			}
			seq = seq.Add(uint32(len(s.Payload)))
			got = append(got, s.Payload...)
		})
		if err != nil || segs != 7 || !bytes.Equal(got, want) {
			t.Fatalf("%v: %d segments, %d bytes, err %v", fam.dst, segs, len(got), err)
		}
	}
}

// CompleteChecksum fills what a link with TxChecksum fills.
func TestCompleteChecksum(t *testing.T) {
	src, dst := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	pkt, m := tsoPacket(src, dst, 999, 1448, wire.ACK)
	m.GSO = GSONone
	if err := CompleteChecksum(pkt, &m); err != nil || m.Flags != 0 {
		t.Fatal(err, m.Flags)
	}
	if !wire.TCP(pkt[20:]).VerifyChecksum(src, dst) {
		t.Fatal("checksum not completed")
	}
	m.Flags, m.CsumStart = NeedsChecksum, uint16(len(pkt))
	if err := CompleteChecksum(pkt, &m); err != ErrBadGSO {
		t.Fatalf("checksum past the end: %v", err)
	}
}

// A Splitter hands out a TSO packet's segments in order across calls.
func TestSplitter(t *testing.T) {
	src, dst := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	pkt, m := tsoPacket(src, dst, 3000, 1000, wire.ACK)
	framed := make([]byte, VirtioNetHdrLen+len(pkt))
	EncodeVirtioNetHdr(framed, &m)
	copy(framed[VirtioNetHdrLen:], pkt)
	var s Splitter
	if err := s.Load(framed); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	for i := range 3 {
		if !s.Pending() {
			t.Fatalf("only %d segments", i)
		}
		if n := s.Next(buf); n != 20+32+1000 {
			t.Fatalf("segment %d: %d bytes", i, n)
		}
	}
	if s.Pending() {
		t.Fatal("a fourth segment")
	}
	if err := s.Load(framed[:5]); err == nil || s.Pending() {
		t.Fatal("a short header loaded")
	}
}

// FuzzSplitter: any bytes, as a virtio-net header and a packet, are cut
// into segments or refused, never a panic; every segment fits its scratch.
func FuzzSplitter(f *testing.F) {
	src, dst := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	for _, n := range []int{0, 100, 3000} {
		pkt, m := tsoPacket(src, dst, n, 1000, wire.ACK)
		framed := make([]byte, VirtioNetHdrLen+len(pkt))
		EncodeVirtioNetHdr(framed, &m)
		copy(framed[VirtioNetHdrLen:], pkt)
		f.Add(framed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var s Splitter
		if s.Load(b) != nil {
			return
		}
		buf := make([]byte, 65535)
		for s.Pending() {
			s.Next(buf)
		}
	})
}

// Segment cuts a UDP GSO packet (USO) into datagrams of GSOSize bytes,
// each with its own length and a valid checksum, IPv4 and IPv6.
func TestSegmentUDP(t *testing.T) {
	for _, fam := range []struct{ src, dst netip.Addr }{
		{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")},
		{netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::2")},
	} {
		payload := make([]byte, 3000)
		for i := range payload {
			payload[i] = byte(i)
		}
		hl := wire.IPHeaderLen(fam.dst)
		ulen := wire.UDPHeaderLen + len(payload)
		pkt := make([]byte, hl+ulen)
		wire.PutIPHeader(pkt, fam.src, fam.dst, wire.ProtoUDP, ulen, 64)
		binary.BigEndian.PutUint16(pkt[hl:], 53)
		binary.BigEndian.PutUint16(pkt[hl+2:], 5353)
		binary.BigEndian.PutUint16(pkt[hl+4:], uint16(ulen))
		copy(pkt[hl+8:], payload)
		m := Meta{Flags: NeedsChecksum, GSO: GSOUDPL4, HdrLen: uint16(hl + 8), GSOSize: 1200, CsumStart: uint16(hl), CsumOffset: 6}
		var got []byte
		var n int
		err := Segment(pkt, &m, make([]byte, 65535), func(b []byte) {
			n++
			var ip wire.IPPacket
			if err := wire.ParseIP(b, &ip); err != nil {
				t.Fatalf("datagram %d: %v", n, err)
			}
			u := wire.UDP(ip.Payload)
			if u.Check() != nil || u.Length() != len(ip.Payload) || !u.VerifyChecksum(ip.Src, ip.Dst) {
				t.Fatalf("datagram %d: length %d of %d, checksum valid %v", n, u.Length(), len(ip.Payload), u.VerifyChecksum(ip.Src, ip.Dst))
			}
			got = append(got, u.Payload()...)
		})
		if err != nil || n != 3 || !bytes.Equal(got, payload) {
			t.Fatalf("%v: %d datagrams, %d bytes, %v", fam.dst, n, len(got), err)
		}
	}
}
