package impair

import (
	"errors"
	"net"
	"sync"

	"github.com/synack-go/synack/link"
)

// ReadEndpoint is a [link.Endpoint] whose incoming packets cross an impaired
// [Path] between the endpoint it wraps and ReadBatch; outgoing packets pass
// through untouched. With [Wrap] around it, both directions of a link that
// has only one end in this process (a TUN device) are impaired:
//
//	ep := impair.Wrap(impair.WrapRead(dev, in), out)
//
// It is safe for one reader and any number of writers.
type ReadEndpoint struct {
	inner link.Endpoint
	path  *Path      // nil when the Config impairs nothing
	q     *readQueue // what the Path delivered, waiting for ReadBatch
	wg    sync.WaitGroup
	once  sync.Once
	err   error // the wrapped endpoint's Close error
}

var _ link.Endpoint = (*ReadEndpoint)(nil)

// readQueueLen is how many impaired packets wait for ReadBatch before more
// are dropped, as a NIC's receive ring would. Ours: deep enough that a
// reader keeping up never loses one.
const readQueueLen = 4096

// WrapRead returns a ReadEndpoint that impairs, as cfg says, every packet
// read from inner. When cfg impairs anything, one goroutine reads inner and
// feeds the Path (and the Path may run one more); Close stops them. With the
// zero Config, ReadBatch reads inner directly.
func WrapRead(inner link.Endpoint, cfg Config) *ReadEndpoint {
	e := &ReadEndpoint{inner: inner}
	if cfg.normalized().perfect() {
		return e
	}
	e.q = newReadQueue(readQueueLen)
	e.path = New(cfg, e.q.push)
	e.wg.Add(1)
	go e.pump()
	return e
}

// pump reads inner in batches and sends what it reads into the Path, until
// inner fails.
func (e *ReadEndpoint) pump() {
	defer e.wg.Done()
	mtu := e.inner.MTU()
	bufs := make([][]byte, max(e.inner.BatchSize(), 1))
	for i := range bufs {
		bufs[i] = make([]byte, mtu)
	}
	sizes := make([]int, len(bufs))
	pkts := make([][]byte, len(bufs))
	for {
		n, err := e.inner.ReadBatch(bufs, sizes)
		if err != nil {
			e.q.fail(err)
			return
		}
		for i := range n {
			pkts[i] = bufs[i][:sizes[i]]
		}
		e.path.SendBatch(pkts[:n])
	}
}

// MTU returns the wrapped endpoint's MTU.
func (e *ReadEndpoint) MTU() int { return e.inner.MTU() }

// BatchSize returns the wrapped endpoint's batch size.
func (e *ReadEndpoint) BatchSize() int { return e.inner.BatchSize() }

// ReadBatch returns the packets that have come through the impairments,
// waiting for at least one; see link.Endpoint. Once the wrapped endpoint
// fails (net.ErrClosed after Close), it returns that error, dropping what
// was still queued.
func (e *ReadEndpoint) ReadBatch(bufs [][]byte, sizes []int) (int, error) {
	if e.path == nil {
		return e.inner.ReadBatch(bufs, sizes)
	}
	return e.q.pop(bufs, sizes)
}

// WriteBatch writes pkts to the wrapped endpoint, unimpaired.
func (e *ReadEndpoint) WriteBatch(pkts [][]byte) error { return e.inner.WriteBatch(pkts) }

// Close closes the wrapped endpoint, drops the packets still in flight,
// stops the goroutines and returns the wrapped endpoint's Close error. It is
// safe to call more than once.
func (e *ReadEndpoint) Close() error {
	e.once.Do(func() {
		e.err = e.inner.Close()
		if e.path == nil {
			return
		}
		e.wg.Wait() // the pump has seen the wrapped endpoint fail
		e.path.Close()
		e.q.fail(net.ErrClosed)
	})
	return e.err
}

// Stats returns what the impairments have done to read packets. Packets
// dropped because ReadBatch fell more than 4096 packets behind count as
// QueueDrops.
func (e *ReadEndpoint) Stats() Stats {
	if e.path == nil {
		return Stats{}
	}
	s := e.path.Stats()
	s.QueueDrops += e.q.dropped()
	return s
}

// readQueue hands delivered packets to ReadBatch: a ring of packet buffers
// filled by copy and emptied by copy, which allocates nothing once every
// slot has been used.
type readQueue struct {
	mu       sync.Mutex
	nonEmpty sync.Cond
	slots    [][]byte // packet i is slots[(head+i)%len(slots)]
	head, n  int
	err      error // set once the source has failed
	drops    uint64
}

func newReadQueue(n int) *readQueue {
	q := &readQueue{slots: make([][]byte, n)}
	q.nonEmpty.L = &q.mu
	return q
}

// push copies pkts in, dropping those that find the ring full.
func (q *readQueue) push(pkts [][]byte) {
	q.mu.Lock()
	for _, p := range pkts {
		if q.err != nil {
			break
		}
		if q.n == len(q.slots) {
			q.drops++
			continue
		}
		i := (q.head + q.n) % len(q.slots)
		s := q.slots[i]
		if cap(s) < len(p) {
			s = make([]byte, max(len(p), 2048))
		}
		q.slots[i] = append(s[:0], p...)
		q.n++
	}
	q.mu.Unlock()
	q.nonEmpty.Signal()
}

// pop waits for packets and copies as many as fit into bufs.
func (q *readQueue) pop(bufs [][]byte, sizes []int) (int, error) {
	want := min(len(bufs), len(sizes))
	if want == 0 {
		return 0, nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.n == 0 && q.err == nil {
		q.nonEmpty.Wait()
	}
	if q.n == 0 {
		return 0, q.err
	}
	n := min(want, q.n)
	for i := range n {
		sizes[i] = copy(bufs[i], q.slots[q.head])
		q.head = (q.head + 1) % len(q.slots)
	}
	q.n -= n
	return n, nil
}

// fail makes pop return err once the ring is empty; net.ErrClosed (Close)
// also empties it at once.
func (q *readQueue) fail(err error) {
	q.mu.Lock()
	if q.err == nil {
		q.err = err
	}
	if errors.Is(err, net.ErrClosed) {
		q.n = 0
	}
	q.mu.Unlock()
	q.nonEmpty.Broadcast()
}

func (q *readQueue) dropped() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.drops
}
