package synack

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/synack-go/synack/udp"
	"github.com/synack-go/synack/wire"
)

// UDPForwardOptions configures ForwardUDP. The zero value forwards flows to
// the stack's own addresses with the default timeouts and bound.
type UDPForwardOptions struct {
	// AnyAddress forwards flows to every destination address, not only to
	// Options.Addrs: the transparent-proxy case, where a TUN device routes
	// all traffic to the stack. Multicast and broadcast destinations are
	// never forwarded.
	AnyAddress bool
	// IdleTimeout closes a flow that has seen datagrams one way only after
	// this long without traffic; StreamTimeout closes one that has seen
	// them both ways. 0 means 30 s and 120 s, the timeouts of Linux's
	// connection tracking (udp.DefaultIdleTimeout, udp.DefaultStreamTimeout).
	IdleTimeout, StreamTimeout time.Duration
	// MaxFlows bounds the flows open at once; datagrams that would start
	// another are dropped and counted (UDPStats.ForwardDrops). 0 means
	// 65536.
	MaxFlows int
}

const defaultMaxFlows = 65536

// UDPForwarder receives the UDP flows no socket owns; see ForwardUDP.
type UDPForwarder struct {
	s      *Stack
	opts   UDPForwardOptions
	handle func(*UDPConn)
	flows  atomic.Int64
	closed atomic.Bool
}

// ForwardUDP makes the stack hand each new UDP flow that no socket owns to
// handle: the first datagram from a (source, destination) pair it has no
// flow for makes a connected *UDPConn whose LocalAddr is the datagram's
// destination (any address with opts.AnyAddress) and whose RemoteAddr is
// its source; that datagram and the flow's later ones wait in it for Read,
// and Write answers from the original destination. handle runs on a
// goroutine of its own, once per flow; it owns the conn and closes it when
// done. A flow idle for its timeout (opts) is closed by the stack: its
// blocked and later Reads and Writes return net.ErrClosed.
//
// One forwarder serves a stack; a second ForwardUDP replaces the first for
// new flows. It fails with net.ErrClosed after Stack.Close.
func (s *Stack) ForwardUDP(opts UDPForwardOptions, handle func(*UDPConn)) (*UDPForwarder, error) {
	if handle == nil {
		return nil, errors.New("synack: ForwardUDP with a nil handler")
	}
	if opts.MaxFlows <= 0 {
		opts.MaxFlows = defaultMaxFlows
	}
	f := &UDPForwarder{s: s, opts: opts, handle: handle}
	if err := s.setForwarder(wire.ProtoUDP, endpoint{uf: f}, opts.AnyAddress); err != nil {
		return nil, err
	}
	return f, nil
}

// Close stops forwarding new flows; flows already handed out go on until
// closed or idle. A second Close returns net.ErrClosed.
func (f *UDPForwarder) Close() error {
	if f.closed.Swap(true) {
		return net.ErrClosed
	}
	f.s.clearForwarder(wire.ProtoUDP, endpoint{uf: f})
	return nil
}

// Unreachable sends the client of a forwarded flow an ICMP destination
// unreachable error for why, from the flow's LocalAddr (the destination it
// sent to), quoting the IP and UDP headers of a datagram of the flow: the
// client's socket then fails as it would have against the destination or
// a router on the way (ECONNREFUSED for UnreachPort, on a connected socket).
// A proxy calls it when its own datagrams to the destination draw such an
// error. The stack's ICMP rate limit applies. It fails with net.ErrClosed
// after Close, and for a socket that is not a forwarded flow.
func (c *UDPConn) Unreachable(why Unreachable) error {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed || c.fwd == nil {
		return c.opErr("write", net.ErrClosed)
	}
	// The datagram as the client sent it, but for its payload.
	src, dst := c.raddr, c.laddr
	hl := wire.IPHeaderLen(dst.Addr())
	pkt := make([]byte, hl+wire.UDPHeaderLen)
	wire.PutIPHeader(pkt, src.Addr(), dst.Addr(), wire.ProtoUDP, wire.UDPHeaderLen, ipTTL)
	(&wire.UDPDatagram{SrcPort: src.Port(), DstPort: dst.Port()}).Emit(pkt[hl:], src.Addr(), dst.Addr())
	ip := wire.IPPacket{Src: src.Addr(), Dst: dst.Addr(), Protocol: wire.ProtoUDP, Payload: pkt[hl:]}
	s := c.s
	tx := s.batches.get()
	s.icmpUnreachable(pkt, &ip, why, tx)
	s.batches.put(tx)
	return nil
}

// newFlow makes the flow for a datagram from remote to local, queues the
// datagram and starts the handler (the read loop's side).
func (f *UDPForwarder) newFlow(local, remote netip.AddrPort, data []byte, now time.Duration) {
	s := f.s
	if f.flows.Add(1) > int64(f.opts.MaxFlows) || f.closed.Load() {
		f.flows.Add(-1)
		s.udpCtr.forwardDrops.Add(1)
		s.traceDrop(local, remote, "udp-forward-full")
		return
	}
	c := newUDPConn(s, local, remote)
	c.fwd = f
	c.idle = udp.NewIdle(now, f.opts.IdleTimeout, f.opts.StreamTimeout)
	if !s.flows.insertUDP(flowKey{local, remote}, c, s.closed.Load) {
		// Another socket took the 4-tuple meanwhile (not on the read
		// loop, which alone makes flows): it gets the next datagrams.
		f.flows.Add(-1)
		s.udpCtr.forwardDrops.Add(1)
		return
	}
	c.deliver(remote, local, data, now)
	s.udpCtr.forwarded.Add(1)
	s.udpExpiry.schedule(c, c.idle.Deadline())
	s.goUser(func() { f.handle(c) })
}

// udpExpiry closes idle forwarded flows: a min-heap of flows keyed on their
// idle deadline, served by one goroutine started with the first flow. As
// in the stack's timer queue, a deadline that moves later is not updated
// in the heap: the entry fires early, the flow is found busy, and it is
// rescheduled.
type udpExpiry struct {
	s       *Stack
	mu      sync.Mutex
	heap    []*UDPConn
	wake    chan struct{}
	started bool
}

func (q *udpExpiry) init(s *Stack) {
	q.s = s
	q.wake = make(chan struct{}, 1)
}

// schedule makes sure c is looked at no later than at. It runs on the read
// loop, whose own count among the stack's goroutines makes starting the
// expiry's safe against Stack.Close.
func (q *udpExpiry) schedule(c *UDPConn, at time.Duration) {
	q.mu.Lock()
	if !q.started {
		q.started = true
		q.s.spawn(q.run)
	}
	if c.heapIdx < 0 {
		c.heapAt = at
		c.heapIdx = len(q.heap)
		q.heap = append(q.heap, c)
		q.up(c.heapIdx)
	} else if at < c.heapAt {
		c.heapAt = at
		q.up(c.heapIdx)
	}
	first := q.heap[0] == c
	q.mu.Unlock()
	if first {
		signal(q.wake)
	}
}

// remove takes c out of the heap.
func (q *udpExpiry) remove(c *UDPConn) {
	q.mu.Lock()
	if i := c.heapIdx; i >= 0 {
		last := len(q.heap) - 1
		q.swap(i, last)
		q.heap[last] = nil
		q.heap = q.heap[:last]
		c.heapIdx = -1
		if i < last {
			q.down(i)
			q.up(i)
		}
	}
	q.mu.Unlock()
}

func (q *udpExpiry) run() {
	var t *time.Timer // the wall clock's; a Clock's waits need none
	if q.s.clock == nil {
		t = time.NewTimer(time.Hour)
		t.Stop()
	}
	for {
		now := q.s.now()
		q.mu.Lock()
		var due *UDPConn
		if len(q.heap) > 0 && q.heap[0].heapAt <= now {
			due = q.heap[0]
			q.swap(0, len(q.heap)-1)
			q.heap[len(q.heap)-1] = nil
			q.heap = q.heap[:len(q.heap)-1]
			due.heapIdx = -1
			q.down(0)
		}
		next := time.Duration(-1)
		if due == nil && len(q.heap) > 0 {
			next = q.heap[0].heapAt
		}
		q.mu.Unlock()
		if due != nil {
			q.check(due, now)
			continue
		}
		if q.s.clock != nil {
			var at time.Time
			if next >= 0 {
				at = q.s.start.Add(next)
			}
			if err := q.s.clockWait(q.wake, at); q.s.closed.Load() || err != nil && !isDeadline(err) {
				return
			}
			continue
		}
		var wait <-chan time.Time
		if next >= 0 {
			t.Reset(next - now)
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

// check closes c if it has been idle too long, else reschedules it.
func (q *udpExpiry) check(c *UDPConn, now time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if !c.idle.Expired(now) {
		at := c.idle.Deadline()
		c.mu.Unlock()
		q.schedule(c, at)
		c.mu.Lock()
		return
	}
	c.close()
	q.s.udpCtr.idleExpired.Add(1)
}

func (q *udpExpiry) swap(i, j int) {
	q.heap[i], q.heap[j] = q.heap[j], q.heap[i]
	q.heap[i].heapIdx = i
	q.heap[j].heapIdx = j
}

func (q *udpExpiry) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if q.heap[p].heapAt <= q.heap[i].heapAt {
			return
		}
		q.swap(i, p)
		i = p
	}
}

func (q *udpExpiry) down(i int) {
	n := len(q.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && q.heap[r].heapAt < q.heap[l].heapAt {
			m = r
		}
		if q.heap[i].heapAt <= q.heap[m].heapAt {
			return
		}
		q.swap(i, m)
		i = m
	}
}
