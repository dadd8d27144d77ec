package workload

import (
	"encoding/binary"
	"testing"
)

// segment builds an IPv4/TCP packet from port 1000 to port 80 with n
// bytes of payload at seq, a SYN if syn.
func segment(seq uint32, n int, syn bool) []byte {
	p := make([]byte, 40+n)
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	p[9] = 6
	copy(p[12:], []byte{10, 0, 0, 1, 10, 0, 0, 2})
	binary.BigEndian.PutUint16(p[20:], 1000)
	binary.BigEndian.PutUint16(p[22:], 80)
	binary.BigEndian.PutUint32(p[24:], seq)
	p[32] = 5 << 4
	if syn {
		p[33] = 0x02
	}
	return p
}

// TestDupCounter: a segment counts as a duplicate when every byte of it
// had arrived, in order or out of it; one that brings a new byte does not,
// and sequence numbers wrap.
func TestDupCounter(t *testing.T) {
	const isn = 0xffff_fc00 // the data wraps past 2^32
	d := newDupCounter()
	seq := func(i int) uint32 { return isn + 1 + uint32(i)*100 }
	steps := []struct {
		pkt []byte
		dup bool
	}{
		{segment(isn, 0, true), false},
		{segment(seq(0), 100, false), false},
		{segment(seq(2), 100, false), false}, // 1 is late: out of order
		{segment(seq(3), 100, false), false},
		{segment(seq(2), 100, false), true},  // resent though it had arrived
		{segment(seq(1), 100, false), false}, // the late one fills the hole
		{segment(seq(1), 100, false), true},  // and its retransmission is spurious
		{segment(seq(0), 400, false), true},  // a repacketized resend of all of it
		{segment(seq(3), 200, false), false}, // half new
		{segment(seq(4), 100, false), true},
		{segment(seq(9), 100, false), false},
		{segment(seq(7), 100, false), false},
		{segment(seq(8), 50, false), false},
		{segment(seq(7), 150, false), true}, // inside the merged range 7..8.5
		{segment(seq(8), 100, false), false},
		{segment(seq(5), 0, false), false}, // a pure ACK is no data segment
	}
	var dups, segs uint64
	for i, s := range steps {
		d.Observe([][]byte{s.pkt})
		if s.dup {
			dups++
		}
		if len(s.pkt) > 40 {
			segs++
		}
		if got := d.dups.Load(); got != dups {
			t.Fatalf("step %d: %d duplicates, want %d", i, got, dups)
		}
	}
	if got := d.segs.Load(); got != segs {
		t.Errorf("%d data segments, want %d", got, segs)
	}
	// Another flow, seen without its SYN, keeps its own account.
	other := segment(5000, 100, false)
	binary.BigEndian.PutUint16(other[20:], 1001)
	d.Observe([][]byte{other, other})
	if got := d.dups.Load(); got != dups+1 {
		t.Errorf("other flow: %d duplicates, want %d", got, dups+1)
	}
}
