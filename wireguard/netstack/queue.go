package netstack

import (
	"errors"
	"sync"
)

// errQueueClosed is what a closed queue returns; each side translates it
// into the error its caller expects (os.ErrClosed for wireguard-go,
// net.ErrClosed for the stack).
var errQueueClosed = errors.New("netstack: queue closed")

// queue carries IP packets one way between the tun.Device that
// wireguard-go drives and the synack stack. It holds at most a fixed number
// of packets in slots that it reuses, so a busy queue allocates nothing once
// every slot has held a packet.
//
// A reader that finds the queue empty lends it its buffers while it waits,
// and writers copy straight into them: one copy per packet, as a NIC's DMA
// into posted receive buffers. Packets keep their order, since the slots are
// empty while buffers are lent and fill only once the lent ones are full.
//
// A full queue either drops what is pushed (counted: a receive ring does
// that) or, when block is set, makes the writer wait for room: backpressure,
// so that a sender faster than WireGuard's encryption waits rather than
// losing segments at the first hop.
type queue struct {
	mu      sync.Mutex
	arrived sync.Cond // a packet arrived, or the queue closed
	room    sync.Cond // a packet left, or the queue closed

	block  bool
	slots  [][]byte // packet i is slots[(head+i)%len(slots)]; grown on first use
	head   int
	n      int
	closed bool

	// The buffers of a waiting reader, the offset its packets start at in
	// each, and how many of them writers have filled.
	lent      [][]byte
	lentSizes []int
	lentOff   int
	filled    int

	pushed, dropped, truncated uint64
}

// newQueue returns an empty queue of n packets.
func newQueue(n int, block bool) *queue {
	q := &queue{slots: make([][]byte, n), block: block}
	q.arrived.L = &q.mu
	q.room.L = &q.mu
	return q
}

// push copies each of pkts[i][off:] into the queue. An empty packet is
// skipped. When the queue is full it waits for room if q.block, else it
// drops the packet. It returns errQueueClosed once the queue is closed.
func (q *queue) push(pkts [][]byte, off int) error {
	q.mu.Lock()
	added := false
	for _, b := range pkts {
		p := b[off:]
		if len(p) == 0 {
			continue
		}
		for !q.closed && q.filled == len(q.lent) && q.n == len(q.slots) && q.block {
			if added {
				// Wake the reader before sleeping: it makes the room.
				q.arrived.Broadcast()
				added = false
			}
			q.room.Wait()
		}
		if q.closed {
			q.mu.Unlock()
			return errQueueClosed
		}
		if q.filled < len(q.lent) {
			dst := q.lent[q.filled][q.lentOff:]
			if len(p) > len(dst) {
				q.truncated++
			}
			q.lentSizes[q.filled] = copy(dst, p)
			q.filled++
			q.pushed++
			added = true
			continue
		}
		if q.n == len(q.slots) {
			q.dropped++
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
			s = make([]byte, max(len(p), 2048))
		}
		s = s[:len(p)]
		copy(s, p)
		q.slots[i] = s
		q.n++
		q.pushed++
		added = true
	}
	q.mu.Unlock()
	if added {
		q.arrived.Broadcast()
	}
	return nil
}

// pop waits for at least one packet, then copies as many as are queued
// (up to len(bufs)) into bufs[i][off:], setting sizes[i]. A buffer shorter
// than its packet gets the packet's head; the rest is counted as
// truncated. It returns errQueueClosed once the queue is closed.
func (q *queue) pop(bufs [][]byte, sizes []int, off int) (int, error) {
	want := min(len(bufs), len(sizes))
	if want == 0 {
		return 0, nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n == 0 && !q.closed && q.lent == nil {
		q.lent, q.lentSizes, q.lentOff, q.filled = bufs[:want], sizes[:want], off, 0
		// Writers waiting for room can fill the lent buffers now.
		q.room.Broadcast()
		for q.filled == 0 && !q.closed {
			q.arrived.Wait()
		}
		n := q.filled
		q.lent, q.lentSizes, q.filled = nil, nil, 0
		if q.closed {
			return 0, errQueueClosed
		}
		return n, nil
	}
	for q.n == 0 && !q.closed {
		q.arrived.Wait()
	}
	if q.closed {
		return 0, errQueueClosed
	}
	n := min(want, q.n)
	for i := range n {
		dst := bufs[i][off:]
		if len(q.slots[q.head]) > len(dst) {
			q.truncated++
		}
		sizes[i] = copy(dst, q.slots[q.head])
		q.head++
		if q.head == len(q.slots) {
			q.head = 0
		}
	}
	q.n -= n
	if q.n == 0 {
		// Start over at the slots just used: they are allocated and still
		// in cache, and a queue that keeps up touches only these.
		q.head = 0
	}
	q.room.Broadcast()
	return n, nil
}

// close wakes every waiting reader and writer; from then on the queue
// refuses packets and drops what it held.
func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.n = 0
	q.mu.Unlock()
	q.arrived.Broadcast()
	q.room.Broadcast()
}

// queueStats are a queue's counters.
type queueStats struct {
	Pushed    uint64 // packets accepted
	Dropped   uint64 // packets that found the queue full (non-blocking queues only)
	Truncated uint64 // packets longer than the buffer they were copied into
}

func (q *queue) stats() queueStats {
	q.mu.Lock()
	defer q.mu.Unlock()
	return queueStats{Pushed: q.pushed, Dropped: q.dropped, Truncated: q.truncated}
}
