package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
)

func TestUDPCheck(t *testing.T) {
	d := UDPDatagram{SrcPort: 53, DstPort: 40000, Payload: []byte("an answer")}
	good := make([]byte, d.Len())
	d.Emit(good, v4a, v4b)
	withLen := func(n int) []byte {
		b := bytes.Clone(good)
		binary.BigEndian.PutUint16(b[udpLength:], uint16(n))
		return b
	}
	for _, tc := range []struct {
		name    string
		b       []byte
		err     error
		payload string
	}{
		{"whole", good, nil, "an answer"},
		{"padding after length", append(bytes.Clone(good), 0, 0, 0), nil, "an answer"},
		{"length cuts the data", withLen(10), nil, "an"},
		{"header only", withLen(8), nil, ""},
		{"7 bytes", good[:7], ErrTruncated, ""},
		{"length past the end", withLen(len(good) + 1), ErrTruncated, ""},
		{"length under 8", withLen(7), ErrMalformed, ""},
		{"length 0", withLen(0), ErrMalformed, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got UDPDatagram
			err := got.Parse(UDP(tc.b))
			if !errors.Is(err, tc.err) {
				t.Fatalf("Parse = %v, want %v", err, tc.err)
			}
			if err == nil && (got.SrcPort != 53 || got.DstPort != 40000 || string(got.Payload) != tc.payload) {
				t.Fatalf("got %+v", got)
			}
		})
	}
}

// TestUDPChecksumRules checks the per-family rules for a zero checksum
// field: "none" over IPv4 (RFC 768, RFC 1122 §4.1.3.4), invalid over IPv6
// (RFC 8200 §8.1); and a computed zero is sent as 0xFFFF.
func TestUDPChecksumRules(t *testing.T) {
	for _, fam := range []struct {
		name     string
		src, dst netip.Addr
		zeroOK   bool
	}{{"IPv4", v4a, v4b, true}, {"IPv6", v6a, v6b, false}} {
		t.Run(fam.name, func(t *testing.T) {
			d := UDPDatagram{SrcPort: 1, DstPort: 2, Payload: []byte("payload!")}
			b := make([]byte, d.Len())
			d.Emit(b, fam.src, fam.dst)
			if !UDP(b).VerifyChecksum(fam.src, fam.dst) {
				t.Fatal("Emit's checksum does not verify")
			}
			b[len(b)-1] ^= 1
			if UDP(b).VerifyChecksum(fam.src, fam.dst) {
				t.Fatal("a flipped bit verifies")
			}
			binary.BigEndian.PutUint16(b[udpChecksum:], 0)
			if got := UDP(b).VerifyChecksum(fam.src, fam.dst); got != fam.zeroOK {
				t.Fatalf("zero checksum field: VerifyChecksum = %v, want %v", got, fam.zeroOK)
			}

			// Choose the last two payload bytes so that the checksum
			// computes to 0: the field must then read 0xFFFF and verify.
			d.Payload = append(bytes.Clone(d.Payload), 0, 0)
			z := make([]byte, d.Len())
			d.Emit(z, fam.src, fam.dst)
			// With a checksum field of 0, the sum is S and udpSum gives
			// c = ^S; adding c as a data word makes the sum 0xFFFF, whose
			// complement is 0.
			binary.BigEndian.PutUint16(z[udpChecksum:], 0)
			c := udpSum(z, fam.src, fam.dst)
			binary.BigEndian.PutUint16(z[len(z)-2:], c)
			copy(d.Payload, z[UDPHeaderLen:])
			if udpSum(z, fam.src, fam.dst) != 0 {
				t.Fatal("test construction: the sum is not zero")
			}
			d.Emit(z, fam.src, fam.dst)
			if UDP(z).Checksum() != 0xffff || !UDP(z).VerifyChecksum(fam.src, fam.dst) {
				t.Fatalf("computed zero checksum sent as %#04x", UDP(z).Checksum())
			}
		})
	}
}

func TestUDPVerifyShort(t *testing.T) {
	if UDP(make([]byte, 7)).VerifyChecksum(v4a, v4b) {
		t.Fatal("7 bytes verify")
	}
}

func TestUDPEmitOverlap(t *testing.T) {
	buf := make([]byte, 64)
	copy(buf, "overlapping payload")
	d := UDPDatagram{SrcPort: 7, DstPort: 9, Payload: buf[:19]}
	n := d.Emit(buf, v6a, v6b)
	var back UDPDatagram
	if err := back.Parse(UDP(buf[:n])); err != nil || string(back.Payload) != "overlapping payload" {
		t.Fatalf("Parse = %v, %q", err, back.Payload)
	}
}

func TestIPv4FragmentFields(t *testing.T) {
	pkt := make([]byte, 20+24)
	PutIPHeader(pkt, v4a, v4b, ProtoUDP, 24, 64)
	b := IPv4(pkt)
	if !b.DontFragment() || b.IsFragment() || b.MoreFragments() || b.FragmentOffset() != 0 {
		t.Fatal("PutIPHeader's header is not a whole datagram with DF")
	}
	b.SetFragment(0xbeef, 1480, true)
	b.SetChecksum()
	if b.DontFragment() || !b.IsFragment() || !b.MoreFragments() || b.FragmentOffset() != 1480 || b.ID() != 0xbeef {
		t.Fatalf("after SetFragment: DF %v MF %v offset %d id %#x", b.DontFragment(), b.MoreFragments(), b.FragmentOffset(), b.ID())
	}
	var p IPPacket
	if err := ParseIP(pkt, &p); !errors.Is(err, ErrFragment) {
		t.Fatalf("ParseIP = %v, want ErrFragment", err)
	}
	want := IPFragment{ID: 0xbeef, Offset: 1480, More: true, HeaderLen: 20}
	if p.Fragment != want || p.Protocol != ProtoUDP || p.Src != v4a || p.Dst != v4b || len(p.Payload) != 24 {
		t.Fatalf("ParseIP: %+v", p)
	}
	b.SetFragment(0xbeef, 65528, false)
	b.SetTotalLen(30)
	b.SetChecksum()
	if err := ParseIP(pkt[:30], &p); !errors.Is(err, ErrFragment) || p.Fragment.Offset != 65528 || p.Fragment.More || len(p.Payload) != 10 {
		t.Fatalf("last fragment: %v %+v", err, p)
	}
	b.SetFragment(7, 0, false)
	b.SetChecksum()
	if err := ParseIP(pkt[:30], &p); err != nil || p.Fragment != (IPFragment{}) {
		t.Fatalf("offset 0 without MF is a whole datagram: %v %+v", err, p.Fragment)
	}
}

func TestIPv6FragmentHeader(t *testing.T) {
	for _, h := range []IPv6FragmentHeader{
		{NextHeader: ProtoUDP, Offset: 0, More: true, ID: 1},
		{NextHeader: ProtoTCP, Offset: 65528, More: false, ID: 0xffffffff},
		{NextHeader: 60, Offset: 1232, More: true, ID: 0x12345678},
	} {
		var b [8]byte
		if n := h.Emit(b[:]); n != 8 {
			t.Fatalf("Emit = %d", n)
		}
		var back IPv6FragmentHeader
		if err := back.Parse(b[:]); err != nil || back != h {
			t.Fatalf("round trip of %+v: %+v, %v (% x)", h, back, err, b)
		}
		if b[1] != 0 || b[3]&6 != 0 {
			t.Fatalf("reserved bits set: % x", b)
		}
	}
	var h IPv6FragmentHeader
	if err := h.Parse(make([]byte, 7)); !errors.Is(err, ErrTruncated) {
		t.Fatalf("Parse of 7 bytes = %v", err)
	}
	// Reserved fields are ignored on input (RFC 8200 §4.5).
	if err := h.Parse([]byte{17, 0xff, 0x00, 0x0f, 0, 0, 0, 9}); err != nil || h.Offset != 8 || !h.More || h.ID != 9 {
		t.Fatalf("reserved bits: %+v %v", h, err)
	}
}

// TestParseIPv6FragmentPlacement checks HeaderLen and NextHeaderAt, which
// reassembly uses to rebuild the original packet (RFC 8200 §4.5).
func TestParseIPv6FragmentPlacement(t *testing.T) {
	fh := IPv6FragmentHeader{NextHeader: ProtoUDP, Offset: 16, More: true, ID: 42}
	var f [8]byte
	fh.Emit(f[:])
	data := []byte("0123456789abcdef")
	for _, tc := range []struct {
		name   string
		nh     uint8
		before []byte
		nhAt   int
	}{
		{"right after the fixed header", ProtoIPv6Fragment, nil, 6},
		{"after hop-by-hop", ipv6HopByHop, []byte{ProtoIPv6Fragment, 0, 1, 4, 0, 0, 0, 0}, 40},
		{"after hbh and routing", ipv6HopByHop, []byte{ipv6Routing, 0, 1, 4, 0, 0, 0, 0,
			ProtoIPv6Fragment, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 48},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rest := bytes.Join([][]byte{tc.before, f[:], data}, nil)
			// Link padding after the packet must not move the offsets.
			pkt := append(v6Packet(tc.nh, rest), "padding"...)
			var p IPPacket
			if err := ParseIP(pkt, &p); !errors.Is(err, ErrFragment) {
				t.Fatalf("ParseIP = %v", err)
			}
			want := IPFragment{ID: 42, Offset: 16, More: true, HeaderLen: 40 + len(tc.before) + 8, NextHeaderAt: tc.nhAt}
			if p.Fragment != want || p.Protocol != ProtoUDP || !bytes.Equal(p.Payload, data) {
				t.Fatalf("got %+v proto %d payload %q, want %+v", p.Fragment, p.Protocol, p.Payload, want)
			}
			if pkt[tc.nhAt] != ProtoIPv6Fragment {
				t.Fatalf("pkt[NextHeaderAt] = %d", pkt[tc.nhAt])
			}
		})
	}
}
