// Package synack is a userspace TCP/IP stack: real TCP (RFC 9293 and the
// RFCs that extend it) over any link.Endpoint, handed to the application as
// net.Conn and net.Listener values.
//
// A Stack owns its link: one goroutine reads packets and runs each to
// completion through the demux and the connection's TCB (package tcp); one
// goroutine serves every connection's timers. Application calls run the
// protocol inline and write their segments straight to the link.
package synack

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/synack-go/synack/link"
	"github.com/synack-go/synack/tcp"
	"github.com/synack-go/synack/trace"
)

// Stack is one TCP/IP host on one link. It is safe for concurrent use.
type Stack struct {
	ep      link.Endpoint
	mtu     int
	addrs   []netip.Prefix
	name    string
	tracer  trace.Tracer
	start   time.Time
	cfg4    tcp.Config // MSS for IPv4 paths
	cfg6    tcp.Config // MSS for IPv6 paths
	keep    time.Duration
	backlog int // SYN backlog per listener

	isn      *tcp.ISNGenerator
	cookies  *tcp.SynCookies
	tsOffset uint32
	portHash *tcp.ISNGenerator // RFC 6056's keyed hash for ports

	mu        sync.RWMutex
	conns     map[flowKey]*Conn
	listeners map[netip.AddrPort]*Listener
	portNext  uint32

	timers  timerQueue
	batches sync.Pool // *txBatch for application calls

	closed atomic.Bool
	done   chan struct{}
	wg     sync.WaitGroup
	ctr    counters
}

// flowKey names a connection by its 4-tuple, seen from this stack.
type flowKey struct{ local, remote netip.AddrPort }

// NewStack starts a stack on ep with the given options. It returns an error
// if the options are invalid; the stack owns ep from then on and closes it
// in Close.
func NewStack(ep link.Endpoint, opts Options) (*Stack, error) {
	if ep == nil {
		return nil, errors.New("synack: nil link endpoint")
	}
	if len(opts.Addrs) == 0 {
		return nil, errors.New("synack: Options.Addrs is empty")
	}
	for _, p := range opts.Addrs {
		if !p.IsValid() || p.Addr().Is4In6() {
			return nil, errors.New("synack: invalid address " + p.String())
		}
	}
	mtu := ep.MTU()
	if mtu < 1280 && hasV6(opts.Addrs) || mtu < 576 {
		return nil, errors.New("synack: link MTU too small")
	}
	rnd := opts.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	var key [16 + 32 + 16 + 4]byte
	if _, err := io.ReadFull(rnd, key[:]); err != nil {
		return nil, errors.New("synack: reading random keys: " + err.Error())
	}
	s := &Stack{
		ep: ep, mtu: mtu, addrs: append([]netip.Prefix(nil), opts.Addrs...), name: opts.Name, tracer: opts.Tracer,
		start:     time.Now(),
		backlog:   opts.SynBacklog,
		conns:     make(map[flowKey]*Conn),
		listeners: make(map[netip.AddrPort]*Listener),
		done:      make(chan struct{}),
	}
	if s.backlog <= 0 {
		s.backlog = defaultSynBacklog
	}
	s.keep = opts.KeepAlive
	if s.keep == 0 {
		s.keep = defaultKeepAlive
	}
	s.isn = tcp.NewISNGenerator([16]byte(key[:16]))
	s.cookies = tcp.NewSynCookies([32]byte(key[16:48]))
	s.portHash = tcp.NewISNGenerator([16]byte(key[48:64]))
	s.tsOffset = binary.LittleEndian.Uint32(key[64:])
	s.portNext = s.tsOffset >> 16
	pool := opts.TCP.Buffers
	if pool == nil {
		pool = tcp.NewBufferPool()
	}
	s.cfg4, s.cfg6 = opts.TCP, opts.TCP
	s.cfg4.Buffers, s.cfg6.Buffers = pool, pool
	s.cfg4.NoDelay, s.cfg6.NoDelay = true, true
	if opts.TCP.MSS == 0 {
		s.cfg4.MSS = uint16(min(mtu-40, 65535))
		s.cfg6.MSS = uint16(min(mtu-60, 65535))
	}
	s.batches.New = func() any { return newTxBatch(s) }
	s.timers.init(s)
	s.wg.Add(2)
	go s.readLoop()
	go s.timers.run()
	return s, nil
}

func hasV6(ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Addr().Is6() {
			return true
		}
	}
	return false
}

// now is the stack's monotonic clock, the time the TCBs see.
func (s *Stack) now() time.Duration { return time.Since(s.start) }

// isLocal reports whether a is one of the stack's addresses.
func (s *Stack) isLocal(a netip.Addr) bool {
	for _, p := range s.addrs {
		if p.Addr() == a {
			return true
		}
	}
	return false
}

// localFor picks the source address for a connection to remote: one whose
// prefix contains remote, else the first of the same family.
func (s *Stack) localFor(remote netip.Addr) (netip.Addr, bool) {
	var first netip.Addr
	for _, p := range s.addrs {
		if p.Addr().Is4() != remote.Is4() {
			continue
		}
		if p.Contains(remote) {
			return p.Addr(), true
		}
		if !first.IsValid() {
			first = p.Addr()
		}
	}
	return first, first.IsValid()
}

func (s *Stack) config(a netip.Addr) *tcp.Config {
	if a.Is4() {
		return &s.cfg4
	}
	return &s.cfg6
}

// Close aborts every connection (each peer gets a RST), closes every
// listener and the link, and waits for every goroutine the stack started.
// It returns nil, or the link's Close error.
func (s *Stack) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.mu.Lock()
	conns := make([]*Conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	lns := make([]*Listener, 0, len(s.listeners))
	for _, l := range s.listeners {
		lns = append(lns, l)
	}
	s.mu.Unlock()
	for _, l := range lns {
		l.Close()
	}
	for _, c := range conns {
		c.abort()
	}
	close(s.done)
	err := s.ep.Close()
	s.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// register adds c to the flow table; it fails if the 4-tuple is taken.
func (s *Stack) register(c *Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.conns[c.key]; ok || s.closed.Load() {
		return false
	}
	s.conns[c.key] = c
	return true
}

// unregister removes c from the flow table if it is still there.
func (s *Stack) unregister(c *Conn) {
	s.mu.Lock()
	if s.conns[c.key] == c {
		delete(s.conns, c.key)
	}
	s.mu.Unlock()
}

func (s *Stack) lookup(k flowKey) *Conn {
	s.mu.RLock()
	c := s.conns[k]
	s.mu.RUnlock()
	return c
}

func (s *Stack) listenerFor(local netip.AddrPort) *Listener {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if l := s.listeners[local]; l != nil {
		return l
	}
	any := netip.IPv4Unspecified()
	if local.Addr().Is6() {
		any = netip.IPv6Unspecified()
	}
	return s.listeners[netip.AddrPortFrom(any, local.Port())]
}

func (s *Stack) trace(e *trace.Event) {
	e.Stack = s.name
	e.At = s.now()
	s.tracer.Trace(e)
}
