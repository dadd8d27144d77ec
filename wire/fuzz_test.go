package wire

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
)

// fuzzSeeds returns realistic segments to start the fuzzers from: a Linux
// SYN, a SYN-ACK, data with SACK blocks, a bare ACK, an RST, and some
// broken headers.
func fuzzSeeds() [][]byte {
	segs := []TCPSegment{
		{SrcPort: 40000, DstPort: 80, Seq: 1000, Flags: SYN, Window: 64240,
			Options: TCPOptions{MSS: 1460, SACKPermitted: true, HasTS: true, TSVal: 1, HasWScale: true, WScale: 7}},
		{SrcPort: 80, DstPort: 40000, Seq: 5000, Ack: 1001, Flags: SYN | ACK, Window: 65160,
			Options: TCPOptions{MSS: 1460, SACKPermitted: true, HasTS: true, TSVal: 9, TSEcr: 1, HasWScale: true, WScale: 7}},
		{SrcPort: 80, DstPort: 40000, Seq: 5001, Ack: 1001, Flags: PSH | ACK, Window: 509,
			Options: TCPOptions{HasTS: true, TSVal: 10, TSEcr: 2, NumSACK: 3,
				SACK: [4]SACKBlock{{3000, 4000}, {5000, 6000}, {7000, 8000}}}, Payload: []byte("GET / HTTP/1.1\r\n\r\n")},
		{SrcPort: 1, DstPort: 2, Seq: 3, Ack: 4, Flags: ACK, Window: 5},
		{SrcPort: 1, DstPort: 2, Seq: 3, Flags: RST},
	}
	var seeds [][]byte
	for i := range segs {
		b := make([]byte, segs[i].Len())
		segs[i].Emit(b)
		seeds = append(seeds, b)
	}
	bad := bytes.Clone(seeds[0])
	bad[tcpHeaderLen+1] = 0 // MSS length 0
	seeds = append(seeds, bad, seeds[0][:30], make([]byte, 20), bytes.Repeat([]byte{0xff}, 60))
	return seeds
}

func FuzzTCPParse(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var s TCPSegment
		if err := s.Parse(TCP(data)); err != nil {
			return
		}
		b := TCP(data)
		// Every accessor is safe after a successful Parse (which ran Check).
		_ = b.SrcPort() + b.DstPort() + b.Window() + b.Checksum() + b.Urgent()
		_, _, _ = b.Seq(), b.Ack(), b.Flags().String()
		if b.DataOffset() < tcpHeaderLen || len(b.Options())+tcpHeaderLen != b.DataOffset() ||
			len(b.Payload()) != len(b)-b.DataOffset() {
			t.Fatalf("inconsistent view: offset %d options %d payload %d len %d",
				b.DataOffset(), len(b.Options()), len(b.Payload()), len(b))
		}
		if !bytes.Equal(s.Payload, b.Payload()) || s.Len() < s.HeaderLen() || s.HeaderLen() > 60 {
			t.Fatalf("Parse: payload or lengths wrong")
		}
		// Emit of the parsed meaning parses back to the same meaning.
		out := make([]byte, s.Len())
		if n := s.Emit(out); n != len(out) {
			t.Fatalf("Emit = %d, Len = %d", n, len(out))
		}
		var back TCPSegment
		if err := back.Parse(TCP(out)); err != nil {
			t.Fatalf("re-Parse of % x: %v", out, err)
		}
		want := s
		want.Options = normalized(s.Options)
		if d := segDiff(&back, &want); d != "" {
			t.Fatalf("round trip of % x:\n%s", data, d)
		}
		// Checksums never panic and agree with each other.
		a, z := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")
		TCP(out).SetChecksum(a, a)
		if !TCP(out).VerifyChecksum(a, a) {
			t.Fatalf("SetChecksum then VerifyChecksum failed")
		}
		_ = b.VerifyChecksum(z, z)
	})
}

func FuzzParseIP(f *testing.F) {
	for i, s := range fuzzSeeds() {
		for _, dst := range []netip.Addr{v4b, v6b} {
			src := v4a
			if dst.Is6() {
				src = v6a
			}
			hl := IPHeaderLen(dst)
			pkt := make([]byte, hl+len(s))
			PutIPHeader(pkt, src, dst, ProtoTCP, len(s), 64)
			copy(pkt[hl:], s)
			f.Add(pkt)
			if i == 0 && hl == 40 { // with a Hop-by-Hop header
				hbh := append([]byte{ProtoTCP, 0, 1, 4, 0, 0, 0, 0}, s...)
				pkt = make([]byte, hl+len(hbh))
				PutIPHeader(pkt, src, dst, ipv6HopByHop, len(hbh), 64)
				copy(pkt[hl:], hbh)
				f.Add(pkt)
			}
		}
	}
	f.Add([]byte{0x45})
	f.Add([]byte{0x60})
	for _, s := range fragmentSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var p IPPacket
		err := ParseIP(data, &p)
		if err == ErrFragment {
			checkFragment(t, data, &p)
			return
		}
		if err != nil {
			return
		}
		if p.Fragment != (IPFragment{}) {
			t.Fatalf("Fragment set on a whole packet: %+v", p.Fragment)
		}
		// Payload lies inside data.
		if len(p.Payload) > len(data) || (len(p.Payload) > 0 && !contains(data, p.Payload)) {
			t.Fatalf("payload outside the packet")
		}
		if p.Protocol == ProtoTCP {
			var s TCPSegment
			_ = s.Parse(TCP(p.Payload))
		}
		// Rebuilding the packet from its meaning parses back the same.
		hl := IPHeaderLen(p.Dst)
		pkt := make([]byte, hl+len(p.Payload))
		if n := PutIPHeader(pkt, p.Src, p.Dst, p.Protocol, len(p.Payload), 1); n != hl {
			t.Fatalf("PutIPHeader = %d, IPHeaderLen = %d", n, hl)
		}
		copy(pkt[hl:], p.Payload)
		var back IPPacket
		if err := ParseIP(pkt, &back); err != nil {
			t.Fatalf("re-ParseIP of % x: %v", pkt, err)
		}
		if back.Src != p.Src || back.Dst != p.Dst || back.Protocol != p.Protocol || !bytes.Equal(back.Payload, p.Payload) {
			t.Fatalf("round trip: got %v %v %d % x\nwant %v %v %d % x", back.Src, back.Dst, back.Protocol, back.Payload,
				p.Src, p.Dst, p.Protocol, p.Payload)
		}
	})
}

// fragmentSeeds returns an IPv4 and an IPv6 fragment.
func fragmentSeeds() [][]byte {
	v4 := make([]byte, 20+16)
	PutIPHeader(v4, v4a, v4b, ProtoUDP, 16, 64)
	IPv4(v4).SetFragment(9, 1480, true)
	IPv4(v4).SetChecksum()
	v6 := make([]byte, 40+8+16)
	PutIPHeader(v6, v6a, v6b, ProtoIPv6Fragment, 8+16, 64)
	h := IPv6FragmentHeader{NextHeader: ProtoUDP, Offset: 1232, More: true, ID: 9}
	h.Emit(v6[40:])
	return [][]byte{v4, v6}
}

// checkFragment checks what ParseIP says of a fragment: the data follows
// the headers it counts, up to the IP length, and for IPv6 NextHeaderAt
// names the Fragment header.
func checkFragment(t *testing.T, data []byte, p *IPPacket) {
	t.Helper()
	f := &p.Fragment
	end := f.HeaderLen + len(p.Payload)
	if f.Offset%8 != 0 || f.Offset > 65528 || end > len(data) || (len(p.Payload) > 0 && &data[f.HeaderLen] != &p.Payload[0]) {
		t.Fatalf("fragment %+v with %d bytes of data in a packet of %d", *f, len(p.Payload), len(data))
	}
	if data[0]>>4 == 4 {
		if end != IPv4(data).TotalLen() || f.ID > 0xffff || f.NextHeaderAt != 0 {
			t.Fatalf("IPv4 fragment %+v, total length %d", *f, IPv4(data).TotalLen())
		}
		return
	}
	if end != 40+IPv6(data).PayloadLen() || f.NextHeaderAt >= f.HeaderLen-8 || data[f.NextHeaderAt] != ProtoIPv6Fragment {
		t.Fatalf("IPv6 fragment %+v, payload length %d", *f, IPv6(data).PayloadLen())
	}
}

// contains reports whether sub is a subslice of b's backing array within b.
func contains(b, sub []byte) bool {
	for i := range len(b) - len(sub) + 1 {
		if &b[i] == &sub[0] {
			return true
		}
	}
	return false
}

func FuzzTCPOptions(f *testing.F) {
	for _, s := range fuzzSeeds() {
		var b TCP = s
		if b.Check() == nil {
			f.Add(bytes.Clone(b.Options()))
		}
	}
	f.Add([]byte{optSACK, 2 + 8*6, 1, 2, 3})
	f.Add([]byte{253, 4, 0, 0, optNOP, optEOL, 2})
	f.Fuzz(func(t *testing.T, data []byte) {
		// As wire bytes: a successful parse re-emits to the same meaning.
		var o TCPOptions
		if o.Parse(data) == nil {
			roundTripOptions(t, o)
		}
		// As a struct: whatever the fields hold, Emit stays in bounds.
		roundTripOptions(t, optionsFromBytes(data))
	})
}

func roundTripOptions(t *testing.T, o TCPOptions) {
	t.Helper()
	n := o.Len()
	if n%4 != 0 || n > TCPMaxOptionsLen {
		t.Fatalf("Len() = %d for %+v", n, o)
	}
	out := make([]byte, n)
	if got := o.Emit(out); got != n {
		t.Fatalf("Emit = %d, Len = %d", got, n)
	}
	var back TCPOptions
	if err := back.Parse(out); err != nil {
		t.Fatalf("Parse(% x): %v", out, err)
	}
	if want := normalized(o); back != want {
		t.Fatalf("round trip via % x:\ngot  %+v\nwant %+v", out, back, want)
	}
}

// optionsFromBytes fills a TCPOptions from raw fuzz bytes, NumSACK included
// unchecked.
func optionsFromBytes(data []byte) TCPOptions {
	var buf [64]byte
	copy(buf[:], data)
	o := TCPOptions{
		MSS:           binary.BigEndian.Uint16(buf[0:]),
		HasWScale:     buf[2]&1 != 0,
		WScale:        buf[3],
		SACKPermitted: buf[2]&2 != 0,
		HasTS:         buf[2]&4 != 0,
		TSVal:         binary.BigEndian.Uint32(buf[4:]),
		TSEcr:         binary.BigEndian.Uint32(buf[8:]),
		NumSACK:       int(int8(buf[12])),
	}
	for i := range o.SACK {
		o.SACK[i] = SACKBlock{Seq(binary.BigEndian.Uint32(buf[16+8*i:])), Seq(binary.BigEndian.Uint32(buf[20+8*i:]))}
	}
	return o
}
