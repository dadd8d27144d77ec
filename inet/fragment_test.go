package inet

import (
	"bytes"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/synack-go/synack/wire"
)

// TestFragmentShape checks each fragment's fields as gopacket decodes them:
// offsets follow each other in multiples of 8, MF on all but the last, DF
// cleared, one ID, sizes within the MTU.
func TestFragmentShape(t *testing.T) {
	r := newRand(4)
	for _, v6 := range []bool{false, true} {
		src, dst, mtu := src4, dst4, 1500
		if v6 {
			src, dst, mtu = src6, dst6, 1280
		}
		pkt := udpPacket(r, src, dst, 4000)
		frags := fragments(t, pkt, mtu, 0xabcd1234)
		next := 0
		var data []byte
		for i, f := range frags {
			last := i == len(frags)-1
			if v6 {
				p := gopacket.NewPacket(f, layers.LayerTypeIPv6, gopacket.Default)
				fl := p.Layer(layers.LayerTypeIPv6Fragment).(*layers.IPv6Fragment)
				ip := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
				if int(fl.FragmentOffset)*8 != next || fl.MoreFragments == last || fl.Identification != 0xabcd1234 ||
					fl.NextHeader != layers.IPProtocolUDP || int(ip.Length) != len(f)-40 {
					t.Fatalf("fragment %d: %+v", i, fl)
				}
				data = append(data, fl.Payload...)
				next += len(fl.Payload)
				continue
			}
			p := gopacket.NewPacket(f, layers.LayerTypeIPv4, gopacket.Default)
			ip := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
			wantFlags := layers.IPv4MoreFragments
			if last {
				wantFlags = 0
			}
			if int(ip.FragOffset)*8 != next || ip.Flags != wantFlags || ip.Id != 0x1234 || int(ip.Length) != len(f) ||
				!wire.IPv4(f).VerifyChecksum() {
				t.Fatalf("fragment %d: id %#x offset %d flags %v", i, ip.Id, ip.FragOffset, ip.Flags)
			}
			if !last && len(ip.Payload)%8 != 0 {
				t.Fatalf("fragment %d carries %d bytes", i, len(ip.Payload))
			}
			data = append(data, ip.Payload...)
			next += len(ip.Payload)
		}
		hl := wire.IPHeaderLen(dst)
		if !bytes.Equal(data, pkt[hl:]) {
			t.Fatal("the fragments' data is not the datagram's")
		}
	}
}

// TestFragmentIPv4Options: the first fragment keeps every option, later
// ones only those with the copied flag (RFC 791 §3.1).
func TestFragmentIPv4Options(t *testing.T) {
	r := newRand(5)
	inner := udpPacket(r, src4, dst4, 3000)
	// Options: NOP, Record Route (7, not copied, 7 bytes), Security-like
	// copied option 130 of 4 bytes: 12 bytes, padded to 12.
	opts := []byte{1, 7, 7, 4, 0, 0, 0, 0, 130, 4, 0xaa, 0xbb}
	pkt := make([]byte, 0, len(inner)+len(opts))
	pkt = append(pkt, inner[:20]...)
	pkt = append(pkt, opts...)
	pkt = append(pkt, inner[20:]...)
	pkt[0] = 4<<4 | byte((20+len(opts))/4)
	wire.IPv4(pkt).SetTotalLen(len(pkt))
	wire.IPv4(pkt).SetChecksum()
	frags := fragments(t, pkt, 1000, 9)
	if got := wire.IPv4(frags[0]).Options(); !bytes.Equal(got, opts) {
		t.Fatalf("first fragment's options % x", got)
	}
	for _, f := range frags[1:] {
		if got := wire.IPv4(f).Options(); !bytes.Equal(got, []byte{130, 4, 0xaa, 0xbb}) {
			t.Fatalf("later fragment's options % x", got)
		}
	}
	ra := NewReassembler(ReassemblyConfig{})
	var whole []byte
	for _, f := range frags {
		whole = add(t, ra, f, 0)
	}
	if whole == nil || !bytes.Equal(whole[20+len(opts):], pkt[20+len(opts):]) || !bytes.Equal(wire.IPv4(whole).Options(), opts) {
		t.Fatal("reassembly with options")
	}
}

func TestFragmentErrors(t *testing.T) {
	r := newRand(6)
	pkt := udpPacket(r, src6, dst6, 2000)
	if n := FragmentCount(pkt, 50); n != 0 {
		t.Fatalf("FragmentCount for a 50-byte MTU = %d", n)
	}
	out := [][]byte{make([]byte, 2100)}
	if _, err := Fragment(pkt, 50, 1, out, make([]int, 1)); err != ErrFragmentMTU {
		t.Fatalf("tiny MTU: %v", err)
	}
	pkt[6] = 0 // Hop-by-Hop
	if _, err := Fragment(pkt, 1280, 1, out, make([]int, 1)); err != ErrFragmentHeaders {
		t.Fatalf("Hop-by-Hop: %v", err)
	}
	small := udpPacket(r, src4, dst4, 100)
	sizes := make([]int, 1)
	if n, err := Fragment(small, 1500, 1, out, sizes); n != 1 || err != nil || !bytes.Equal(out[0][:sizes[0]], small) {
		t.Fatal("a packet that fits is not copied whole")
	}
}

func TestFragmentIDs(t *testing.T) {
	g := NewFragmentIDs([32]byte{1, 2, 3})
	a, b := g.Next(7), g.Next(7)
	if b != a+1 {
		t.Fatalf("one bucket: %d then %d", a, b)
	}
	if c := g.Next(8); c == b+1 {
		t.Fatal("two buckets share a counter")
	}
}

func BenchmarkFragment(b *testing.B) {
	r := newRand(7)
	pkt := udpPacket(r, src4, dst4, 8000)
	n := FragmentCount(pkt, 1500)
	out := make([][]byte, n)
	for i := range out {
		out[i] = make([]byte, 1500)
	}
	sizes := make([]int, n)
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		Fragment(pkt, 1500, 1, out, sizes)
	}
}
