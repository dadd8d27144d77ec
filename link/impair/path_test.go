package impair

import (
	"bytes"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// sink collects what a Path delivers and lets a test wait for a count.
type sink struct {
	mu   sync.Mutex
	cond sync.Cond
	got  [][]byte
}

func newSink() *sink {
	s := &sink{}
	s.cond.L = &s.mu
	return s
}

func (s *sink) deliver(pkts [][]byte) {
	s.mu.Lock()
	for _, p := range pkts {
		s.got = append(s.got, bytes.Clone(p))
	}
	s.mu.Unlock()
	s.cond.Broadcast()
}

// wait blocks until n packets have arrived and returns them. Tests with a
// goroutine run in a synctest bubble, where a Path that never delivers is
// a deadlock the bubble reports.
func (s *sink) wait(n int) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.got) < n {
		s.cond.Wait()
	}
	return slices.Clone(s.got)
}

func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

func TestPerfectPathDeliversInlineWithoutCopy(t *testing.T) {
	var got [][]byte
	p := New(Config{}, func(pkts [][]byte) { got = append(got, pkts...) })
	defer p.Close()
	pkt := numbered(1, 100)
	p.Send(pkt)
	if len(got) != 1 || &got[0][0] != &pkt[0] {
		t.Fatal("a perfect Path did not hand over the caller's packet inline")
	}
	p.SendBatch([][]byte{numbered(2, 10), numbered(3, 10)})
	if s := p.Stats(); s.Packets != 3 || s.Delivered != 3 {
		t.Fatalf("stats %+v, want 3 packets delivered", s)
	}
	p.Close()
	p.Send(pkt)
	if len(got) != 3 || p.Stats().Discarded != 1 {
		t.Fatalf("Send after Close: %d delivered, stats %+v", len(got), p.Stats())
	}
}

func TestLossyPathDeliversInline(t *testing.T) {
	var got []int
	p := New(Config{Loss: 0.5, Seed: 1}, func(pkts [][]byte) {
		for _, pk := range pkts {
			got = append(got, number(pk))
		}
	})
	defer p.Close()
	for i := range 1000 {
		p.Send(numbered(i, 40)) // deliver runs before Send returns: no lock needed
	}
	if len(got) < 400 || len(got) > 600 || !slices.IsSorted(got) {
		t.Fatalf("delivered %d packets (sorted: %v), want about 500 in order", len(got), slices.IsSorted(got))
	}
}

func TestDelayedPathKeepsEachSendersOrder(t *testing.T) {
	synctest.Test(t, testDelayedPathKeepsEachSendersOrder)
}

func testDelayedPathKeepsEachSendersOrder(t *testing.T) {
	s := newSink()
	p := New(Config{Delay: 2 * ms}, s.deliver)
	defer p.Close()
	const senders, each = 4, 300
	var wg sync.WaitGroup
	for w := range senders {
		wg.Go(func() {
			for i := range each {
				p.Send(numbered(w*each+i, 30))
			}
		})
	}
	wg.Wait()
	got := s.wait(senders * each)
	next := make([]int, senders)
	for _, pk := range got {
		n := number(pk)
		w := n / each
		if n%each != next[w] {
			t.Fatalf("sender %d: packet %d arrived, want %d", w, n%each, next[w])
		}
		next[w]++
	}
	if st := p.Stats(); st.Delivered != senders*each || st.Packets != senders*each {
		t.Fatalf("stats %+v", st)
	}
}

func TestDelayedPathNeverDeliversEarly(t *testing.T) {
	synctest.Test(t, testDelayedPathNeverDeliversEarly)
}

func testDelayedPathNeverDeliversEarly(t *testing.T) {
	const delay = 3 * ms
	arrived := make(chan time.Time, 1)
	p := New(Config{Delay: delay}, func(pkts [][]byte) { arrived <- time.Now() })
	defer p.Close()
	for i := range 10 {
		sent := time.Now()
		p.Send(numbered(i, 20))
		// In the bubble, time moves only when every goroutine waits: the
		// packet arrives exactly one delay later.
		if lat := (<-arrived).Sub(sent); lat != delay {
			t.Fatalf("packet %d arrived after %v, want the %v delay", i, lat, delay)
		}
	}
}

func TestPathReorderSwapsABatch(t *testing.T) { synctest.Test(t, testPathReorderSwapsABatch) }

func testPathReorderSwapsABatch(t *testing.T) {
	s := newSink()
	p := New(Config{Reorder: 1}, s.deliver)
	defer p.Close()
	p.SendBatch([][]byte{numbered(1, 20), numbered(2, 20)})
	got := s.wait(2)
	if number(got[0]) != 2 || number(got[1]) != 1 {
		t.Fatalf("delivered %d then %d, want 2 then 1", number(got[0]), number(got[1]))
	}
	if st := p.Stats(); st.Reordered != 1 {
		t.Fatalf("Reordered = %d, want 1", st.Reordered)
	}
}

func TestCloseDropsPendingAndStopsDelivery(t *testing.T) {
	s := newSink()
	p := New(Config{Delay: time.Hour, RateBitsPerSec: 1e6, QueueBytes: 10}, s.deliver)
	for i := range 10 {
		p.Send(numbered(i, 1000))
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(p.Close)
	}
	wg.Wait()
	p.Send(numbered(99, 10))
	st := p.Stats()
	// A queue smaller than a packet still passes one to an idle link.
	if s.count() != 0 || st.QueueDrops != 9 || st.Discarded != 2 || st.Packets != 11 {
		t.Fatalf("after Close: %d delivered, stats %+v", s.count(), st)
	}
}

// BenchmarkPathDelay pushes 64-packet batches of 1500 bytes through a
// delayed, jittered Path. Like a TCP sender it keeps at most a window of
// packets in flight, so the measure is the steady state, not a backlog
// growing whenever the delivery goroutine is descheduled.
func BenchmarkPathDelay(b *testing.B) {
	const window = 8192
	var delivered atomic.Int64
	p := New(Config{Delay: ms, Jitter: 100 * time.Microsecond, Seed: 1}, func(pkts [][]byte) {
		delivered.Add(int64(len(pkts)))
	})
	defer p.Close()
	batch := make([][]byte, 64)
	for i := range batch {
		batch[i] = numbered(i, 1500)
	}
	sent := int64(0)
	send := func() {
		for sent-delivered.Load() > window {
			runtime.Gosched()
		}
		p.SendBatch(batch)
		sent += 64
	}
	for range 4 * window / 64 { // warm the buffer pool up to the window
		send()
	}
	b.ReportAllocs()
	b.SetBytes(1500 * 64)
	for b.Loop() {
		send()
	}
	for delivered.Load() < sent {
		runtime.Gosched()
	}
}
