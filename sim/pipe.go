package sim

import (
	"net"
	"time"

	"github.com/synack-go/synack/link"
	"github.com/synack-go/synack/link/impair"
	"github.com/synack-go/synack/link/pipe"
)

// Endpoint is one end of a Pipe: a link.Endpoint on the simulation's
// clock, whose ReadBatch waits through the Sim. A driver holding an end
// writes raw IP packets into it with WriteBatch and reads what arrives with
// ReadPacket. Like everything in a simulation, it is used by one goroutine
// of it at a time.
type Endpoint struct {
	s     *Sim
	pair  *pipePair
	peer  *Endpoint
	model *impair.Model // impairs what this end writes; nil for a perfect link
	timer *Timer        // delivers the model's next packet; nil when none waits

	in packetRing // arrived here, waiting to be read

	written, tooBig, queued, queueFull, read uint64
	sent                                     uint64 // perfect links only: Impair.Packets and Delivered
}

var _ link.Endpoint = (*Endpoint)(nil)

// pipePair is what the two ends share.
type pipePair struct {
	mtu    int
	closed bool
}

// Packet is one packet read with ReadPacket.
type Packet struct {
	At   time.Time // the virtual time it arrived at the end that read it
	Data []byte    // the IP packet, the caller's to keep
}

// Pipe returns the two ends of an in-memory link on the simulation's
// clock, with the MTU, receive queues and impairments cfg describes, as
// link/pipe.New's (the same link/impair Model decides each packet's
// fate). Their generators derive from the Sim's seed, cfg.Seed and the
// order of the Sim's Pipe and Rand calls, so a run replays. A packet takes
// no virtual time unless cfg delays it.
func (s *Sim) Pipe(cfg pipe.Config) (a, b *Endpoint) {
	mtu := cfg.MTU
	if mtu <= 0 {
		mtu = pipe.DefaultMTU
	}
	qlen := cfg.QueueLen
	if qlen <= 0 {
		qlen = pipe.DefaultQueueLen
	}
	p := &pipePair{mtu: min(mtu, 65535)}
	a = &Endpoint{s: s, pair: p, in: newPacketRing(qlen)}
	b = &Endpoint{s: s, pair: p, in: newPacketRing(qlen)}
	a.peer, b.peer = b, a
	ic := cfg.Impairments()
	if ic != (impair.Config{}) {
		for _, e := range [2]*Endpoint{a, b} {
			ic.Seed = int64(s.derive(uint64(cfg.Seed)))
			e.model = impair.NewModel(ic)
		}
	}
	return a, b
}

// MTU returns the link's MTU.
func (e *Endpoint) MTU() int { return e.pair.mtu }

// BatchSize returns 64, as link/pipe's.
func (e *Endpoint) BatchSize() int { return 64 }

// ReadBatch waits, on the Sim, until a packet has arrived at this end,
// then copies out as many queued packets as fit in bufs and sizes, in
// arrival order. After either end is closed it returns net.ErrClosed; a
// wait of the main goroutine may also return the Sim's error.
func (e *Endpoint) ReadBatch(bufs [][]byte, sizes []int) (int, error) {
	if err := e.wait(time.Time{}); err != nil {
		return 0, err
	}
	n := 0
	for n < len(bufs) && n < len(sizes) && e.in.n > 0 {
		p := e.in.pop()
		sizes[n] = copy(bufs[n], p.data)
		n++
	}
	e.read += uint64(n)
	return n, nil
}

// ReadPacket waits, on the Sim, until a packet has arrived at this end or
// the deadline (if not zero) passes, and returns the packet with its
// arrival time. It returns os.ErrDeadlineExceeded at the deadline,
// net.ErrClosed after Close, or the Sim's error.
func (e *Endpoint) ReadPacket(deadline time.Time) (Packet, error) {
	if err := e.wait(deadline); err != nil {
		return Packet{}, err
	}
	p := e.in.pop()
	e.read++
	return Packet{At: e.s.start.Add(p.at), Data: append([]byte(nil), p.data...)}, nil
}

// Pending returns how many packets wait at this end to be read.
func (e *Endpoint) Pending() int { return e.in.n }

// wait blocks until a packet is queued at e or the pipe is closed.
func (e *Endpoint) wait(deadline time.Time) error {
	err := e.s.Wait(func() bool { return e.in.n > 0 || e.pair.closed }, deadline)
	if err != nil {
		return err
	}
	if e.pair.closed {
		return net.ErrClosed
	}
	return nil
}

// WriteBatch sends each of pkts to the other end, through the
// impairments, at the current virtual time. It never waits: packets
// larger than the MTU are dropped (Stats.TooBig), as are packets that find
// the other end's queue full (Stats.QueueFull). After either end is closed
// it returns net.ErrClosed.
func (e *Endpoint) WriteBatch(pkts [][]byte) error {
	if e.pair.closed {
		return net.ErrClosed
	}
	now := e.s.now
	for _, p := range pkts {
		e.written++
		switch {
		case len(p) > e.pair.mtu:
			e.tooBig++
		case e.model == nil:
			e.sent++
			e.deliver(p, now)
		default:
			e.model.Send(p, now)
		}
	}
	if e.model != nil {
		e.model.Deliver(now, e.deliverBatch)
		e.arm()
	}
	return nil
}

// arm schedules the delivery of the model's next packet.
func (e *Endpoint) arm() {
	d := e.model.Deadline()
	if d == impair.NoDeadline {
		return
	}
	if e.timer == nil {
		e.timer = e.s.AfterFunc(d-e.s.now, e.onTimer)
		return
	}
	if e.timer.idx < 0 || d < e.timer.at {
		e.timer.Reset(d - e.s.now)
	}
}

// onTimer delivers what the model has due and arms the next delivery.
func (e *Endpoint) onTimer() {
	if e.pair.closed {
		return
	}
	e.model.Deliver(e.s.now, e.deliverBatch)
	e.arm()
}

func (e *Endpoint) deliverBatch(pkts [][]byte) {
	for _, p := range pkts {
		e.deliver(p, e.s.now)
	}
}

// deliver queues a copy of p at the other end.
func (e *Endpoint) deliver(p []byte, at time.Duration) {
	if e.peer.in.full() {
		e.queueFull++
		return
	}
	e.peer.in.push(p, at)
	e.queued++
}

// Close closes both ends: waiting and later reads and writes on either
// return net.ErrClosed, and packets in flight are dropped. It always
// returns nil.
func (e *Endpoint) Close() error {
	if e.pair.closed {
		return nil
	}
	e.pair.closed = true
	for _, end := range [2]*Endpoint{e, e.peer} {
		if end.timer != nil {
			end.timer.Stop()
		}
		if end.model != nil {
			end.model.Discard()
		}
		end.in.clear()
	}
	return nil
}

// Stats returns this end's counters, as link/pipe's Endpoint reports them.
func (e *Endpoint) Stats() pipe.Stats {
	st := pipe.Stats{
		Written: e.written, TooBig: e.tooBig, Queued: e.queued, QueueFull: e.queueFull, Read: e.read,
		Impair: impair.Stats{Packets: e.sent, Delivered: e.sent},
	}
	if e.model != nil {
		st.Impair = e.model.Stats()
	}
	return st
}

// packetRing is a bounded queue of packets whose buffers are reused.
type packetRing struct {
	slots []slot
	head  int
	n     int
}

type slot struct {
	data []byte
	at   time.Duration
}

func newPacketRing(n int) packetRing { return packetRing{slots: make([]slot, n)} }

func (r *packetRing) full() bool { return r.n == len(r.slots) }

func (r *packetRing) push(p []byte, at time.Duration) {
	i := (r.head + r.n) % len(r.slots)
	r.slots[i].data = append(r.slots[i].data[:0], p...)
	r.slots[i].at = at
	r.n++
}

// pop returns the oldest packet; its data is valid until the next push.
func (r *packetRing) pop() slot {
	s := r.slots[r.head]
	r.head = (r.head + 1) % len(r.slots)
	r.n--
	return s
}

func (r *packetRing) clear() { r.head, r.n = 0, 0 }
