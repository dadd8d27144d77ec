package tcp

import (
	"testing"
	"time"

	"github.com/synack-go/synack/wire"
)

// BenchmarkReassemblyAdd measures recording one out-of-order segment in the
// reassembly queue, in the three shapes loss gives it: a segment extending
// the range that grows above a hole (one loss, the rest keeps coming), a
// segment opening a new range (every other segment lost: the queue fills
// up to its maxOOORanges ranges), and a segment that fills the hole between two
// ranges and merges them (measured over a whole window of them).
func BenchmarkReassemblyAdd(b *testing.B) {
	const mss = 1448
	base := Seq(1e9)
	seg := func(i int) (lo, hi Seq) { return base.Add(uint32(i * mss)), base.Add(uint32((i + 1) * mss)) }
	b.Run("extend", func(b *testing.B) {
		var q reassembly
		i := 1
		b.ReportAllocs()
		for b.Loop() {
			if i == 1024 {
				q.reset()
				i = 1
			}
			lo, hi := seg(i)
			if !q.add(lo, hi) {
				b.Fatal("no slot for a range that extends the last one")
			}
			i++
		}
	})
	b.Run("new-range", func(b *testing.B) {
		var q reassembly
		i := 0
		b.ReportAllocs()
		for b.Loop() {
			if i == maxOOORanges {
				q.reset()
				i = 0
			}
			lo, hi := seg(2*i + 1)
			if !q.add(lo, hi) {
				b.Fatal("no slot for a new range")
			}
			i++
		}
	})
	b.Run("fill-holes", func(b *testing.B) {
		// One op: maxOOORanges ranges with holes between them, then the holes
		// filled, each merging two ranges: 31 adds.
		var q reassembly
		b.ReportAllocs()
		for b.Loop() {
			q.reset()
			for k := range maxOOORanges {
				q.add(seg(2*k + 1))
			}
			for k := 1; k < maxOOORanges; k++ {
				if !q.add(seg(2 * k)) {
					b.Fatal("filling a hole needs no new slot")
				}
			}
			if q.n != 1 {
				b.Fatalf("%d ranges left, want 1", q.n)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(2*maxOOORanges-1), "ns/add")
	})
}

// BenchmarkInputOutOfOrder is the receive path under loss: a TCB gets 31
// full-sized segments with every other one missing (15 holes: reassembly
// queue, ring writes at their final offsets, SACK blocks in every ACK),
// then the missing ones, which advance RCV.NXT over everything; the
// application reads it all. One op is one such window of 32 segments.
func BenchmarkInputOutOfOrder(b *testing.B) {
	const mss, window = 1448, 32
	cfg := &Config{MSS: 1460, NoDelay: true, Buffers: NewBufferPool()}
	_, rx := establishedPair(cfg)
	seg := wire.TCPSegment{SrcPort: 1000, DstPort: 80, Flags: wire.ACK, Window: 512, Payload: make([]byte, mss)}
	q := newQueue()
	sink := make([]byte, 64<<10)
	tsv := rx.ts.recent
	now := time.Millisecond
	send := func(base Seq, i int) {
		tsv++
		seg.Seq = base.Add(uint32(i * mss))
		seg.Ack = rx.snd.nxt
		seg.Options = wire.TCPOptions{HasTS: rx.ts.ok, TSVal: tsv, TSEcr: 1}
		rx.Input(&seg, now)
		rx.Poll(now, q)
		q.segs, q.arena = q.segs[:0], q.arena[:0]
	}
	b.SetBytes(window * mss)
	b.ReportAllocs()
	for b.Loop() {
		base := rx.rcv.nxt
		for i := 1; i < window; i += 2 {
			send(base, i)
		}
		for i := 0; i < window; i += 2 {
			send(base, i)
		}
		if rx.rcv.nxt != base.Add(window*mss) {
			b.Fatalf("RCV.NXT advanced by %d, want %d", rx.rcv.nxt.Sub(base), window*mss)
		}
		for {
			if n, _ := rx.Read(sink); n == 0 {
				break
			}
		}
		now += time.Microsecond
	}
}
