package synack

import (
	"sync"
	"time"

	"github.com/synack-go/synack/tcp"
)

// timerQueue is the stack's one timer: a min-heap of connections keyed on
// their TCB's Deadline, served by one goroutine with one time.Timer (or
// waits on the stack's Clock). A
// deadline that moves later is not updated in the heap: the entry fires
// early, the TCB has nothing due, and the connection is rescheduled. That
// keeps the per-ACK cost (the RTO moves on every ACK) at one comparison,
// made under the connection's lock alone (Conn.timerSet): the read loops
// of a multi-queue link poll their connections without meeting on the
// queue's lock.
type timerQueue struct {
	s    *Stack
	mu   sync.Mutex
	heap []*Conn
	wake chan struct{}
	next time.Duration // what the goroutine sleeps until
}

func (q *timerQueue) init(s *Stack) {
	q.s = s
	q.wake = make(chan struct{}, 1)
	q.next = tcp.NoDeadline
}

// schedule makes sure c is polled no later than at (c.mu held).
func (q *timerQueue) schedule(c *Conn, at time.Duration) {
	if at == tcp.NoDeadline || c.timerSet && at >= c.timerAt {
		// c is polled at timerAt or earlier already: in the heap, or
		// popped and about to be polled (onTimer), which reschedules it.
		return
	}
	q.mu.Lock()
	c.timerSet = true
	switch {
	case c.timerIdx < 0:
		c.timerAt = at
		c.timerIdx = int32(len(q.heap))
		q.heap = append(q.heap, c)
		q.up(int(c.timerIdx))
	case at < c.timerAt:
		c.timerAt = at
		q.up(int(c.timerIdx))
	default:
		q.mu.Unlock()
		return
	}
	early := at < q.next
	q.mu.Unlock()
	if early {
		signal(q.wake)
	}
}

// wakeBy makes sure the goroutine wakes no later than at, for something
// that is not a connection (the TIME_WAIT table, fragments).
func (q *timerQueue) wakeBy(at time.Duration) {
	q.mu.Lock()
	early := at < q.next
	q.mu.Unlock()
	if early {
		signal(q.wake)
	}
}

// remove takes c out of the queue (c.mu held).
func (q *timerQueue) remove(c *Conn) {
	c.timerSet = false
	q.mu.Lock()
	if i := int(c.timerIdx); i >= 0 {
		last := len(q.heap) - 1
		q.swap(i, last)
		q.heap[last] = nil
		q.heap = q.heap[:last]
		c.timerIdx = -1
		if i < last {
			q.down(i)
			q.up(i)
		}
	}
	q.mu.Unlock()
}

// run is the timer goroutine.
func (q *timerQueue) run() {
	var t *time.Timer // the wall clock's; a Clock's waits need none
	if q.s.clock == nil {
		t = time.NewTimer(time.Hour)
		t.Stop()
	}
	tx := newTxBatch(q.s, true)
	for {
		q.mu.Lock()
		now := q.s.now()
		var due *Conn
		if len(q.heap) > 0 && q.heap[0].timerAt <= now {
			due = q.heap[0]
			q.swap(0, len(q.heap)-1)
			q.heap[len(q.heap)-1] = nil
			q.heap = q.heap[:len(q.heap)-1]
			due.timerIdx = -1
			q.down(0)
		}
		q.next = tcp.NoDeadline
		if due == nil && len(q.heap) > 0 {
			q.next = q.heap[0].timerAt
		}
		q.mu.Unlock()
		if due != nil {
			due.onTimer(tx)
			tx.release()
			continue
		}
		// TIME_WAIT entries (timewait.go) and fragments waiting for
		// reassembly (network.go) live in tables of their own.
		other := min(q.s.expireTimeWait(now), q.s.expireFragments(now, tx))
		tx.release() // Time Exceeded errors
		if other < q.next {
			q.mu.Lock()
			q.next = min(q.next, other)
			q.mu.Unlock()
		}
		if q.s.clock != nil {
			if !q.clockWait(q.next) {
				return
			}
			continue
		}
		var wait <-chan time.Time
		if q.next != tcp.NoDeadline {
			t.Reset(q.next - now)
			wait = t.C
		}
		select {
		case <-wait:
		case <-q.wake:
			t.Stop()
		case <-q.s.done:
			t.Stop()
			return
		}
	}
}

// clockWait is run's wait on a Clock: until an earlier deadline is
// scheduled, next passes or the stack closes. It reports whether to go on.
func (q *timerQueue) clockWait(next time.Duration) bool {
	var at time.Time
	if next != tcp.NoDeadline {
		at = q.s.start.Add(next)
	}
	err := q.s.clockWait(q.wake, at)
	return !q.s.closed.Load() && (err == nil || isDeadline(err))
}

func (q *timerQueue) less(i, j int) bool { return q.heap[i].timerAt < q.heap[j].timerAt }

func (q *timerQueue) swap(i, j int) {
	q.heap[i], q.heap[j] = q.heap[j], q.heap[i]
	q.heap[i].timerIdx = int32(i)
	q.heap[j].timerIdx = int32(j)
}

func (q *timerQueue) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !q.less(i, p) {
			return
		}
		q.swap(i, p)
		i = p
	}
}

func (q *timerQueue) down(i int) {
	n := len(q.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && q.less(r, l) {
			m = r
		}
		if !q.less(m, i) {
			return
		}
		q.swap(i, m)
		i = m
	}
}
