package inet

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/synack-go/synack/wire"
)

// TestFragmentReassemble cuts datagrams with Fragment and puts them back,
// in order, reversed and shuffled, for both families.
func TestFragmentReassemble(t *testing.T) {
	r := newRand(1)
	for _, v6 := range []bool{false, true} {
		src, dst, mtu := src4, dst4, 576
		if v6 {
			src, dst, mtu = src6, dst6, 1280
		}
		for _, size := range []int{2000, 4000, 65000 - 48} {
			pkt := udpPacket(r, src, dst, size)
			frags := fragments(t, pkt, mtu, uint32(size))
			for order := range 3 {
				fs := append([][]byte(nil), frags...)
				switch order {
				case 1:
					for i, j := 0, len(fs)-1; i < j; i, j = i+1, j-1 {
						fs[i], fs[j] = fs[j], fs[i]
					}
				case 2:
					r.Shuffle(len(fs), func(i, j int) { fs[i], fs[j] = fs[j], fs[i] })
				}
				ra := NewReassembler(ReassemblyConfig{})
				var whole []byte
				for i, f := range fs {
					whole = add(t, ra, f, time.Duration(i)*time.Millisecond)
					if (whole != nil) != (i == len(fs)-1) {
						t.Fatalf("v6 %v size %d order %d: whole after fragment %d of %d", v6, size, order, i, len(fs))
					}
				}
				if v6 && !bytes.Equal(whole, pkt) {
					t.Fatalf("IPv6 reassembled differs:\n% x\n% x", whole[:64], pkt[:64])
				}
				if !v6 {
					// The header differs in ID and DF; the rest is equal.
					if !bytes.Equal(whole[20:], pkt[20:]) || wire.IPv4(whole).TotalLen() != len(pkt) || !wire.IPv4(whole).VerifyChecksum() {
						t.Fatal("IPv4 reassembled differs")
					}
				}
				var p wire.IPPacket
				if err := wire.ParseIP(whole, &p); err != nil || p.Protocol != wire.ProtoUDP || !wire.UDP(p.Payload).VerifyChecksum(p.Src, p.Dst) {
					t.Fatalf("reassembled packet: %v %+v", err, p.Fragment)
				}
				if ra.Memory() != 0 || ra.Pending() != 0 {
					t.Fatalf("memory %d, pending %d after completion", ra.Memory(), ra.Pending())
				}
				if s := ra.Stats(); s.Reassembled != 1 || s.Fragments != uint64(len(fs)) || s.Drops != [NumFragDrops]uint64{} {
					t.Fatalf("stats %+v", s)
				}
			}
		}
	}
}

// frag4 builds an IPv4 fragment of protocol UDP with the given fields.
func frag4(id uint16, off int, more bool, data []byte) []byte {
	pkt := make([]byte, 20+len(data))
	wire.PutIPHeader(pkt, src4, dst4, wire.ProtoUDP, len(data), 64)
	copy(pkt[20:], data)
	wire.IPv4(pkt).SetFragment(id, off, more)
	wire.IPv4(pkt).SetChecksum()
	return pkt
}

// frag6 builds an IPv6 fragment whose Fragment header names nh.
func frag6(id uint32, nh uint8, off int, more bool, data []byte) []byte {
	pkt := make([]byte, 48+len(data))
	wire.PutIPHeader(pkt, src6, dst6, wire.ProtoIPv6Fragment, 8+len(data), 64)
	h := wire.IPv6FragmentHeader{NextHeader: nh, Offset: off, More: more, ID: id}
	h.Emit(pkt[40:])
	copy(pkt[48:], data)
	return pkt
}

func filled(n int, b byte) []byte { return bytes.Repeat([]byte{b}, n) }

// TestReassemblyDrops walks each drop reason.
func TestReassemblyDrops(t *testing.T) {
	udp := make([]byte, 16)
	binary.BigEndian.PutUint16(udp[4:], 24) // a UDP length of 24 bytes
	for _, tc := range []struct {
		name  string
		frags [][]byte
		why   FragDrop
		count uint64 // fragments counted under why
		whole bool   // the last fragment completes a datagram
	}{
		{"M with odd length", [][]byte{frag4(1, 0, true, filled(12, 1))}, FragMalformed, 1, false},
		{"M with no data", [][]byte{frag4(1, 8, true, nil)}, FragMalformed, 1, false},
		{"past 65535", [][]byte{frag4(1, 65528, false, filled(16, 1))}, FragMalformed, 1, false},
		{"exact duplicate", [][]byte{frag4(1, 0, true, filled(16, 1)), frag4(1, 0, true, filled(16, 1)), frag4(1, 16, false, filled(8, 2))}, FragDuplicate, 1, true},
		{"same place, other data", [][]byte{frag4(1, 0, true, filled(16, 1)), frag4(1, 0, true, filled(16, 9))}, FragOverlap, 2, false},
		{"overlap drops the datagram", [][]byte{frag4(1, 0, true, filled(16, 1)), frag4(1, 8, true, filled(16, 1))}, FragOverlap, 2, false},
		{"and what follows it", [][]byte{frag4(1, 0, true, filled(16, 1)), frag4(1, 8, true, filled(16, 1)), frag4(1, 24, false, filled(8, 1))}, FragOverlap, 3, false},
		{"overlap from below", [][]byte{frag4(1, 16, false, filled(16, 1)), frag4(1, 8, true, filled(16, 1))}, FragOverlap, 2, false},
		{"two ends", [][]byte{frag4(1, 16, false, filled(8, 1)), frag4(1, 24, false, filled(8, 1))}, FragInconsistent, 2, false},
		{"data past the end", [][]byte{frag4(1, 16, false, filled(8, 1)), frag4(1, 32, true, filled(8, 1))}, FragInconsistent, 2, false},
		{"end below data", [][]byte{frag4(1, 32, true, filled(8, 1)), frag4(1, 8, false, filled(8, 1))}, FragInconsistent, 2, false},
		{"IPv6 first fragment without the UDP header", [][]byte{frag6(1, wire.ProtoUDP, 0, true, filled(8, 1)[:0]), frag6(1, wire.ProtoUDP, 0, true, filled(8, 0)[:0])}, FragMalformed, 2, false},
		{"IPv6 chain cut", [][]byte{frag6(1, wire.ProtoUDP, 8, false, filled(8, 1)), frag6(1, 60, 0, true, []byte{17, 1, 0, 0, 0, 0, 0, 0})}, FragHeaders, 2, false},
		{"IPv6 whole chain", [][]byte{frag6(1, wire.ProtoUDP, 16, false, filled(8, 1)), frag6(1, wire.ProtoUDP, 0, true, udp)}, NumFragDrops, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ra := NewReassembler(ReassemblyConfig{})
			var whole []byte
			for i, f := range tc.frags {
				whole = add(t, ra, f, time.Duration(i))
			}
			if (whole != nil) != tc.whole {
				t.Fatalf("whole = %v, want %v", whole != nil, tc.whole)
			}
			s := ra.Stats()
			if tc.why < NumFragDrops && s.Drops[tc.why] != tc.count {
				t.Fatalf("Drops[%v] = %d, want %d (%v)", tc.why, s.Drops[tc.why], tc.count, s.Drops)
			}
			ra.Expire(time.Hour)
			if ra.Memory() != 0 || ra.Pending() != 0 {
				t.Fatalf("after expiry: memory %d pending %d", ra.Memory(), ra.Pending())
			}
		})
	}
}

func TestReassemblyTimeout(t *testing.T) {
	ra := NewReassembler(ReassemblyConfig{})
	add(t, ra, frag4(1, 0, true, filled(16, 1)), 0)
	add(t, ra, frag6(1, wire.ProtoUDP, 8, true, filled(16, 1)), time.Second)
	if d := ra.Deadline(); d != DefaultTimeout4 {
		t.Fatalf("Deadline = %v, want %v", d, DefaultTimeout4)
	}
	ra.Expire(DefaultTimeout4 - 1)
	if ra.Pending() != 2 {
		t.Fatal("expired early")
	}
	ra.Expire(DefaultTimeout4)
	if ra.Pending() != 1 || ra.Deadline() != time.Second+DefaultTimeout6 {
		t.Fatalf("pending %d deadline %v", ra.Pending(), ra.Deadline())
	}
	// A late fragment of the expired datagram starts a new one, which
	// cannot complete with it alone.
	if add(t, ra, frag4(1, 16, false, filled(8, 1)), DefaultTimeout4+1) != nil {
		t.Fatal("completed a datagram from an expired one's fragment")
	}
	ra.Expire(time.Hour)
	if s := ra.Stats(); s.Drops[FragTimeout] != 3 || ra.Pending() != 0 || ra.Memory() != 0 || ra.Deadline() != NoDeadline {
		t.Fatalf("timeouts %d pending %d memory %d", s.Drops[FragTimeout], ra.Pending(), ra.Memory())
	}
}

// TestReassemblyMemoryCap fills the cap with incomplete datagrams: the
// oldest are evicted, memory never passes the cap, and a datagram that
// arrives whole in one burst still completes.
func TestReassemblyMemoryCap(t *testing.T) {
	const limit = 64 << 10
	ra := NewReassembler(ReassemblyConfig{MaxBytes: limit})
	for i := range 1000 {
		add(t, ra, frag4(uint16(i), 0, true, filled(1024, 1)), time.Duration(i))
		if ra.Memory() > limit {
			t.Fatalf("memory %d over the cap %d", ra.Memory(), limit)
		}
	}
	if s := ra.Stats(); s.Drops[FragMemory] == 0 || ra.Pending() > limit/1024 {
		t.Fatalf("evictions %d, pending %d", s.Drops[FragMemory], ra.Pending())
	}
	r := newRand(3)
	pkt := udpPacket(r, src4, dst4, 8000)
	var whole []byte
	for _, f := range fragments(t, pkt, 1500, 7) {
		whole = add(t, ra, f, time.Second)
	}
	if whole == nil || !bytes.Equal(whole[20:], pkt[20:]) {
		t.Fatal("a datagram arriving at once did not complete under pressure")
	}
	// One datagram larger than the cap cannot complete.
	small := NewReassembler(ReassemblyConfig{MaxBytes: 4096})
	for _, f := range fragments(t, pkt, 1500, 8) {
		if add(t, small, f, 0) != nil {
			t.Fatal("completed past the cap")
		}
	}
	if small.Memory() > 4096 || small.Stats().Drops[FragMemory] == 0 {
		t.Fatalf("memory %d, drops %v", small.Memory(), small.Stats().Drops)
	}
}

func TestReassemblyTooMany(t *testing.T) {
	ra := NewReassembler(ReassemblyConfig{MaxFragments: 4})
	for i := range 5 {
		add(t, ra, frag4(1, 8*i, true, filled(8, 1)), 0)
	}
	if s := ra.Stats(); s.Drops[FragTooMany] != 5 || ra.Pending() != 0 {
		t.Fatalf("drops %v pending %d", s.Drops, ra.Pending())
	}
}

// TestReassemblyKeys: fragments of the same ID from other addresses or of
// another protocol (IPv4) belong to other datagrams.
func TestReassemblyKeys(t *testing.T) {
	ra := NewReassembler(ReassemblyConfig{})
	add(t, ra, frag4(1, 0, true, filled(16, 1)), 0)
	other := frag4(1, 16, false, filled(8, 1))
	other[9] = wire.ProtoTCP
	wire.IPv4(other).SetChecksum()
	if add(t, ra, other, 0) != nil || ra.Pending() != 2 {
		t.Fatal("a TCP fragment joined a UDP datagram")
	}
	if add(t, ra, frag4(1, 16, false, filled(8, 1)), 0) == nil {
		t.Fatal("the UDP datagram did not complete")
	}
}

func BenchmarkReassemble(b *testing.B) {
	r := newRand(2)
	pkt := udpPacket(r, src4, dst4, 4000)
	frags := fragments(b, pkt, 1500, 1)
	ps := make([]wire.IPPacket, len(frags))
	ra := NewReassembler(ReassemblyConfig{})
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for i := 0; b.Loop(); i++ {
		for j, f := range frags {
			wire.IPv4(f).SetFragment(uint16(i), wire.IPv4(f).FragmentOffset(), wire.IPv4(f).MoreFragments())
			wire.IPv4(f).SetChecksum()
			wire.ParseIP(f, &ps[j])
			if ra.Add(f, &ps[j], time.Duration(i)) != nil != (j == len(frags)-1) {
				b.Fatal("reassembly failed")
			}
		}
	}
}
