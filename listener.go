package synack

import (
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/synack-go/synack/tcp"
)

// Listener is a TCP listening socket with the two queues of a real one:
// half-open connections (SYN received, SYN-ACK sent), bounded by
// Options.SynBacklog, beyond which SYN cookies answer (see synqueue.go);
// and established connections waiting for Accept, bounded by the backlog.
// It is safe for concurrent use; concurrent Accepts run one at a time.
type Listener struct {
	s       *Stack
	addr    netip.AddrPort   // what Addr reports
	keys    []netip.AddrPort // its entries in the stack's listener table
	backlog int
	cfg4    *tcp.Config // tunables of the connections it makes, per family (ListenAddrPortConfig); nil: the stack's
	cfg6    *tcp.Config

	amu   sync.Mutex  // serializes Accepts; guards timer
	timer *time.Timer // Accept's deadline timer, made on first use

	conns atomic.Int32 // connections it made that are not yet closed: Options.MaxConnsPerListener

	mu       sync.Mutex // guards the fields below
	halfOpen map[*Conn]struct{}
	queue    []*Conn // established, oldest first
	// first is the queue's array while it holds few: a listener whose
	// connections are accepted as they come allocates none per
	// connection (Accept lets a grown array go when the queue empties).
	first    [4]*Conn
	closed   bool
	deadline deadline
	ready    chan struct{} // capacity 1: "look again" for Accept
}

// Listen announces on a local address with an accept queue of 128. network
// is "tcp", "tcp4" or "tcp6"; address is "ip:port" with a literal IP, or
// ":port". An unspecified address listens on every local address: of both
// families for "tcp" (as package net does), of one for "tcp4" and "tcp6".
// Port 0 picks a free ephemeral port. The result is a *Listener. Errors
// are *net.OpError values wrapping syscall.EADDRINUSE (the address is
// taken), syscall.EADDRNOTAVAIL (not a local address), net.ErrClosed
// (Stack.Close) or a parse error.
func (s *Stack) Listen(network, address string) (net.Listener, error) {
	ap, err := parseAddr(network, address, true)
	if err != nil {
		return nil, opError("listen", netip.AddrPort{}, netip.AddrPort{}, err)
	}
	l, err := s.ListenAddrPort(network, ap, defaultBacklog)
	if err != nil {
		return nil, err
	}
	return l, nil
}

// ListenAddrPort is Listen with a parsed address (as package net's
// AddrPort methods take one) and an accept queue bound:
// backlog established connections at most wait for Accept (<= 0 means
// 128); SYNs that arrive while the queue is full are dropped, as Linux
// does, and counted in Stats.AcceptQueueDrops.
func (s *Stack) ListenAddrPort(network string, laddr netip.AddrPort, backlog int) (*Listener, error) {
	laddr = netip.AddrPortFrom(laddr.Addr().Unmap(), laddr.Port())
	if err := checkFamily(network, laddr.Addr()); err != nil {
		return nil, opError("listen", netip.AddrPort{}, laddr, err)
	}
	a := laddr.Addr()
	keys := []netip.AddrPort{laddr}
	switch {
	case !a.IsUnspecified():
		if !s.isLocal(a) {
			return nil, opError("listen", netip.AddrPort{}, laddr, errAddrNotAvail)
		}
	case network == "tcp":
		// Dual stack, as package net listens for "tcp" on a wildcard.
		keys = []netip.AddrPort{
			netip.AddrPortFrom(netip.IPv4Unspecified(), laddr.Port()),
			netip.AddrPortFrom(netip.IPv6Unspecified(), laddr.Port()),
		}
	}
	if backlog <= 0 {
		backlog = defaultBacklog
	}
	l := &Listener{s: s, backlog: backlog, halfOpen: make(map[*Conn]struct{}), ready: make(chan struct{}, 1)}
	keys, err := s.addListener(l, keys)
	if err != nil {
		return nil, opError("listen", netip.AddrPort{}, laddr, err)
	}
	l.keys = keys
	l.addr = netip.AddrPortFrom(a, keys[0].Port())
	if len(keys) > 1 && s.hasFamily6() {
		l.addr = keys[1] // a dual-stack listener reports [::], as package net
	}
	return l, nil
}

func (s *Stack) hasFamily6() bool {
	for _, p := range s.addrs {
		if p.Addr().Is6() {
			return true
		}
	}
	return false
}

// Accept waits for and returns the next connection, a *Conn; see
// AcceptTCP.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.AcceptTCP()
	if err != nil {
		return nil, err
	}
	return c, nil
}

// AcceptTCP blocks until a handshake completes and returns the connection
// (which the peer may have reset meanwhile: its Read then says so). It
// returns an *net.OpError wrapping net.ErrClosed after Close or
// Stack.Close, and os.ErrDeadlineExceeded at the deadline.
func (l *Listener) AcceptTCP() (*Conn, error) {
	if l.s.clock == nil {
		l.amu.Lock()
	} else if err := l.s.clockLock(&l.amu); err != nil {
		return nil, l.opErr("accept", err)
	}
	defer l.amu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		if l.closed || l.s.closed.Load() {
			return nil, l.opErr("accept", net.ErrClosed)
		}
		if len(l.queue) > 0 {
			c := l.queue[0]
			l.queue[0] = nil
			l.queue = l.queue[1:]
			if len(l.queue) == 0 {
				l.queue = nil // a grown array goes; the next enqueue starts in first
			}
			return c, nil
		}
		if l.s.expired(l.deadline) {
			return nil, l.opErr("accept", errDeadline)
		}
		dl := l.deadline
		l.mu.Unlock()
		err := l.s.waitToken(l.ready, dl, &l.timer)
		l.mu.Lock()
		if err != nil {
			return nil, l.opErr("accept", err)
		}
	}
}

// SetDeadline sets the deadline for Accept: zero means none, a time already
// past fails Accept at once, and a blocked Accept sees the change at once.
func (l *Listener) SetDeadline(t time.Time) error {
	l.mu.Lock()
	l.deadline = l.s.deadlineAt(t)
	l.mu.Unlock()
	signal(l.ready)
	return nil
}

// Addr returns the listening address, a *net.TCPAddr.
func (l *Listener) Addr() net.Addr { return net.TCPAddrFromAddrPort(l.addr) }

// Close stops listening: half-open connections and established ones not
// yet accepted are reset (RST), and a blocked Accept returns net.ErrClosed.
// Accepted connections are not affected. A second Close returns
// net.ErrClosed.
func (l *Listener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return l.opErr("close", net.ErrClosed)
	}
	l.closed = true
	doomed := append(make([]*Conn, 0, len(l.queue)+len(l.halfOpen)), l.queue...)
	queued := len(doomed)
	l.queue = nil
	clear(l.first[:])
	for c := range l.halfOpen {
		doomed = append(doomed, c)
	}
	l.mu.Unlock()
	// In a fixed order, not the map's: a simulation replays its packets.
	half := doomed[queued:]
	slices.SortFunc(half, func(a, b *Conn) int { return a.key.compare(b.key) })
	l.s.removeListener(l)
	for _, c := range doomed {
		c.abort()
	}
	signal(l.ready)
	return nil
}

func (l *Listener) opErr(op string, err error) error {
	return opError(op, netip.AddrPort{}, l.addr, err)
}
