package impair

import (
	"math/bits"
	"math/rand/v2"
	"time"
)

// Stats counts what an impairment did. Every packet offered is eventually
// Lost, QueueDrops, Discarded, still pending, or Delivered (twice when
// Duplicated, unless a copy was dropped by the queue).
type Stats struct {
	Packets    uint64 // packets offered to Send
	Delivered  uint64 // packets handed to the deliver function, copies included
	Lost       uint64 // dropped by Config.Loss
	QueueDrops uint64 // dropped because the rate limiter's queue was full
	Corrupted  uint64 // copies with one bit flipped by Config.Corrupt
	Duplicated uint64 // packets sent twice by Config.Duplicate
	Reordered  uint64 // packets held back and overtaken by the next packet, or delayed by ReorderDelay
	Discarded  uint64 // packets pending at Discard or Close, or sent after Close
}

// packet is one copy in flight, in a buffer the Model owns.
type packet struct {
	buf []byte        // the packet; cap is reused
	due time.Duration // when it may be delivered
	seq uint64        // order among packets with the same due time
}

// maxDeliverBatch is the most packets one call of a deliver function gets.
const maxDeliverBatch = 64

// Model is the sans-IO core of an impaired link: Send decides each packet's
// fate at the time it is given and queues a copy; Deliver hands over the
// copies due by a given time, in delivery order; Deadline says when the next
// one is due. It reads no clock and starts no goroutine, so a simulator can
// drive it on virtual time. Buffers are recycled: once warm, a Model
// allocates nothing.
//
// A Model is not safe for concurrent use.
type Model struct {
	cfg Config
	rng *rand.Rand

	q       []*packet     // min-heap by (due, seq)
	nextSeq uint64        // next tie-breaker
	lastDue time.Duration // latest due time given to an in-order packet

	linkFree time.Duration // when the rate limiter finishes what it holds

	held      *packet       // packet waiting to be overtaken, or nil
	heldUntil time.Duration // when held is released if nothing overtakes it

	free  []*packet // recycled packets
	batch []*packet // scratch for Deliver
	out   [][]byte  // scratch for Deliver

	stats Stats
}

// NewModel returns a Model that impairs as cfg says. Out-of-range values in
// cfg are clamped as Config documents.
func NewModel(cfg Config) *Model {
	cfg = cfg.normalized()
	s := uint64(cfg.Seed)
	return &Model{
		cfg: cfg,
		// The second PCG word only needs to differ from the first; any
		// fixed odd constant keeps a given Seed reproducible.
		rng: rand.New(rand.NewPCG(s, s^0x9e3779b97f4a7c15)),
	}
}

// Stats returns the counters so far.
func (m *Model) Stats() Stats { return m.stats }

// Pending returns how many packet copies wait to be delivered.
func (m *Model) Pending() int {
	n := len(m.q)
	if m.held != nil {
		n++
	}
	return n
}

// Deadline returns when the next packet is due, or NoDeadline if none is
// pending. The time is on the same clock as the now given to Send.
func (m *Model) Deadline() time.Duration {
	d := NoDeadline
	if len(m.q) > 0 {
		d = m.q[0].due
	}
	if m.held != nil && m.heldUntil < d {
		d = m.heldUntil
	}
	return d
}

// Send offers pkt to the link at time now. It copies what it keeps, so pkt
// may be reused when Send returns. now must not go backwards between calls.
func (m *Model) Send(pkt []byte, now time.Duration) {
	m.stats.Packets++
	if m.chance(m.cfg.Loss) {
		m.stats.Lost++
		return
	}
	copies := 1
	if m.chance(m.cfg.Duplicate) {
		copies = 2
		m.stats.Duplicated++
	}
	for range copies {
		m.sendCopy(pkt, now)
	}
}

// sendCopy runs one copy of pkt through the queue, delay, corruption and
// reordering stages.
func (m *Model) sendCopy(pkt []byte, now time.Duration) {
	depart := now
	if rate := m.cfg.RateBitsPerSec; rate > 0 {
		start := max(now, m.linkFree)
		// The bytes still to serialize ahead of this packet, for a link
		// that has sent at rate since it last went idle.
		backlog := mulDiv(uint64(start-now), uint64(rate), 8e9)
		if backlog > 0 && m.cfg.QueueBytes >= 0 && backlog+uint64(len(pkt)) > uint64(m.cfg.QueueBytes) {
			m.stats.QueueDrops++
			return
		}
		tx := min(mulDivCeil(uint64(len(pkt)), 8e9, uint64(rate)), uint64(maxDelay))
		m.linkFree = start + time.Duration(tx)
		depart = m.linkFree
	}
	due := depart + m.cfg.Delay
	if m.cfg.Jitter > 0 {
		due += time.Duration(m.rng.Int64N(int64(m.cfg.Jitter) + 1))
	}
	// Jitter and a rate change never reorder: wait for the packet ahead.
	due = max(due, m.lastDue)
	m.lastDue = due

	p := m.alloc(pkt)
	p.due = due
	if len(pkt) > 0 && m.chance(m.cfg.Corrupt) {
		p.buf[m.rng.IntN(len(pkt))] ^= 1 << m.rng.IntN(8)
		m.stats.Corrupted++
	}

	switch {
	case m.cfg.ReorderDelay > 0:
		if m.chance(m.cfg.Reorder) {
			// Late by ReorderDelay; lastDue stays put, so that the packets
			// behind it are not held back with it and overtake it.
			p.due += m.cfg.ReorderDelay
			m.stats.Reordered++
		}
		m.push(p)
	case m.held != nil:
		// p overtakes the held packet, which follows right behind it.
		m.push(p)
		h := m.held
		m.held = nil
		h.due = max(h.due, due)
		m.push(h)
		m.stats.Reordered++
	case m.chance(m.cfg.Reorder):
		m.held = p
		m.heldUntil = due + max(m.cfg.Delay+m.cfg.Jitter, minReorderHold)
	default:
		m.push(p)
	}
}

// Deliver hands every packet due at or before now to deliver, in batches of
// at most 64, in delivery order, and returns how many it handed over. The
// slices passed to deliver are valid only until it returns; deliver must not
// call back into m.
func (m *Model) Deliver(now time.Duration, deliver func(pkts [][]byte)) int {
	total := 0
	for {
		m.batch = m.popDue(now, m.batch[:0], maxDeliverBatch)
		if len(m.batch) == 0 {
			return total
		}
		m.out = m.out[:0]
		for _, p := range m.batch {
			m.out = append(m.out, p.buf)
		}
		deliver(m.out)
		total += len(m.batch)
		for _, p := range m.batch {
			m.release(p)
		}
		clear(m.out)
	}
}

// Discard drops every pending packet, counting them as Discarded.
func (m *Model) Discard() {
	if m.held != nil {
		m.stats.Discarded++
		m.release(m.held)
		m.held = nil
	}
	for _, p := range m.q {
		m.stats.Discarded++
		m.release(p)
	}
	clear(m.q)
	m.q = m.q[:0]
}

// popDue appends to batch up to limit packets due at or before now, in
// delivery order, counting them as Delivered. The caller gives each back
// with release once it has delivered it.
func (m *Model) popDue(now time.Duration, batch []*packet, limit int) []*packet {
	if m.held != nil && m.heldUntil <= now {
		// Nothing overtook it in time: deliver it late, in order.
		h := m.held
		m.held = nil
		h.due = m.heldUntil
		m.lastDue = max(m.lastDue, h.due)
		m.push(h)
	}
	for len(batch) < limit && len(m.q) > 0 && m.q[0].due <= now {
		batch = append(batch, m.pop())
	}
	m.stats.Delivered += uint64(len(batch))
	return batch
}

// chance draws true with probability p; certain outcomes draw nothing.
func (m *Model) chance(p float64) bool {
	switch {
	case p <= 0:
		return false
	case p >= 1:
		return true
	}
	return m.rng.Float64() < p
}

// alloc returns a recycled packet holding a copy of b.
func (m *Model) alloc(b []byte) *packet {
	var p *packet
	if n := len(m.free); n > 0 {
		p = m.free[n-1]
		m.free[n-1] = nil
		m.free = m.free[:n-1]
	} else {
		p = new(packet)
	}
	if cap(p.buf) < len(b) {
		c := 2048
		for c < len(b) {
			c *= 2
		}
		p.buf = make([]byte, c)
	}
	p.buf = p.buf[:len(b)]
	copy(p.buf, b)
	return p
}

// release recycles p. The free list grows to the most packets ever pending,
// so a steady flow allocates nothing.
func (m *Model) release(p *packet) {
	m.free = append(m.free, p)
}

// push adds p to the heap, after every packet already there with its due time.
func (m *Model) push(p *packet) {
	p.seq = m.nextSeq
	m.nextSeq++
	m.q = append(m.q, p)
	i := len(m.q) - 1
	for i > 0 {
		parent := (i - 1) / 2
		if !m.q[i].before(m.q[parent]) {
			break
		}
		m.q[i], m.q[parent] = m.q[parent], m.q[i]
		i = parent
	}
}

// pop removes and returns the earliest packet; the heap must not be empty.
func (m *Model) pop() *packet {
	top := m.q[0]
	n := len(m.q) - 1
	m.q[0] = m.q[n]
	m.q[n] = nil
	m.q = m.q[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		c := l
		if r := l + 1; r < n && m.q[r].before(m.q[l]) {
			c = r
		}
		if !m.q[c].before(m.q[i]) {
			break
		}
		m.q[i], m.q[c] = m.q[c], m.q[i]
		i = c
	}
	return top
}

// before orders packets by due time, then by the order they were queued.
func (p *packet) before(q *packet) bool {
	if p.due != q.due {
		return p.due < q.due
	}
	return p.seq < q.seq
}

// mulDiv returns a*b/c rounded down, saturating instead of overflowing.
func mulDiv(a, b, c uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	if hi >= c {
		return 1<<63 - 1
	}
	q, _ := bits.Div64(hi, lo, c)
	return min(q, 1<<63-1)
}

// mulDivCeil returns a*b/c rounded up, saturating instead of overflowing.
func mulDivCeil(a, b, c uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	if hi >= c {
		return 1<<63 - 1
	}
	q, r := bits.Div64(hi, lo, c)
	if r != 0 {
		q++
	}
	return min(q, 1<<63-1)
}
