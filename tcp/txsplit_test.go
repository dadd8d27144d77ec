package tcp

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
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
