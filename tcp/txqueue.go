package tcp

import (
	"math/bits"
	"sync"
	"time"
)

// The transmit record: one txRecord per segment sent and not yet
// cumulatively acknowledged, in sequence order. Everything loss recovery
// knows about what is in flight lives here and nowhere else: the SACK
// scoreboard's marks (RFC 6675 §3), what is lost and what was resent (the
// pipe, §4), each segment's last transmission time (RACK, RFC 8985 §5.2),
// and the delivery-rate snapshot taken when it left (draft-ietf-ccwg-bbr
// §4.1.2.1.2).
//
// The records sit in a ring whose array doubles as the flight grows and
// comes from the stack's BufferPool, so a busy connection allocates nothing
// in steady state and an idle one holds no array. Records are named by an
// id that grows by one per record (the ring slot is id modulo its size),
// so ids stay valid when the ring grows. New segments are appended and
// cumulative ACKs pop from the front: amortised O(1). A SACK block finds
// its first record by binary search, O(log n), and then visits only
// records it SACKs for the first time (sack.go skips what the scoreboard
// already holds).
//
// Beside the sequence order, the records in flight that are neither
// SACKed nor marked lost are linked in the order they were last sent,
// oldest first, as Linux's tsorted_sent_queue: RACK's loss detection
// (RFC 8985 §6.2) walks that list from its head and stops at the first
// record sent after the newest delivered one, so it too is amortised O(1)
// per ACK.

// txFlags is a record's state.
type txFlags uint8

const (
	txSACKed    txFlags = 1 << iota // selectively acknowledged (RFC 2018)
	txLost                          // deemed lost, and not SACKed since (RFC 6675 IsLost, RACK, a timeout)
	txRetrans                       // sent more than once: its ACK is ambiguous (Karn)
	txRetransIn                     // a retransmission of it is in flight (counts in the pipe again)
	txFIN                           // the record ends with our FIN
	txListed                        // in the time-ordered list
	txDSACKed                       // a D-SACK reported it received twice (RFC 2883)
	txTSO                           // sent as one segment the link cut into several (SetTSO): may split
)

// txRecord is the transmit record of one segment.
type txRecord struct {
	seq, end   Seq          // the sequence range [seq, end); a FIN counts one
	rate       rateSnapshot // snapshot at the last transmission; rate.sendTime is RACK's xmit_ts
	prev, next uint32       // neighbours in the time-ordered list, by id
	flags      txFlags
	seg        uint16 // of a TSO record, the size of the segments the link cut it into
}

// len is the record's length in sequence space.
func (r *txRecord) len() uint32 { return uint32(r.end.Sub(r.seq)) }

// segsIn is how many segments of mss bytes r stands for in [lo, hi): one,
// unless r went as a TSO segment.
func (r *txRecord) segsIn(lo, hi Seq, mss uint32) int32 {
	if r.flags&txTSO == 0 {
		return 1
	}
	n := uint32(hi.Min(r.end).Sub(lo.Max(r.seq)))
	return int32(max((n+mss-1)/mss, 1))
}

// sentAt is the record's last transmission time (RACK's Segment.xmit_ts).
func (r *txRecord) sentAt() time.Duration { return r.rate.sendTime }

// txQueue is the transmit record of a connection.
type txQueue struct {
	ring  *[]txRecord // len a power of two; nil while empty
	head  uint32      // id of the oldest record
	n     uint32      // records held
	tHead uint32      // the time-ordered list: its oldest record
	tTail uint32      // and its newest
	tLen  uint32      // records in it
}

// Ring sizes: 8 records up to 2^22 (a 64 MiB send buffer in segments of
// 16 bytes is more than any peer can make us keep). The smallest ring is
// kept when the flight empties, so that request and response traffic
// does not take one from the pool and give it back per exchange; larger
// ones go back.
const (
	minTxRing        = 8
	numTxRingClasses = 20
)

// txRecordSize is what a record costs, for the memory budget.
const txRecordSize = 80

func (q *txQueue) mask() uint32 { return uint32(len(*q.ring)) - 1 }

// at returns the record of id, which must be held.
func (q *txQueue) at(id uint32) *txRecord { return &(*q.ring)[id&q.mask()] }

// first returns the oldest record, or nil.
func (q *txQueue) first() *txRecord {
	if q.n == 0 {
		return nil
	}
	return q.at(q.head)
}

// end returns the id after the newest record.
func (q *txQueue) end() uint32 { return q.head + q.n }

// push appends a record for [seq, end) and returns it, zeroed but for its
// range. The ring grows from pool when full; its memory is charged to mem.
func (q *txQueue) push(pool *BufferPool, mem *MemoryBudget, seq, end Seq) *txRecord {
	if q.ring == nil || q.n == uint32(len(*q.ring)) {
		q.grow(pool, mem)
	}
	r := q.at(q.head + q.n)
	q.n++
	*r = txRecord{seq: seq, end: end}
	return r
}

// grow doubles the ring, keeping every record at its id.
func (q *txQueue) grow(pool *BufferPool, mem *MemoryBudget) {
	size := minTxRing
	if q.ring != nil {
		size = 2 * len(*q.ring)
	}
	nr := pool.getTxRing(size)
	mem.charge(int64(size*txRecordSize), true)
	if q.ring != nil {
		old := *q.ring
		m := uint32(len(old)) - 1
		nm := uint32(size) - 1
		for id := q.head; id != q.head+q.n; id++ {
			(*nr)[id&nm] = old[id&m]
		}
		q.putRing(pool, mem)
	}
	q.ring = nr
}

// putRing gives the ring back.
func (q *txQueue) putRing(pool *BufferPool, mem *MemoryBudget) {
	mem.uncharge(int64(len(*q.ring) * txRecordSize))
	pool.putTxRing(q.ring)
	q.ring = nil
}

// pop removes the oldest record (which must be out of the time list).
func (q *txQueue) pop() {
	q.head++
	q.n--
}

// release gives the ring back when no record is held, unless it is the
// smallest.
func (q *txQueue) release(pool *BufferPool, mem *MemoryBudget) {
	if q.n == 0 && q.ring != nil && len(*q.ring) > minTxRing {
		q.putRing(pool, mem)
	}
}

// reset forgets every record and gives the ring back.
func (q *txQueue) reset(pool *BufferPool, mem *MemoryBudget) {
	q.head += q.n
	q.n, q.tLen = 0, 0
	if q.ring != nil {
		q.putRing(pool, mem)
	}
}

// search returns the id of the first record whose end lies above seq, or
// end() if there is none: binary search over the sequence order.
func (q *txQueue) search(seq Seq) uint32 {
	lo, hi := uint32(0), q.n
	for lo < hi {
		mid := lo + (hi-lo)/2
		if q.at(q.head + mid).end.LessEq(seq) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return q.head + lo
}

// resentIn counts the resent segments that [lo, hi) overlaps: 0 if it
// overlaps none, -1 if it overlaps only records never resent. A record
// resent as one TSO segment counts the segments of mss bytes the range
// overlaps in it, as Linux counts tcp_skb_pcount.
func (q *txQueue) resentIn(lo, hi Seq, mss uint32) int32 {
	var n, any int32
	for id := q.search(lo); id != q.end(); id++ {
		r := q.at(id)
		if !r.seq.Less(hi) {
			break
		}
		any++
		if r.flags&txRetrans != 0 {
			n += r.segsIn(lo, hi, mss)
		}
	}
	if any > 0 && n == 0 {
		return -1
	}
	return n
}

// listAppend adds id at the newest end of the time-ordered list.
func (q *txQueue) listAppend(id uint32) {
	r := q.at(id)
	r.flags |= txListed
	if q.tLen == 0 {
		q.tHead = id
	} else {
		q.at(q.tTail).next = id
		r.prev = q.tTail
	}
	q.tTail = id
	q.tLen++
}

// listRemove takes id out of the time-ordered list, if it is in it.
func (q *txQueue) listRemove(id uint32) {
	r := q.at(id)
	if r.flags&txListed == 0 {
		return
	}
	r.flags &^= txListed
	q.tLen--
	if q.tLen == 0 {
		return
	}
	switch {
	case id == q.tHead:
		q.tHead = r.next
	case id == q.tTail:
		q.tTail = r.prev
	default:
		q.at(r.prev).next = r.next
		q.at(r.next).prev = r.prev
	}
}

// listMoveTail makes id the most recently sent record of the list.
func (q *txQueue) listMoveTail(id uint32) {
	q.listRemove(id)
	q.listAppend(id)
}

// txRingClass returns the pool class of a ring of size records.
func txRingClass(size int) int {
	return min(bits.Len(uint(size-1))-3, numTxRingClasses-1)
}

// txRingPools recycles transmit-record rings, one sync.Pool per size.
type txRingPools [numTxRingClasses]sync.Pool

// getTxRing returns a ring of size records (a power of two, at least
// minTxRing). Its records are zeroed by push before use.
func (p *BufferPool) getTxRing(size int) *[]txRecord {
	if p != nil {
		if r, ok := p.txRings[txRingClass(size)].Get().(*[]txRecord); ok && len(*r) == size {
			return r
		}
	}
	r := make([]txRecord, size)
	return &r
}

// putTxRing takes back a ring.
func (p *BufferPool) putTxRing(r *[]txRecord) {
	if p != nil && len(*r) >= minTxRing {
		p.txRings[txRingClass(len(*r))].Put(r)
	}
}
