package impair

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"slices"
	"testing"
	"time"
)

const ms = time.Millisecond

// numbered returns a size-byte packet whose first four bytes hold i.
func numbered(i, size int) []byte {
	b := make([]byte, max(size, 4))
	binary.BigEndian.PutUint32(b, uint32(i))
	for j := 4; j < len(b); j++ {
		b[j] = byte(i + j)
	}
	return b
}

func number(b []byte) int { return int(binary.BigEndian.Uint32(b)) }

// arrival is one packet as delivered, with the virtual time it came out.
type arrival struct {
	at  time.Duration
	pkt []byte
}

// run drives m on virtual time: it sends the packets at the given times,
// delivers whatever is due in between and, at the end, everything left.
func run(t *testing.T, m *Model, at []time.Duration, pkts [][]byte) []arrival {
	t.Helper()
	var got []arrival
	now := time.Duration(0)
	collect := func(ps [][]byte) {
		for _, p := range ps {
			got = append(got, arrival{now, bytes.Clone(p)})
		}
	}
	advance := func(to time.Duration) {
		for {
			d := m.Deadline()
			if d > to {
				break
			}
			if d < now {
				t.Fatalf("deadline %v is before now %v", d, now)
			}
			now = d
			if m.Deliver(now, collect) == 0 {
				t.Fatalf("deadline %v passed but nothing was delivered", d)
			}
		}
		now = to
	}
	for i, p := range pkts {
		advance(at[i])
		m.Send(p, now)
		m.Deliver(now, collect)
	}
	advance(NoDeadline - 1)
	if n := m.Pending(); n != 0 {
		t.Fatalf("%d packets still pending", n)
	}
	return got
}

// evenly returns n send times step apart and n numbered packets.
func evenly(n int, step time.Duration, size int) ([]time.Duration, [][]byte) {
	at := make([]time.Duration, n)
	pkts := make([][]byte, n)
	for i := range n {
		at[i] = time.Duration(i) * step
		pkts[i] = numbered(i, size)
	}
	return at, pkts
}

func numbers(got []arrival) []int {
	var ns []int
	for _, a := range got {
		ns = append(ns, number(a.pkt))
	}
	return ns
}

func TestPerfectModelDeliversAllInOrderAtOnce(t *testing.T) {
	at, pkts := evenly(100, ms, 100)
	got := run(t, NewModel(Config{}), at, pkts)
	if len(got) != 100 {
		t.Fatalf("delivered %d packets, want 100", len(got))
	}
	for i, a := range got {
		if a.at != at[i] || !bytes.Equal(a.pkt, pkts[i]) {
			t.Fatalf("packet %d: delivered %d at %v, want it unchanged at %v", i, number(a.pkt), a.at, at[i])
		}
	}
}

func TestLossIsSeededAndNearItsRate(t *testing.T) {
	const n = 10000
	at, pkts := evenly(n, 0, 20)
	cfg := Config{Loss: 0.1, Seed: 42}
	first := numbers(run(t, NewModel(cfg), at, pkts))
	again := numbers(run(t, NewModel(cfg), at, pkts))
	if !slices.Equal(first, again) {
		t.Fatal("the same seed dropped different packets")
	}
	cfg.Seed = 43
	if other := numbers(run(t, NewModel(cfg), at, pkts)); slices.Equal(first, other) {
		t.Fatal("different seeds dropped the same packets")
	}
	// 10000 draws at p=0.1: the standard deviation is 30 packets; the
	// seed is fixed, so this bound is checked once, not sampled.
	lost := n - len(first)
	if lost < 900 || lost > 1100 {
		t.Fatalf("lost %d of %d packets, want about 1000", lost, n)
	}
	if !slices.IsSorted(first) {
		t.Fatal("loss reordered packets")
	}
	m := NewModel(cfg)
	run(t, m, at, pkts)
	if s := m.Stats(); s.Lost+s.Delivered != n || s.Packets != n {
		t.Fatalf("stats %+v do not add up to %d packets", s, n)
	}
}

func TestLossOneDropsEverything(t *testing.T) {
	at, pkts := evenly(50, 0, 20)
	if got := run(t, NewModel(Config{Loss: 1}), at, pkts); len(got) != 0 {
		t.Fatalf("delivered %d packets at Loss 1", len(got))
	}
}

func TestDuplicateSendsTwoCopies(t *testing.T) {
	at, pkts := evenly(100, ms, 60)
	m := NewModel(Config{Duplicate: 1})
	got := run(t, m, at, pkts)
	if len(got) != 200 {
		t.Fatalf("delivered %d packets, want 200", len(got))
	}
	for i, a := range got {
		if !bytes.Equal(a.pkt, pkts[i/2]) {
			t.Fatalf("delivery %d is packet %d, want a copy of %d", i, number(a.pkt), i/2)
		}
	}
	if s := m.Stats(); s.Duplicated != 100 || s.Delivered != 200 {
		t.Fatalf("stats %+v, want 100 duplicated and 200 delivered", s)
	}

	at, pkts = evenly(10000, 0, 20)
	m = NewModel(Config{Duplicate: 0.25, Seed: 1})
	got = run(t, m, at, pkts)
	if d := m.Stats().Duplicated; d < 2300 || d > 2700 || len(got) != 10000+int(d) {
		t.Fatalf("duplicated %d of 10000 with %d delivered, want about 2500", d, len(got))
	}
}

func TestCorruptFlipsExactlyOneBit(t *testing.T) {
	at, pkts := evenly(500, 0, 40)
	orig := make([][]byte, len(pkts))
	for i, p := range pkts {
		orig[i] = bytes.Clone(p)
	}
	m := NewModel(Config{Corrupt: 1, Seed: 9})
	got := run(t, m, at, pkts)
	positions := map[int]bool{}
	for i, a := range got {
		if !bytes.Equal(pkts[i], orig[i]) {
			t.Fatalf("Send changed the caller's packet %d", i)
		}
		flipped := 0
		for j := range a.pkt {
			if d := bits.OnesCount8(a.pkt[j] ^ orig[i][j]); d > 0 {
				flipped += d
				positions[j*8+bits.TrailingZeros8(a.pkt[j]^orig[i][j])] = true
			}
		}
		if flipped != 1 {
			t.Fatalf("packet %d has %d bits flipped, want 1", i, flipped)
		}
	}
	if len(positions) < 100 {
		t.Fatalf("only %d distinct bits flipped over 500 packets of 320 bits", len(positions))
	}
	if s := m.Stats(); s.Corrupted != 500 {
		t.Fatalf("Corrupted = %d, want 500", s.Corrupted)
	}
}

func TestReorderSwapsWithTheNextPacket(t *testing.T) {
	at, pkts := evenly(1000, 100*time.Microsecond, 20)
	m := NewModel(Config{Reorder: 0.2, Seed: 5})
	got := numbers(run(t, m, at, pkts))
	if len(got) != 1000 {
		t.Fatalf("delivered %d packets, want 1000", len(got))
	}
	// Every inversion is an adjacent swap: i+1 then i.
	swaps := 0
	for i := 0; i < len(got); i++ {
		switch {
		case got[i] == i:
		case i+1 < len(got) && got[i] == i+1 && got[i+1] == i:
			swaps++
			i++
		default:
			t.Fatalf("position %d holds packet %d: not an adjacent swap (%v)", i, got[i], got[max(i-3, 0):min(i+3, len(got))])
		}
	}
	if s := m.Stats(); s.Reordered != uint64(swaps) || swaps < 120 || swaps > 200 {
		t.Fatalf("%d swaps, stats say %d reordered; want about 1000*0.2/1.2", swaps, s.Reordered)
	}
}

func TestReorderReleasesAHeldPacketWhenNothingFollows(t *testing.T) {
	m := NewModel(Config{Reorder: 1})
	got := run(t, m, []time.Duration{0}, [][]byte{numbered(7, 20)})
	if len(got) != 1 || got[0].at != minReorderHold {
		t.Fatalf("got %v, want the lone packet after %v", got, minReorderHold)
	}
	if s := m.Stats(); s.Reordered != 0 {
		t.Fatalf("Reordered = %d for a packet nothing overtook", s.Reordered)
	}
}

func TestDelayAndJitterKeepOrder(t *testing.T) {
	const delay, jitter = 40 * ms, 30 * ms
	at, pkts := evenly(2000, 50*time.Microsecond, 20)
	got := run(t, NewModel(Config{Delay: delay, Jitter: jitter, Seed: 3}), at, pkts)
	if len(got) != len(pkts) {
		t.Fatalf("delivered %d packets, want %d", len(got), len(pkts))
	}
	var late time.Duration
	for i, a := range got {
		if n := number(a.pkt); n != i {
			t.Fatalf("delivery %d is packet %d: jitter reordered", i, n)
		}
		lat := a.at - at[i]
		if lat < delay {
			t.Fatalf("packet %d arrived after %v, before the %v delay", i, lat, delay)
		}
		late = max(late, lat)
	}
	if late <= delay+jitter/2 {
		t.Fatalf("largest latency %v: jitter had no effect", late)
	}
}

func TestDelayDeadline(t *testing.T) {
	m := NewModel(Config{Delay: 10 * ms})
	m.Send(numbered(1, 20), 5*ms)
	if d := m.Deadline(); d != 15*ms {
		t.Fatalf("Deadline = %v, want 15ms", d)
	}
	if n := m.Deliver(15*ms-1, func([][]byte) {}); n != 0 {
		t.Fatalf("delivered %d packets before they were due", n)
	}
	if n := m.Deliver(15*ms, func([][]byte) {}); n != 1 {
		t.Fatalf("delivered %d packets when due, want 1", n)
	}
	if d := m.Deadline(); d != NoDeadline {
		t.Fatalf("Deadline = %v with nothing pending", d)
	}
}

func TestRateSerializesAndDropsTail(t *testing.T) {
	// 1 Mbit/s: a 1000-byte packet takes 8 ms. A queue of 10000 bytes
	// holds ten: the packet on the wire and nine behind it.
	cfg := Config{RateBitsPerSec: 1e6, QueueBytes: 10000, Delay: 5 * ms}
	m := NewModel(cfg)
	at, pkts := evenly(100, 0, 1000) // a burst
	got := run(t, m, at, pkts)
	s := m.Stats()
	if len(got) != 10 || s.QueueDrops != 90 {
		t.Fatalf("delivered %d, queue dropped %d; want 10 and 90", len(got), s.QueueDrops)
	}
	for i, a := range got {
		if want := time.Duration(i+1)*8*ms + 5*ms; a.at != want || number(a.pkt) != i {
			t.Fatalf("delivery %d: packet %d at %v, want packet %d at %v", i, number(a.pkt), a.at, i, want)
		}
	}

	// Sent at the line rate, nothing queues and nothing is dropped.
	m = NewModel(cfg)
	at, pkts = evenly(100, 8*ms, 1000)
	if got := run(t, m, at, pkts); len(got) != 100 || m.Stats().QueueDrops != 0 {
		t.Fatalf("paced at the line rate: delivered %d, dropped %d", len(got), m.Stats().QueueDrops)
	}
}

func TestRateQueueDefaultsAndUnlimited(t *testing.T) {
	at, pkts := evenly(1000, 0, 1500)
	m := NewModel(Config{RateBitsPerSec: 1e9})
	if got := run(t, m, at, pkts); len(got) != DefaultQueueBytes/1500 {
		t.Fatalf("default queue passed %d full-size packets of a burst, want %d", len(got), DefaultQueueBytes/1500)
	}
	m = NewModel(Config{RateBitsPerSec: 1e9, QueueBytes: -1})
	if got := run(t, m, at, pkts); len(got) != 1000 {
		t.Fatalf("unlimited queue passed %d of 1000 packets", len(got))
	}
}

func TestEverythingAtOnceIsDeterministic(t *testing.T) {
	cfg := Config{Loss: 0.05, Reorder: 0.05, Duplicate: 0.05, Corrupt: 0.05,
		Delay: 20 * ms, Jitter: 5 * ms, RateBitsPerSec: 50e6, QueueBytes: 30000, Seed: 77}
	at, pkts := evenly(3000, 100*time.Microsecond, 700)
	a := run(t, NewModel(cfg), at, pkts)
	b := run(t, NewModel(cfg), at, pkts)
	if len(a) != len(b) {
		t.Fatalf("runs delivered %d and %d packets", len(a), len(b))
	}
	for i := range a {
		if a[i].at != b[i].at || !bytes.Equal(a[i].pkt, b[i].pkt) {
			t.Fatalf("runs differ at delivery %d", i)
		}
	}
}

func TestDiscard(t *testing.T) {
	m := NewModel(Config{Delay: ms, Reorder: 0.5, Seed: 2})
	for i := range 10 {
		m.Send(numbered(i, 10), 0)
	}
	m.Discard()
	if m.Pending() != 0 || m.Deadline() != NoDeadline || m.Stats().Discarded != 10 {
		t.Fatalf("after Discard: %d pending, deadline %v, stats %+v", m.Pending(), m.Deadline(), m.Stats())
	}
}

func TestBadConfigIsClamped(t *testing.T) {
	m := NewModel(Config{Loss: -1, Duplicate: 7, Corrupt: 0.0 / zero(), Delay: -ms, Jitter: 1 << 62, RateBitsPerSec: -5})
	m.Send(numbered(1, 0), 0) // empty packets are fine too
	m.Send(numbered(2, 10), 0)
	if s := m.Stats(); s.Duplicated != 2 || s.Lost != 0 || s.Corrupted != 0 {
		t.Fatalf("stats %+v", s)
	}
	if d := m.Deadline(); d < 0 || d > maxDelay {
		t.Fatalf("Deadline %v out of range", d)
	}
}

func zero() float64 { return 0 }

func TestModelAllocatesNothingWhenWarm(t *testing.T) {
	m := NewModel(Config{Delay: 10 * ms, Jitter: ms, Loss: 0.01, Duplicate: 0.01, Reorder: 0.01, Corrupt: 0.01, RateBitsPerSec: 1e9})
	pkt := numbered(1, 1500)
	now := time.Duration(0)
	step := func() {
		for range 64 {
			m.Send(pkt, now)
			now += 10 * time.Microsecond
		}
		m.Deliver(now, func([][]byte) {})
	}
	for range 100 {
		step()
	}
	if a := testing.AllocsPerRun(100, step); a != 0 {
		t.Fatalf("%v allocations per 64 packets", a)
	}
}

func BenchmarkModelDelay(b *testing.B) {
	m := NewModel(Config{Delay: ms, Jitter: 100 * time.Microsecond, Seed: 1})
	pkt := numbered(1, 1500)
	now := time.Duration(0)
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		m.Send(pkt, now)
		now += time.Microsecond
		m.Deliver(now, func([][]byte) {})
	}
}
