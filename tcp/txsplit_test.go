package tcp

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/synack-go/synack/wire"
)

// Splitting records anywhere in the ring, near its head, its tail or its
// middle, with the time-ordered list out of sequence order (records resent)
// and records out of it (SACKed): the list keeps its order with each
// second half right after its first, and rtxHint names the same record.
func TestSplitKeepsOrder(t *testing.T) {
	for seed := uint64(1); seed <= 50; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		tcb := New(testConfig(), 1, 2)
		tcb.xs = &sender{}
		xs := tcb.xs
		const base = Seq(1000)
		tcb.snd.una = base
		n := 1 + rng.IntN(40)
		for i := range n {
			xs.q.push(nil, nil, base+Seq(i*100), base+Seq(i*100+100)).rate.sendTime = time.Duration(i)
			xs.q.listAppend(xs.q.end() - 1)
		}
		for range rng.IntN(n) { // resent: last in time order
			id := xs.q.head + uint32(rng.IntN(n))
			xs.q.at(id).rate.sendTime = time.Duration(n + 1)
			xs.q.listMoveTail(id)
		}
		for range rng.IntN(n) { // SACKed: out of the list
			id := xs.q.head + uint32(rng.IntN(n))
			if r := xs.q.at(id); r.flags&txSACKed == 0 {
				xs.q.listRemove(id)
				r.flags |= txSACKed
				xs.sackedOut += r.len()
			}
		}
		listOrder := func() []Seq {
			var s []Seq
			for id, k := xs.q.tHead, uint32(0); k < xs.q.tLen; k++ {
				s = append(s, xs.q.at(id).seq)
				id = xs.q.at(id).next
			}
			return s
		}
		want := listOrder()
		hintSeq := xs.q.at(xs.q.head + uint32(rng.IntN(n))).seq
		xs.rtxHint = xs.q.search(hintSeq)
		for range 3 * n {
			id := xs.q.head + uint32(rng.IntN(int(xs.q.n)))
			r := xs.q.at(id)
			if r.len() < 2 {
				continue
			}
			at := r.seq.Add(1 + uint32(rng.IntN(int(r.len()-1))))
			listed := r.flags&txListed != 0
			lo := r.seq
			first := xs.split(nil, nil, id, at)
			if a, b := xs.q.at(first), xs.q.at(first+1); a.seq != lo || a.end != at || b.seq != at {
				t.Fatalf("seed %d: split at %d gave [%d, %d) and [%d, %d)", seed, at, a.seq, a.end, b.seq, b.end)
			}
			if listed {
				i := slices.Index(want, lo)
				want = slices.Insert(want, i+1, at)
			}
			if got := listOrder(); !slices.Equal(got, want) {
				t.Fatalf("seed %d: after a split at %d the list is %v, want %v", seed, at, got, want)
			}
			checkTxQueue(t, tcb)
			if got := xs.q.at(xs.rtxHint).seq; got != hintSeq {
				t.Fatalf("seed %d: rtxHint names the record at %d, was %d", seed, got, hintSeq)
			}
		}
	}
}

// BenchmarkSplitMiddle is the worst case of a split: records in the middle
// half of a flight of 8192 or more records (about 12 MB in MSS-sized
// pieces), where a quarter to a half of them move by one slot.
func BenchmarkSplitMiddle(b *testing.B) {
	tcb := New(testConfig(), 1, 2)
	tcb.xs = &sender{}
	xs := tcb.xs
	const n = 8192
	for i := range n {
		xs.q.push(nil, nil, Seq(i*100000), Seq(i*100000+100000))
		xs.q.listAppend(xs.q.end() - 1)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := xs.q.head + xs.q.n/4 + uint32(i)%(xs.q.n/2)
		r := xs.q.at(id)
		if r.len() < 2 {
			continue
		}
		xs.split(nil, nil, id, r.seq.Add(r.len()/2))
		if xs.q.n == 2*n-1 {
			b.StopTimer()
			xs.q.reset(nil, nil)
			for i := range n {
				xs.q.push(nil, nil, Seq(i*100000), Seq(i*100000+100000))
				xs.q.listAppend(xs.q.end() - 1)
			}
			b.StartTimer()
		}
	}
}

// splitBoundFlight makes h's TCB hold a flight of n small records, one TSO
// record of 10 segments, and n small records again, as if sent at now
// (with n beyond maxSplitMove, the TSO record cannot be cut), and returns
// the TSO record's id.
func splitBoundFlight(h *tcbTest, n int) uint32 {
	const small = 10
	tcb := h.tcb
	data := make([]byte, 2*n*small+10*smss)
	if w, err := tcb.Write(data); err != nil || w != len(data) {
		h.t.Fatalf("write: %d, %v", w, err)
	}
	xs := tcb.sender()
	seq := tcb.snd.nxt
	var tso uint32
	for i := range 2*n + 1 {
		l, seg := uint32(small), uint32(0)
		if i == n {
			l, seg = 10*smss, smss
		}
		tcb.recordSent(seq, seq.Add(l), false, seg, h.now)
		if i == n {
			tso = xs.q.end() - 1
		}
		seq = seq.Add(l)
	}
	tcb.snd.nxt, tcb.snd.max = seq, seq
	return tso
}

// A TSO record with more than maxSplitMove records on each side is not
// cut: a SACK block covering part of it leaves it unmarked, and its
// retransmission goes a segment at a time inside it (xs.rtxSeq), the
// record counting as resent when its last byte has gone. Beside it, a
// record the block covers whole is SACKed as ever.
func TestSplitBound(t *testing.T) {
	h := accepted(t, renoConfig())
	h.tso = tsoTestMax
	n := maxSplitMove + 10
	id := splitBoundFlight(h, n)
	tcb, xs := h.tcb, h.tcb.xs
	r := xs.q.at(id)
	lo, hi, records := r.seq, r.end, xs.q.n
	var a ackInfo
	blocks := []wire.SACKBlock{{Left: lo.Add(2 * smss), Right: hi.Add(10)}}
	tcb.processSACK(blocks, tcb.snd.una, &a)
	if xs.q.n != records || r.flags&txSACKed != 0 || xs.q.at(id+1).flags&txSACKed == 0 || a.sacked != 10 {
		t.Fatalf("after a SACK of part of the TSO record and the record after it: %d records (had %d), "+
			"TSO record flags %b, next %b, %d bytes SACKed; want no cut, the next SACKed, 10 bytes",
			xs.q.n, records, r.flags, xs.q.at(id+1).flags, a.sacked)
	}
	checkTxQueue(t, tcb)
	tcb.markLost(id, h.now)
	var sent []uint32
	for k := 0; k < 10 && r.flags&txRetrans == 0; k++ {
		tcb.xs.cwnd = tcb.pipe() + smss // room for one segment each time
		tcb.resend(h.now, h, id, tcb.sendEnd())
		for _, s := range h.take() {
			sent = append(sent, uint32(s.Seq.Sub(lo)))
		}
		checkTxQueue(t, tcb)
	}
	want := []uint32{0, smss, 2 * smss, 3 * smss, 4 * smss, 5 * smss, 6 * smss, 7 * smss, 8 * smss, 9 * smss}
	if !slices.Equal(sent, want) || xs.q.n != records || r.flags&txRetransIn == 0 {
		t.Fatalf("resent at offsets %v in %d records (had %d), flags %b; want %v, uncut, resent", sent,
			xs.q.n, records, r.flags, want)
	}
	// Below the bound, both are cut.
	h2 := accepted(t, renoConfig())
	h2.tso = tsoTestMax
	id = splitBoundFlight(h2, 10)
	r = h2.tcb.xs.q.at(id)
	records = h2.tcb.xs.q.n
	blocks[0] = wire.SACKBlock{Left: r.seq.Add(2 * smss), Right: r.end.Add(10)}
	h2.tcb.processSACK(blocks, h2.tcb.snd.una, &a)
	if h2.tcb.xs.q.n != records+1 {
		t.Fatalf("a SACK of part of a TSO record among 21: %d records, want %d", h2.tcb.xs.q.n, records+1)
	}
	checkTxQueue(t, h2.tcb)
}
