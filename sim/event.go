package sim

import "time"

// Timer is an event scheduled with AfterFunc.
type Timer struct {
	s   *Sim
	at  time.Duration
	seq uint64
	f   func()
	idx int // in the event heap, -1 when not scheduled
}

// AfterFunc schedules f to run once, d of virtual time from now (at once,
// as soon as nothing else can run, when d <= 0). Events of one instant run
// in the order they were scheduled, before the goroutines they wake. f
// runs between goroutines, as the scheduler moves time: it may change
// state that goroutines wait for, schedule and stop events, and write to
// links, but must not wait. After Close, events no longer run.
func (s *Sim) AfterFunc(d time.Duration, f func()) *Timer {
	t := &Timer{s: s, f: f, idx: -1}
	t.schedule(s.now + max(d, 0))
	return t
}

// Stop cancels the event. It reports whether it was still scheduled.
func (t *Timer) Stop() bool {
	if t.idx < 0 {
		return false
	}
	t.s.events.remove(t.idx)
	return true
}

// Reset schedules the event again, d from now, whether or not it ran or
// was stopped. It reports whether it was still scheduled.
func (t *Timer) Reset(d time.Duration) bool {
	was := t.Stop()
	t.schedule(t.s.now + max(d, 0))
	return was
}

func (t *Timer) schedule(at time.Duration) {
	t.at = at
	t.seq = t.s.seq
	t.s.seq++
	t.s.events.push(t)
}

// fire runs the events due now, in order.
func (s *Sim) fire() {
	s.inEvent = true
	defer func() { s.inEvent = false }()
	for len(s.events) > 0 && s.events[0].at <= s.now {
		t := s.events.pop()
		t.f()
	}
}

// eventHeap is a min-heap of timers by (at, seq).
type eventHeap []*Timer

func (h eventHeap) less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}

func (h eventHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx = i
	h[j].idx = j
}

func (h *eventHeap) push(t *Timer) {
	t.idx = len(*h)
	*h = append(*h, t)
	h.up(t.idx)
}

func (h *eventHeap) pop() *Timer {
	return h.remove(0)
}

func (h *eventHeap) remove(i int) *Timer {
	old := *h
	n := len(old) - 1
	t := old[i]
	if i != n {
		old.swap(i, n)
	}
	old[n] = nil
	*h = old[:n]
	if i < n {
		h.down(i)
		h.up(i)
	}
	t.idx = -1
	return t
}

func (h eventHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h eventHeap) down(i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			return
		}
		h.swap(i, m)
		i = m
	}
}
