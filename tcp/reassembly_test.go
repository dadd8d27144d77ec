package tcp

import "testing"

// The out-of-order list grows with the ranges it holds, up to maxOOORanges
// and no further: a peer that opens a new hole with every segment gets
// that many ranges, then only segments that extend or merge one.
func TestReassemblyBounded(t *testing.T) {
	var q reassembly
	base := Seq(1 << 31)
	rng := func(i int) (Seq, Seq) { return base.Add(uint32(2 * i)), base.Add(uint32(2*i + 1)) }
	for i := range maxOOORanges + 100 {
		lo, hi := rng(i)
		fits := q.fits(lo, hi)
		if ok := q.add(lo, hi); ok != (i < maxOOORanges) || fits != ok {
			t.Fatalf("range %d: add %v, fits %v; want %v", i, ok, fits, i < maxOOORanges)
		}
	}
	if q.len() != maxOOORanges || len(q.r) != maxOOORanges {
		t.Fatalf("%d ranges in %d slots, want %d", q.len(), len(q.r), maxOOORanges)
	}
	lo, _ := rng(10)
	if !q.fits(lo-1, lo) || !q.add(lo-1, lo) {
		t.Fatal("a range that merges two held (9 and 10) is refused when the list is full")
	}
	_, hi := rng(1)
	if lo, _ := rng(0); !q.add(lo, hi) || q.len() != maxOOORanges-2 {
		t.Fatalf("filling the hole between ranges 0 and 1: %d ranges, want %d", q.len(), maxOOORanges-2)
	}
	if got := q.bytes(); got != maxOOORanges+2 {
		t.Fatalf("bytes %d, want %d", got, maxOOORanges+2)
	}
}
