package impair

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Path runs a [Model] on the real clock: packets given to Send come out of
// the deliver function given to [New] once the model says they are due.
//
// How a packet travels depends on the Config:
//   - perfect (the zero Config): Send calls deliver with the caller's own
//     slices, inline, with no copy, lock or goroutine hop;
//   - only Loss, Duplicate and Corrupt: Send decides, copies and calls
//     deliver inline, under the Path's lock;
//   - any Delay, Jitter, RateBitsPerSec or Reorder: Send queues a copy and
//     the Path's one goroutine delivers it when due, sleeping on one timer.
//
// So deliver runs either on a Send caller's goroutine or on the Path's own,
// may be called concurrently in the perfect case, must not keep the slices
// it is given after it returns, and must not call Send or Close.
//
// A Path is safe for concurrent use. Decisions are deterministic for a given
// Seed and order of packets; the order among concurrent Send calls is
// whatever the lock makes it.
type Path struct {
	deliver func(pkts [][]byte)
	perfect bool // deliver inline, no Model
	timed   bool // deliver from the goroutine
	start   time.Time

	// Perfect case only.
	isClosed  atomic.Bool
	sent      atomic.Uint64 // packets delivered inline
	discarded atomic.Uint64 // packets sent after Close
	one       sync.Pool     // *[1][]byte, so Send(pkt) does not allocate

	mu     sync.Mutex // guards the three fields below
	m      *Model
	closed bool
	armed  time.Duration // deadline the goroutine sleeps until; busy while it works

	wake      chan struct{} // buffered(1): an earlier deadline appeared
	done      chan struct{} // closed by Close
	exited    chan struct{} // closed when the goroutine returns
	closeOnce sync.Once
}

// maxRunBatch is the most packets the goroutine takes per lock: several
// deliver calls' worth, so that Send callers holding the lock for long
// batches do not starve it.
const maxRunBatch = 4 * maxDeliverBatch

// busy is the armed value while the goroutine is not asleep: it will look at
// the queue again before sleeping, so Send need not wake it.
const busy = time.Duration(math.MinInt64)

// New returns a Path that impairs as cfg says and hands packets to deliver.
// When cfg delays packets it starts one goroutine, which Close stops.
func New(cfg Config, deliver func(pkts [][]byte)) *Path {
	cfg = cfg.normalized()
	p := &Path{deliver: deliver, start: time.Now()}
	switch {
	case cfg.perfect():
		p.perfect = true
		p.one.New = func() any { return new([1][]byte) }
		return p
	case cfg.immediate():
		p.m = NewModel(cfg)
		return p
	}
	p.m = NewModel(cfg)
	p.timed = true
	p.armed = busy
	p.wake = make(chan struct{}, 1)
	p.done = make(chan struct{})
	p.exited = make(chan struct{})
	go p.run()
	return p
}

// Perfect reports whether the path is the zero Config's: Send calls
// deliver inline on the caller's goroutine, with no model.
func (p *Path) Perfect() bool { return p.perfect }

// Send offers one packet to the path. It copies what it keeps, so pkt may be
// reused when Send returns. After Close it drops pkt, counted as Discarded.
func (p *Path) Send(pkt []byte) {
	if p.perfect {
		h := p.one.Get().(*[1][]byte)
		h[0] = pkt
		p.SendBatch(h[:])
		h[0] = nil
		p.one.Put(h)
		return
	}
	p.mu.Lock()
	if p.admitLocked(1) {
		p.m.Send(pkt, p.clock())
		p.flushLocked()
	}
	p.mu.Unlock()
}

// SendBatch offers each of pkts to the path, as Send does, under one lock
// and at one instant.
func (p *Path) SendBatch(pkts [][]byte) {
	if len(pkts) == 0 {
		return
	}
	if p.perfect {
		if p.isClosed.Load() {
			p.discarded.Add(uint64(len(pkts)))
			return
		}
		p.deliver(pkts)
		p.sent.Add(uint64(len(pkts)))
		return
	}
	p.mu.Lock()
	if p.admitLocked(len(pkts)) {
		now := p.clock()
		for _, pkt := range pkts {
			p.m.Send(pkt, now)
		}
		p.flushLocked()
	}
	p.mu.Unlock()
}

// admitLocked reports whether n packets may enter, counting them as
// discarded if the Path is closed.
func (p *Path) admitLocked(n int) bool {
	if p.closed {
		p.m.stats.Packets += uint64(n)
		p.m.stats.Discarded += uint64(n)
		return false
	}
	return true
}

// clock returns the time to give the model: the Path's clock when packets
// wait, and 0 when nothing waits and time does not matter.
func (p *Path) clock() time.Duration {
	if !p.timed {
		return 0
	}
	return p.now()
}

// flushLocked starts the delivery of what Send queued: inline when nothing
// waits, else by waking the goroutine if it sleeps past the new deadline.
func (p *Path) flushLocked() {
	if !p.timed {
		p.m.Deliver(0, p.deliver)
		return
	}
	if d := p.m.Deadline(); d < p.armed {
		p.armed = busy
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

// Stats returns the counters so far.
func (p *Path) Stats() Stats {
	if p.perfect {
		n := p.sent.Load()
		d := p.discarded.Load()
		return Stats{Packets: n + d, Delivered: n, Discarded: d}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.m.Stats()
}

// Close drops every pending packet (counted as Discarded), stops the Path's
// goroutine and waits for it, so deliver is not called again once Close
// returns (except, on a perfect Path, by Send calls already under way).
// Close is safe to call more than once and from any goroutine but deliver.
func (p *Path) Close() {
	p.closeOnce.Do(func() {
		if p.perfect {
			p.isClosed.Store(true)
			return
		}
		p.mu.Lock()
		p.closed = true
		p.m.Discard()
		p.mu.Unlock()
		if p.timed {
			close(p.done)
			<-p.exited
		}
	})
}

// now returns the Path's clock: the monotonic time since New.
func (p *Path) now() time.Duration { return time.Since(p.start) }

// run is the Path's goroutine: it delivers what is due, then sleeps until
// the next deadline or until Send queues something earlier.
func (p *Path) run() {
	defer close(p.exited)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var batch []*packet // popped last round, to recycle under the next lock
	var out [][]byte
	for {
		p.mu.Lock()
		for _, pk := range batch {
			p.m.release(pk)
		}
		clear(batch)
		if p.closed {
			p.mu.Unlock()
			return
		}
		now := p.now()
		batch = p.m.popDue(now, batch[:0], maxRunBatch)
		if len(batch) > 0 {
			p.armed = busy
			p.mu.Unlock()
			// Deliver outside the lock, so a slow receiver never blocks Send.
			for i := 0; i < len(batch); i += maxDeliverBatch {
				for _, pk := range batch[i:min(i+maxDeliverBatch, len(batch))] {
					out = append(out, pk.buf)
				}
				p.deliver(out)
				clear(out)
				out = out[:0]
			}
			continue
		}
		d := p.m.Deadline()
		p.armed = d
		p.mu.Unlock()

		var fire <-chan time.Time
		if d != NoDeadline {
			timer.Reset(d - now)
			fire = timer.C
		}
		select {
		case <-fire:
		case <-p.wake:
			timer.Stop()
		case <-p.done:
			timer.Stop()
			return
		}
	}
}
