package pipe

import (
	"net"
	"sync"

	"github.com/synack-go/synack/link"
)

// queue is one end's receive ring: a fixed number of packet buffers, filled
// by copy on write, so that once every slot has been used the pipe
// allocates nothing.
//
// Each packet is copied once, as a NIC's DMA into a posted receive buffer.
// A reader that finds the ring empty lends it its buffers while it waits,
// and writers copy straight into them. A reader that finds packets waiting
// swaps buffers with the ring: it takes the slot that holds the packet and
// leaves its own buffer in the slot's place (link.Endpoint.ReadBatch allows
// this), so the slots become buffers of the reader's size. Packets keep
// their order: the ring is empty while buffers are lent, and fills only
// once they are.
type queue struct {
	mu       sync.Mutex
	nonEmpty sync.Cond // signalled when packets arrive or the pipe closes

	slots  [][]byte // packet i is slots[(head+i)%len(slots)]; allocated on first use
	head   int
	n      int
	closed bool

	// The buffers a waiting reader lent, or nil, and how many of them
	// writers have filled.
	lent      [][]byte
	lentSizes []int
	filled    int

	queued, full, read uint64
	bufLen             int // the length of the reader's buffers: new slots take it, so they can be swapped

	// The reader's receive function (link.Inliner) and whether a writer
	// runs it now: the reader waits until it is done (inline.go).
	inline   func(pkts [][]byte, meta []link.Meta)
	inlining bool
	inlined  uint64      // packets delivered inline
	meta     []link.Meta // scratch for inline deliveries with offloads
	pkts     [][]byte    // ...

	plain *plainSplit // ReadBatch's state on a pipe with offloads (offload.go)
}

// newQueue returns an empty queue of n packets.
func newQueue(n int) *queue {
	q := &queue{slots: make([][]byte, n)}
	q.nonEmpty.L = &q.mu
	return q
}

// push copies pkts into the queue, dropping those that find it full. After
// close it drops them all, uncounted.
func (q *queue) push(pkts [][]byte) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	added := false
	for _, p := range pkts {
		if q.filled < len(q.lent) {
			q.lentSizes[q.filled] = copy(q.lent[q.filled], p)
			q.filled++
			q.queued++
			added = true
			continue
		}
		if q.n == len(q.slots) {
			q.full++
			continue
		}
		i := q.head + q.n
		if i >= len(q.slots) {
			i -= len(q.slots)
		}
		s := q.slots[i]
		if cap(s) < len(p) {
			// Slots only grow, to the largest packet seen, so the ring
			// settles after one lap.
			s = make([]byte, max(len(p), 2048, q.bufLen))
		}
		s = s[:len(p)]
		copy(s, p)
		q.slots[i] = s
		q.n++
		q.queued++
		added = true
	}
	wake := added && !q.inlining // else endInline wakes the reader
	q.mu.Unlock()
	if wake {
		q.nonEmpty.Broadcast()
	}
}

// pop waits for packets and hands over as many as fit into bufs: by
// swapping a slot for the buffer when the slot is large enough to serve as
// it, by copy otherwise.
func (q *queue) pop(bufs [][]byte, sizes []int) (int, error) {
	want := min(len(bufs), len(sizes))
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n == 0 && !q.closed && want > 0 && q.lent == nil {
		q.lent, q.lentSizes, q.filled = bufs[:want], sizes[:want], 0
		for (q.filled == 0 || q.inlining) && !q.closed {
			q.nonEmpty.Wait()
		}
		n := q.filled
		q.lent, q.lentSizes, q.filled = nil, nil, 0
		if q.closed {
			return 0, net.ErrClosed
		}
		// The ring stayed empty while the buffers were lent.
		q.read += uint64(n)
		return n, nil
	}
	for q.n == 0 && !q.closed && want > 0 {
		q.nonEmpty.Wait()
	}
	if q.closed {
		return 0, net.ErrClosed
	}
	n := min(want, q.n)
	for i := range n {
		s, b := q.slots[q.head], bufs[i]
		q.bufLen = max(q.bufLen, len(b))
		if cap(s) >= len(b) && len(s) <= len(b) {
			bufs[i], q.slots[q.head] = s[:len(b)], b[:0]
			sizes[i] = len(s)
		} else {
			sizes[i] = copy(b, s)
		}
		q.head++
		if q.head == len(q.slots) {
			q.head = 0
		}
	}
	q.n -= n
	if q.n == 0 {
		// Start over at the slots just used: they are allocated and
		// still in cache, and a queue that keeps up touches only these.
		q.head = 0
	}
	q.read += uint64(n)
	return n, nil
}

// close wakes every waiting reader and makes the queue refuse packets,
// then waits for an inline delivery under way to end: the reader's stack,
// which is closing, must not see its receive function run later.
func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.n = 0
	q.nonEmpty.Broadcast()
	for q.inlining {
		q.nonEmpty.Wait()
	}
	q.mu.Unlock()
}

// counts returns the queue's counters.
func (q *queue) counts() (queued, full, read, inlined uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.queued, q.full, q.read, q.inlined
}

// empty reports whether no packet waits.
func (q *queue) empty() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n == 0
}

// splitter returns the queue's plain-read state, made on first use by its
// one reader.
func (q *queue) splitter() *plainSplit {
	if q.plain == nil {
		q.plain = &plainSplit{}
		q.plain.bufs[0] = make([]byte, 10+maxGSOPacket)
	}
	return q.plain
}
