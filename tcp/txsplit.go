package tcp

// Splitting a transmit record. A record sent as one TSO segment (SetTSO)
// stands for several segments on the wire, and loss recovery must
// sometimes treat them apart: a SACK block or a cumulative ACK that ends
// inside it, NewReno marking its first segment lost, a tail loss probe
// resending its last, a retransmission the window lets only part of go.
// The record is then cut in two, as Linux's tcp_fragment cuts an skb in
// its retransmission queue; both halves keep its flags and its rate
// snapshot (the segments left together). A SACK block cuts only at whole
// segments of the size the record keeps (sack.go), so no peer can make
// records shorter than a segment: records are never merged again, and
// memory stays bounded by the segments in flight, as without TSO.
//
// The ring keeps records in sequence order by id, so a cut moves the
// records on its shorter side by one slot: those before it towards the
// head, or those after it towards the tail. Cuts come from the front
// (cumulative ACKs, NewReno, retransmissions after a timeout) and the
// back (the probe) mostly, where that moves one record; a cut in the
// middle moves at most half of them. In the middle, a peer decides where
// the cuts fall (its SACK blocks, and the holes below them that are
// resent), and one that SACKs every other segment of a large flight would
// make each ACK move thousands of records (BenchmarkSplitMiddle: about
// 27 µs per cut in a flight of 8,000 to 16,000 records). So a cut that
// would move more than maxSplitMove records is not made: a SACK block
// then leaves the part it covers unmarked, and a retransmission goes on
// inside the record (resendTSO), both as for a segment without TSO
// covered in part.

// maxSplitMove bounds the records a cut moves: at 80 bytes each, 80 KiB,
// a few microseconds. Ours: a flight of 64 MiB in TSO segments of 64 KiB
// is 1,024 records, so an honest peer's SACK blocks, which cut the TSO
// segments above the holes, stay within it.
const maxSplitMove = 1024

// splitCost is how many records a cut of record id would move.
func (q *txQueue) splitCost(id uint32) uint32 { return min(id-q.head, q.end()-1-id) }

// split cuts record id at seq at, which lies inside it, into [seq, at)
// and [at, end), and returns the id of the first half; the second is the
// next id. Ids of the records on the side that moved change by one, and
// the time-ordered list and rtxHint follow them.
func (xs *sender) split(pool *BufferPool, mem *MemoryBudget, id uint32, at Seq) uint32 {
	q := &xs.q
	if q.n == uint32(len(*q.ring)) {
		q.grow(pool, mem)
	}
	oldHead, oldEnd := q.head, q.end()
	var first uint32
	var lo, hi uint32             // the old ids [lo, hi) that move, by delta
	var delta uint32              // +1, or -1 as a wrapping uint32
	if id-q.head < q.end()-1-id { // splitCost's shorter side
		// Fewer records before it: they and it move one slot down; the
		// old slot of id keeps a copy, which becomes the second half.
		for k := q.head; k != id+1; k++ {
			*q.at(k - 1) = *q.at(k)
		}
		q.head--
		first = id - 1
		lo, hi, delta = oldHead, id+1, ^uint32(0)
	} else {
		// The records after it move one slot up; the copy of id in slot
		// id+1 becomes the second half.
		for k := oldEnd; k != id+1; k-- {
			*q.at(k) = *q.at(k - 1)
		}
		*q.at(id + 1) = *q.at(id)
		first = id
		lo, hi, delta = id+1, oldEnd, 1
	}
	q.n++
	moved := func(old uint32) bool { return old-lo < hi-lo }
	remap := func(old uint32) uint32 {
		if moved(old) {
			return old + delta
		}
		return old
	}
	// Re-link the moved records that are listed, and their neighbours
	// that did not move.
	if q.tLen > 0 {
		for old := lo; old != hi; old++ {
			k := old + delta
			r := q.at(k)
			if r.flags&txListed == 0 {
				continue
			}
			if p := r.prev; old != q.tHead {
				r.prev = remap(p)
				if !moved(p) {
					q.at(p).next = k
				}
			}
			if n := r.next; old != q.tTail {
				r.next = remap(n)
				if !moved(n) {
					q.at(n).prev = k
				}
			}
		}
		q.tHead, q.tTail = remap(q.tHead), remap(q.tTail)
	}
	if int32(xs.rtxHint-oldHead) >= 0 {
		xs.rtxHint = remap(xs.rtxHint)
	}
	a, b := q.at(first), q.at(first+1)
	a.end, b.seq = at, at
	a.flags &^= txFIN
	if a.flags&txListed != 0 {
		// The second half was sent with the first: next to it in the list.
		if first == q.tTail {
			q.tTail = first + 1
		} else {
			q.at(a.next).prev = first + 1
		}
		b.prev, b.next = first, a.next
		a.next = first + 1
		q.tLen++
	}
	return first
}
