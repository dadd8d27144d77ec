package synack

import (
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/synack-go/synack/tcp"
	"github.com/synack-go/synack/wire"
)

// Listener is a TCP listening socket with the two queues the TCP course
// describes: half-open connections (SYN received, SYN-ACK sent), bounded by
// Options.SynBacklog, beyond which SYN cookies answer; and completed
// connections waiting for Accept, bounded by the backlog. It is safe for
// concurrent use.
type Listener struct {
	s       *Stack
	addr    netip.AddrPort
	backlog int

	mu       sync.Mutex
	halfOpen map[*Conn]struct{}
	queue    []*Conn // completed handshakes, oldest first
	closed   bool
	deadline time.Time
	ready    chan struct{} // capacity 1: "look again" for Accept
}

// Listen announces on the local address (network "tcp", "tcp4" or "tcp6";
// address "ip:port" with a literal IP, or ":port" for every address) with the
// default backlog of 128.
func (s *Stack) Listen(network, address string) (net.Listener, error) {
	ap, err := parseAddr(network, address, true)
	if err != nil {
		return nil, opError("listen", netip.AddrPort{}, netip.AddrPort{}, err)
	}
	return s.ListenTCP(network, ap, defaultBacklog)
}

// ListenTCP announces on laddr (an unspecified address listens on every
// local address of that family; port 0 picks an ephemeral port). backlog
// bounds the queue of completed connections waiting for Accept; <= 0 means
// 128.
func (s *Stack) ListenTCP(network string, laddr netip.AddrPort, backlog int) (*Listener, error) {
	if err := checkNetwork(network, laddr.Addr()); err != nil {
		return nil, opError("listen", laddr, netip.AddrPort{}, err)
	}
	if !laddr.Addr().IsUnspecified() && !s.isLocal(laddr.Addr()) {
		return nil, opError("listen", laddr, netip.AddrPort{}, errAddrNotAvail)
	}
	if backlog <= 0 {
		backlog = defaultBacklog
	}
	l := &Listener{s: s, backlog: backlog, halfOpen: make(map[*Conn]struct{}), ready: make(chan struct{}, 1)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return nil, opError("listen", laddr, netip.AddrPort{}, net.ErrClosed)
	}
	if laddr.Port() == 0 {
		p, ok := s.freeListenPort(laddr.Addr())
		if !ok {
			return nil, opError("listen", laddr, netip.AddrPort{}, errAddrInUse)
		}
		laddr = netip.AddrPortFrom(laddr.Addr(), p)
	}
	if _, ok := s.listeners[laddr]; ok {
		return nil, opError("listen", laddr, netip.AddrPort{}, errAddrInUse)
	}
	l.addr = laddr
	s.listeners[laddr] = l
	return l, nil
}

// input handles a segment for no connection that reached this listener:
// RFC 9293 §3.10.7.2 with the queues of a real socket.
func (l *Listener) input(key flowKey, seg *wire.TCPSegment, tx *txBatch, iss tcp.Seq) {
	s := l.s
	switch {
	case seg.Flags&wire.RST != 0:
		return
	case seg.Flags&wire.ACK != 0:
		if seg.Flags&wire.SYN == 0 && l.acceptCookie(key, seg, tx) {
			return
		}
		s.replyRST(key, seg, tx)
		return
	case seg.Flags&wire.SYN == 0:
		return
	}
	l.mu.Lock()
	if l.closed || len(l.queue) >= l.backlog {
		// Linux drops SYNs while the accept queue is full; the client
		// retries.
		l.mu.Unlock()
		s.ctr.acceptDrops.Add(1)
		return
	}
	if len(l.halfOpen) >= s.backlog {
		l.mu.Unlock()
		l.sendCookie(key, seg, tx)
		return
	}
	c := newConn(s, key)
	c.listener, c.halfOpen = l, true
	l.halfOpen[c] = struct{}{}
	l.mu.Unlock()
	if !s.register(c) {
		l.forget(c)
		return
	}
	s.ctr.passive.Add(1)
	if iss == 0 {
		iss = s.isn.ISN(key.local, key.remote, s.now())
	}
	c.mu.Lock()
	c.tcb.Listen(iss)
	c.tcb.Input(seg, s.now())
	c.pollLocked(s.now(), tx)
	c.mu.Unlock()
}

// sendCookie answers a SYN statelessly with a SYN cookie (RFC 4987 §3.6).
func (l *Listener) sendCookie(key flowKey, syn *wire.TCPSegment, tx *txBatch) {
	s := l.s
	now := s.now()
	tsNow := uint32(now/time.Millisecond) + s.tsOffset
	iss, tsVal := s.cookies.Make(key.local, key.remote, syn, now, tsNow)
	cfg := s.config(key.remote.Addr())
	sa := wire.TCPSegment{SrcPort: key.local.Port(), DstPort: key.remote.Port(), Seq: iss, Ack: syn.Seq + 1,
		Flags: wire.SYN | wire.ACK, Window: 65535}
	sa.Options.MSS = cfg.MSS
	if syn.Options.HasTS && !cfg.DisableTimestamps {
		sa.Options.HasTS, sa.Options.TSVal, sa.Options.TSEcr = true, tsVal, syn.Options.TSVal
		if syn.Options.HasWScale && !cfg.DisableWindowScale {
			sa.Options.HasWScale, sa.Options.WScale = true, 7
		}
		sa.Options.SACKPermitted = syn.Options.SACKPermitted && !cfg.DisableSACK
	}
	s.ctr.cookiesSent.Add(1)
	tx.to(key.local.Addr(), key.remote.Addr())
	tx.Emit(&sa)
}

// acceptCookie opens a connection from the ACK that completes a cookie
// handshake. It reports whether the ACK carried a valid cookie.
func (l *Listener) acceptCookie(key flowKey, ack *wire.TCPSegment, tx *txBatch) bool {
	s := l.s
	now := s.now()
	opts, ok := s.cookies.Check(key.local, key.remote, ack, now)
	if !ok {
		return false
	}
	l.mu.Lock()
	full := l.closed || len(l.queue) >= l.backlog
	l.mu.Unlock()
	if full {
		s.ctr.acceptDrops.Add(1)
		return true // dropped: the client's retransmission may find room
	}
	c := newConn(s, key)
	c.listener = l
	if !s.register(c) {
		return true
	}
	s.ctr.cookiesValid.Add(1)
	c.mu.Lock()
	c.tcb.OpenFromCookie(ack, &opts, now)
	c.pollLocked(now, tx)
	ok = c.tcb.Established()
	c.mu.Unlock()
	if ok {
		l.enqueue(c)
	}
	return true
}

// handshakeDone moves a half-open connection to the accept queue, or
// forgets it if it died.
func (l *Listener) handshakeDone(c *Conn, ok bool) {
	l.mu.Lock()
	delete(l.halfOpen, c)
	l.mu.Unlock()
	if ok {
		l.enqueueLocked(c)
	}
}

func (l *Listener) forget(c *Conn) {
	l.mu.Lock()
	delete(l.halfOpen, c)
	l.mu.Unlock()
}

// enqueue adds an established connection to the accept queue (c's lock not
// held).
func (l *Listener) enqueue(c *Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l.enqueueLocked(c)
}

// enqueueLocked is enqueue with c's lock held. A full queue or a closed
// listener resets the connection.
func (l *Listener) enqueueLocked(c *Conn) {
	l.mu.Lock()
	if l.closed || len(l.queue) >= l.backlog {
		l.mu.Unlock()
		l.s.ctr.acceptDrops.Add(1)
		c.tcb.Abort()
		c.pollNow()
		return
	}
	l.queue = append(l.queue, c)
	l.mu.Unlock()
	signal(l.ready)
}

// Accept waits for and returns the next connection; see AcceptTCP.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.AcceptTCP()
	if err != nil {
		return nil, err
	}
	return c, nil
}

// AcceptTCP blocks until a handshake completes and returns the connection.
// It returns net.ErrClosed after Close and os.ErrDeadlineExceeded after the
// deadline.
func (l *Listener) AcceptTCP() (*Conn, error) {
	for {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			signal(l.ready) // wake the next waiter too
			return nil, opError("accept", l.addr, netip.AddrPort{}, net.ErrClosed)
		}
		if len(l.queue) > 0 {
			c := l.queue[0]
			l.queue[0] = nil
			l.queue = l.queue[1:]
			more := len(l.queue) > 0
			l.mu.Unlock()
			if more {
				signal(l.ready)
			}
			c.mu.Lock()
			c.listener = nil
			c.mu.Unlock()
			return c, nil
		}
		dl := l.deadline
		l.mu.Unlock()
		if err := l.wait(dl); err != nil {
			return nil, opError("accept", l.addr, netip.AddrPort{}, err)
		}
	}
}

func (l *Listener) wait(deadline time.Time) error {
	var timeout <-chan time.Time
	if !deadline.IsZero() {
		d := time.Until(deadline)
		if d <= 0 {
			return os.ErrDeadlineExceeded
		}
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-l.ready:
		return nil
	case <-timeout:
		return os.ErrDeadlineExceeded
	case <-l.s.done:
		return net.ErrClosed
	}
}

// SetDeadline sets the deadline for Accept; zero means none.
func (l *Listener) SetDeadline(t time.Time) error {
	l.mu.Lock()
	l.deadline = t
	l.mu.Unlock()
	signal(l.ready)
	return nil
}

// Addr returns the listening address as a *net.TCPAddr.
func (l *Listener) Addr() net.Addr { return net.TCPAddrFromAddrPort(l.addr) }

// Close stops listening: half-open connections and connections not yet
// accepted are reset, and a blocked Accept returns net.ErrClosed.
func (l *Listener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return opError("close", l.addr, netip.AddrPort{}, net.ErrClosed)
	}
	l.closed = true
	pending := l.queue
	l.queue = nil
	half := make([]*Conn, 0, len(l.halfOpen))
	for c := range l.halfOpen {
		half = append(half, c)
	}
	l.mu.Unlock()
	l.s.mu.Lock()
	if l.s.listeners[l.addr] == l {
		delete(l.s.listeners, l.addr)
	}
	l.s.mu.Unlock()
	for _, c := range append(pending, half...) {
		c.abort()
	}
	signal(l.ready)
	return nil
}
