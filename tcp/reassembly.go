package tcp

// reassembly remembers which out-of-order ranges above RCV.NXT are already in
// the receive ring. The bytes themselves sit in the ring at their final
// offsets, so the queue can never hold more than the window (RFC 9293
// §3.10.7.4 seventh step), and nothing is copied twice.
//
// The list grows with the ranges held, doubling from minOOOSlots up to
// maxOOORanges: a large window on a lossy path has hundreds of holes, and
// a connection with few pays for few. The slots stay with the list when it
// goes back to the BufferPool, so steady state allocates nothing; each
// range also holds at least one page of the receive buffer, charged to the
// memory budget, so ranges are bounded twice.
type reassembly struct {
	n      int
	r      []seqRange // sorted, disjoint; len(r) slots, n of them used
	latest int        // index of the range most recently extended
}

// minOOOSlots is the list's first size.
const minOOOSlots = 16

// search returns the index of the first range whose end is not below lo:
// binary search, the list being sorted and disjoint.
func (q *reassembly) search(lo Seq) int {
	i, j := 0, q.n
	for i < j {
		h := int(uint(i+j) >> 1)
		if q.r[h].hi.Less(lo) {
			i = h + 1
		} else {
			j = h
		}
	}
	return i
}

func (q *reassembly) reset() { q.n, q.latest = 0, 0 }

// len returns the number of ranges; a nil list has none.
func (q *reassembly) len() int {
	if q == nil {
		return 0
	}
	return q.n
}

// add records [lo, hi). It returns false when a new range would need a slot
// and none is free.
func (q *reassembly) add(lo, hi Seq) bool {
	i := q.search(lo)
	j := i
	for j < q.n && q.r[j].lo.LessEq(hi) {
		lo = lo.Min(q.r[j].lo)
		hi = hi.Max(q.r[j].hi)
		j++
	}
	if i == j {
		if q.n == len(q.r) {
			if len(q.r) >= maxOOORanges {
				return false
			}
			r := make([]seqRange, min(max(2*len(q.r), minOOOSlots), maxOOORanges))
			copy(r, q.r[:q.n])
			q.r = r
		}
		copy(q.r[i+1:q.n+1], q.r[i:q.n])
		q.n++
	} else {
		copy(q.r[i+1:q.n], q.r[j:q.n])
		q.n -= j - i - 1
	}
	q.r[i] = seqRange{lo, hi}
	q.latest = i
	return true
}

// fits reports whether add(lo, hi) would find room: the range merges with
// one already held, or a slot is free.
func (q *reassembly) fits(lo, hi Seq) bool {
	if q == nil || q.n < maxOOORanges {
		return true
	}
	i := q.search(lo)
	return i < q.n && q.r[i].lo.LessEq(hi)
}

// bytes returns how many bytes the ranges cover.
func (q *reassembly) bytes() int {
	n := 0
	for i := 0; i < q.len(); i++ {
		n += int(q.r[i].hi.Sub(q.r[i].lo))
	}
	return n
}

// advance returns the new RCV.NXT when in-order data has reached end: every
// range that now touches it is merged and removed.
func (q *reassembly) advance(end Seq) Seq {
	if q == nil {
		return end
	}
	k := 0
	for k < q.n && q.r[k].lo.LessEq(end) {
		end = end.Max(q.r[k].hi)
		k++
	}
	if k > 0 {
		copy(q.r, q.r[k:q.n])
		q.n -= k
		q.latest = 0
	}
	return end
}

// sackBlocks writes up to len(dst) SACK blocks, the most recently changed
// range first as RFC 2018 §4 requires, and returns how many.
func (q *reassembly) sackBlocks(dst []seqRange) int {
	if q.len() == 0 || len(dst) == 0 {
		return 0
	}
	k := 0
	latest := min(q.latest, q.n-1)
	dst[k] = q.r[latest]
	k++
	for i := q.n - 1; i >= 0 && k < len(dst); i-- {
		if i != latest {
			dst[k] = q.r[i]
			k++
		}
	}
	return k
}

// overlap returns the part of [lo, hi) that a range already holds, and
// makes that range the latest, so that it follows a D-SACK block.
func (q *reassembly) overlap(lo, hi Seq) (Seq, Seq, bool) {
	for i := 0; i < q.n; i++ {
		r := q.r[i]
		if r.lo.Less(hi) && lo.Less(r.hi) {
			q.latest = i
			return lo.Max(r.lo), hi.Min(r.hi), true
		}
	}
	return 0, 0, false
}
