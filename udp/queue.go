package udp

import (
	"net/netip"
	"sync"
)

// Queue defaults and costs.
const (
	// DefaultQueueBytes bounds a socket's receive queue: Linux's
	// rmem_default (212992 bytes), counted the same way, in the memory
	// the datagrams take and not only their data.
	DefaultQueueBytes = 212992
	// entryOverhead is what each queued datagram costs besides its buffer:
	// its addresses and bookkeeping, so that tiny datagrams cannot queue
	// without bound.
	entryOverhead = 64
)

// Datagram is one queued datagram's addresses: where it came from, and
// where it was sent (a local address, or for a forwarded flow the original
// destination).
type Datagram struct {
	From, To netip.AddrPort
}

// Queue is a socket's receive queue: datagrams in arrival order, each
// copied into a buffer from a Pool and given back when read. It is bounded
// by the memory its datagrams take (their buffers' sizes plus a fixed cost
// each), and a datagram that does not fit is dropped and counted, as
// Linux's RcvbufErrors counts. An empty queue holds no buffer. The zero
// value is an empty queue with DefaultQueueBytes and no pool (buffers are
// then allocated); a Queue is not safe for concurrent use.
type Queue struct {
	pool  *Pool
	limit int
	bytes int
	ents  []entry // a ring of n entries from head
	head  int
	n     int
	drops uint64
}

type entry struct {
	d   Datagram
	buf *[]byte
}

// NewQueue returns an empty queue bounded by limit bytes (<= 0 means
// DefaultQueueBytes) whose buffers come from pool (nil allocates them).
func NewQueue(limit int, pool *Pool) Queue {
	if limit <= 0 {
		limit = DefaultQueueBytes
	}
	return Queue{pool: pool, limit: limit}
}

func (q *Queue) max() int {
	if q.limit <= 0 {
		return DefaultQueueBytes
	}
	return q.limit
}

// SetLimit changes the bound; datagrams already queued stay.
func (q *Queue) SetLimit(limit int) { q.limit = limit }

// Len returns the number of datagrams queued.
func (q *Queue) Len() int { return q.n }

// Bytes returns the memory the queued datagrams are charged.
func (q *Queue) Bytes() int { return q.bytes }

// Drops returns the number of datagrams dropped because the queue was full.
func (q *Queue) Drops() uint64 { return q.drops }

// Push copies data and its addresses to the end of the queue. It reports
// false, dropping and counting the datagram, if the queue has no room for
// it; as in Linux, one datagram is always let into an empty queue.
func (q *Queue) Push(d Datagram, data []byte) bool {
	size := bufSize(len(data)) + entryOverhead
	if q.n > 0 && q.bytes+size > q.max() {
		q.drops++
		return false
	}
	b := q.pool.Get(len(data))
	copy(*b, data)
	if q.n == len(q.ents) {
		q.grow()
	}
	q.ents[(q.head+q.n)%len(q.ents)] = entry{d, b}
	q.n++
	q.bytes += size
	return true
}

func (q *Queue) grow() {
	ents := make([]entry, max(4, 2*len(q.ents)))
	for i := range q.n {
		ents[i] = q.ents[(q.head+i)%len(q.ents)]
	}
	q.ents, q.head = ents, 0
}

// Peek returns the first datagram's addresses and length without removing
// it; ok is false when the queue is empty.
func (q *Queue) Peek() (d Datagram, n int, ok bool) {
	if q.n == 0 {
		return d, 0, false
	}
	e := &q.ents[q.head]
	return e.d, len(*e.buf), true
}

// Pop removes the first datagram and copies its data into p, returning the
// bytes copied: as recvfrom does, a datagram longer than p is cut and the
// rest discarded (truncated reports it). ok is false when the queue is
// empty.
func (q *Queue) Pop(p []byte) (d Datagram, n int, truncated, ok bool) {
	if q.n == 0 {
		return d, 0, false, false
	}
	e := q.ents[q.head]
	q.ents[q.head] = entry{}
	q.head = (q.head + 1) % len(q.ents)
	q.n--
	n = copy(p, *e.buf)
	truncated = n < len(*e.buf)
	q.bytes -= bufSize(len(*e.buf)) + entryOverhead
	q.pool.Put(e.buf)
	if q.n == 0 && len(q.ents) > 16 {
		q.ents, q.head = nil, 0 // let a burst's ring go
	}
	return e.d, n, truncated, true
}

// Clear drops every datagram (for Close), giving their buffers back.
func (q *Queue) Clear() {
	for q.n > 0 {
		q.Pop(nil)
	}
	q.ents, q.head = nil, 0
}

// Buffer size classes: a datagram's buffer is the smallest class that
// holds it, so that a Pool recycles a few sizes.
var sizeClasses = [...]int{256, 2048, 16384, 65536}

// bufSize returns the size of the buffer a datagram of n bytes takes.
func bufSize(n int) int {
	for _, c := range sizeClasses {
		if n <= c {
			return c
		}
	}
	return n
}

// Pool recycles datagram buffers by size class, so that a busy socket
// allocates nothing in steady state and an idle one holds nothing. It is
// safe for concurrent use; a nil *Pool allocates every buffer.
type Pool struct {
	classes [len(sizeClasses)]sync.Pool
}

// NewPool returns an empty pool.
func NewPool() *Pool { return &Pool{} }

// Get returns a buffer of exactly n bytes whose capacity is n's size class.
func (p *Pool) Get(n int) *[]byte {
	size := bufSize(n)
	if p != nil {
		for i, c := range sizeClasses {
			if c == size {
				if b, ok := p.classes[i].Get().(*[]byte); ok {
					*b = (*b)[:n]
					return b
				}
			}
		}
	}
	b := make([]byte, n, size)
	return &b
}

// Put gives b back for reuse; b must not be used afterwards.
func (p *Pool) Put(b *[]byte) {
	if p == nil {
		return
	}
	for i, c := range sizeClasses {
		if cap(*b) == c {
			p.classes[i].Put(b)
			return
		}
	}
}
