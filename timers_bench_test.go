package synack

import (
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"
)

// benchTimerQueue returns a timer queue holding n connections with
// deadlines spread over a minute, as a busy stack has them (RTOs,
// delayed ACKs, keepalives, TIME_WAIT), and the connections.
func benchTimerQueue(n int) (*timerQueue, []*Conn) {
	q := new(timerQueue)
	q.init(new(Stack))
	r := rand.New(rand.NewPCG(1, 2))
	conns := make([]*Conn, n)
	for i := range conns {
		conns[i] = &Conn{timerIdx: -1}
		q.schedule(conns[i], time.Duration(r.Int64N(int64(time.Minute))))
	}
	return q, conns
}

// BenchmarkTimerQueue measures the stack's timer heap with 10,000 armed
// connections: arming one more and disarming it (a connection opens and
// closes), moving a deadline later (every ACK moves the RTO: the queue
// keeps the earlier entry, one comparison), moving one earlier (a delayed
// ACK armed before the RTO), and popping the earliest (what the timer
// goroutine does when a deadline passes).
func BenchmarkTimerQueue(b *testing.B) {
	const n = 10000
	b.Run("arm-disarm", func(b *testing.B) {
		q, _ := benchTimerQueue(n)
		c := &Conn{timerIdx: -1}
		at := 30 * time.Second
		b.ReportAllocs()
		for b.Loop() {
			q.schedule(c, at)
			q.remove(c)
		}
	})
	b.Run("later", func(b *testing.B) {
		q, conns := benchTimerQueue(n)
		i := 0
		b.ReportAllocs()
		for b.Loop() {
			c := conns[i%n]
			q.schedule(c, c.timerAt+time.Millisecond)
			i++
		}
	})
	b.Run("later-parallel", func(b *testing.B) {
		// The read loops of a multi-queue link, each moving the RTOs of
		// its own connections later (-cpu 1,2,4): they share the queue.
		q, conns := benchTimerQueue(n)
		var next atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			own := conns[int(next.Add(1)-1)%8*(n/8):][:n/8]
			i := 0
			for pb.Next() {
				c := own[i%len(own)]
				q.schedule(c, c.timerAt+time.Millisecond)
				i++
			}
		})
	})
	b.Run("earlier", func(b *testing.B) {
		q, conns := benchTimerQueue(n)
		i := 0
		b.ReportAllocs()
		for b.Loop() {
			c := conns[i%n]
			q.schedule(c, c.timerAt-time.Microsecond)
			i++
		}
	})
	b.Run("pop-rearm", func(b *testing.B) {
		q, _ := benchTimerQueue(n)
		b.ReportAllocs()
		for b.Loop() {
			q.mu.Lock()
			c := q.heap[0]
			q.mu.Unlock()
			at := c.timerAt + time.Minute
			q.remove(c)
			q.schedule(c, at)
		}
	})
	b.Run("drain-fill", func(b *testing.B) {
		// Arming n connections from nothing and taking them out again,
		// per connection: a stack whose connections all start and end.
		q, conns := benchTimerQueue(n)
		for _, c := range conns {
			q.remove(c)
		}
		r := rand.New(rand.NewPCG(3, 4))
		ats := make([]time.Duration, n)
		for i := range ats {
			ats[i] = time.Duration(r.Int64N(int64(time.Minute)))
		}
		b.ReportAllocs()
		for b.Loop() {
			for i, c := range conns {
				q.schedule(c, ats[i])
			}
			for _, c := range conns {
				q.remove(c)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/conn")
	})
}
