// Package synack is a userspace TCP/IP stack: real TCP (RFC 9293 and the
// RFCs that extend it) over any link, handed to the application as
// net.Conn and net.Listener values, every connection traceable segment by
// segment.
//
// # Start here
//
// A Stack is one host on one link. Make a link (an in-memory pair from
// link/pipe, a Linux TUN device from link/tun, or any link.Endpoint), give
// the stack its addresses, then use it as package net:
//
//	a, b := pipe.New(pipe.Config{})
//	client, _ := synack.NewStack(a, synack.Options{Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.1/24")}})
//	server, _ := synack.NewStack(b, synack.Options{Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.2/24")}})
//	ln, _ := server.Listen("tcp", "10.0.0.2:80")   // a net.Listener
//	c, _ := client.Dial("tcp", "10.0.0.2:80")      // a net.Conn (*Conn)
//
// Stack.DialContext plugs into http.Transport.DialContext, and a Listener
// into http.Server.Serve (see the examples). Errors are package net's:
// errors.Is(err, syscall.ECONNREFUSED), ECONNRESET, ETIMEDOUT, EPIPE,
// os.ErrDeadlineExceeded, net.ErrClosed, io.EOF after the peer's FIN.
// Options.Tracer (package trace) sees every segment and state change: print
// them as tcpdump does, draw ladder diagrams and time-sequence graphs.
//
// # How it runs
//
// One goroutine per stack reads packets in batches and runs each to
// completion: parse, checksum, demultiplex, the connection's TCB (package
// tcp, a sans-IO state machine), and the segments that produced go out in
// one batch. One more goroutine serves every connection's timers from a
// min-heap. Application calls (Read, Write, Close, ...) run the protocol
// inline under the connection's lock and write their segments straight to
// the link, unless a read loop's batch holds earlier segments of the
// connection: then that loop sends them, in order (txorder.go). There is no goroutine per connection, and an idle connection
// holds no buffers.
//
// # Limits
//
// What synack does not do yet: forwarding or routing between links,
// multicast; ECN; RACK loss detection beyond the tail loss probe, DSACK,
// buffer autotuning; TCP Fast Open, MD5 or AO signatures, urgent data beyond
// parsing the pointer. ICMP is answered for echo only, used for errors
// about synack's own flows, and sent for closed UDP ports, a forwarder's
// refusals and reassembly timeouts. TUN devices are Linux only.
package synack

import (
	"cmp"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/synack-go/synack/inet"
	"github.com/synack-go/synack/link"
	"github.com/synack-go/synack/tcp"
	"github.com/synack-go/synack/trace"
	"github.com/synack-go/synack/udp"
)

// Stack is one TCP/IP host on one link. It is safe for concurrent use.
type Stack struct {
	ep     link.Endpoint
	mtu    int
	batch  int // packets per read or write batch
	addrs  []netip.Prefix
	name   string
	tracer trace.Tracer
	clock  Clock     // nil: the wall clock
	start  time.Time // the clock's time at NewStack: now() counts from it

	cfg4, cfg6 tcp.Config // per family: the MSS differs
	keepIdle   time.Duration
	synBacklog int
	maxOrphans int
	maxConns   int // Options.MaxConns
	maxPerLn   int // Options.MaxConnsPerListener
	mem        *tcp.MemoryBudget
	lastPrune  atomic.Int64 // when relieve last pruned, on the stack's clock

	isn       *tcp.ISNGenerator
	cookies   *tcp.SynCookies
	portHash  *tcp.ISNGenerator // RFC 6056's keyed hash F for ephemeral ports
	tsOffset  uint32            // one RFC 7323 clock offset for every TCB, so cookies match
	replies   *tcp.ReplyLimiter // RFC 5961 §7's stack-wide limit, shared by every TCB
	strayRSTs *tcp.ReplyLimiter // the same limit for RSTs to segments of no connection
	echoes    *tokenBucket      // echo replies: Options.EchoRateLimit; nil: none

	flows flowTable // TCP connections and UDP flows by 4-tuple, sharded (flowtable.go)

	mu             sync.RWMutex         // guards the fields below
	bind           inet.Table[endpoint] // listeners, bound UDP sockets, forwarders (bindings.go)
	portNext       uint32               // RFC 6056 algorithm 3's counter, TCP
	udpPortNext    uint32               // ..., UDP
	forwardsAnyTCP atomic.Bool          // a TCP forwarder takes any destination address
	forwardsAnyUDP atomic.Bool          // a UDP forwarder takes any destination address

	ipMu    sync.Mutex  // guards ip's state and fragIDs
	ip      *inet.Layer // the network layer: reassembly, ICMP errors, our addresses (network.go)
	fragIDs *inet.FragmentIDs

	lk         linkIO // the link's queues and offloads (linkio.go)
	timers     timerQueue
	tw         twTable // connections in TIME_WAIT (timewait.go)
	batches    batchPool
	udpPool    *udp.Pool // buffers of queued datagrams
	udpScratch sync.Pool // *udpScratch, for datagrams larger than the MTU
	udpExpiry  udpExpiry // forwarded UDP flows' idle timeouts
	udpCtr     udpCounters
	tcpFwd     tcpForwardCounters

	orphans atomic.Int64 // connections closed by their user, still finishing

	closed atomic.Bool
	done   chan struct{} // closed by Close: wakes every blocked call
	wg     sync.WaitGroup
	live   atomic.Int32 // goroutines started and not yet returned
	ctr    counters
}

// NewStack starts a stack on ep. It fails if ep is nil, Options.Addrs is
// empty or holds an invalid address, the MTU is too small (576 bytes for
// IPv4, 1280 with IPv6) or Options.Rand fails. From then on the stack owns
// ep and closes it in Close.
func NewStack(ep link.Endpoint, opts Options) (*Stack, error) {
	if ep == nil {
		return nil, errors.New("synack: nil link endpoint")
	}
	if len(opts.Addrs) == 0 {
		return nil, errors.New("synack: Options.Addrs is empty")
	}
	v6 := false
	for _, p := range opts.Addrs {
		a := p.Addr()
		if !p.IsValid() || a.Is4In6() || a.IsUnspecified() || a.IsMulticast() || a.Zone() != "" {
			return nil, errors.New("synack: invalid local address " + p.String())
		}
		v6 = v6 || a.Is6()
	}
	mtu := ep.MTU()
	if mtu < 576 || (v6 && mtu < 1280) {
		return nil, fmt.Errorf("synack: link MTU %d too small: at least 576 for IPv4, 1280 with an IPv6 address", mtu)
	}
	if err := checkConfigCC(&opts.TCP); err != nil {
		return nil, fmt.Errorf("synack: Options.TCP.CongestionControl: %w", err)
	}
	rnd := opts.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	var key [16 + 32 + 16 + 8 + 16 + 16]byte
	if _, err := io.ReadFull(rnd, key[:]); err != nil {
		return nil, errors.New("synack: reading random keys: " + err.Error())
	}
	s := &Stack{
		ep: ep, mtu: mtu, addrs: append([]netip.Prefix(nil), opts.Addrs...),
		name: opts.Name, tracer: opts.Tracer, clock: opts.Clock,
		synBacklog: opts.SynBacklog, keepIdle: opts.KeepAlive,
		isn:       tcp.NewISNGenerator([16]byte(key[:16])),
		cookies:   tcp.NewSynCookies([32]byte(key[16:48])),
		portHash:  tcp.NewISNGenerator([16]byte(key[48:64])),
		tsOffset:  binary.LittleEndian.Uint32(key[64:]),
		portNext:  binary.LittleEndian.Uint32(key[68:]),
		replies:   tcp.NewReplyLimiter(replyLimit(opts.InvalidReplyLimit), [16]byte(key[72:88])),
		strayRSTs: tcp.NewReplyLimiter(replyLimit(opts.InvalidReplyLimit), [16]byte(key[88:104])),
		udpPool:   udp.NewPool(),
		done:      make(chan struct{}),
	}
	s.start = s.timeNow()
	s.flows.init()
	s.initNetwork()
	s.udpExpiry.init(s)
	if s.synBacklog <= 0 {
		s.synBacklog = defaultSynBacklog
	}
	if s.keepIdle == 0 {
		s.keepIdle = defaultKeepAlive
	}
	if opts.EchoRateLimit >= 0 {
		rate := cmp.Or(opts.EchoRateLimit, defaultEchoRate)
		s.echoes = newTokenBucket(rate, min(rate, defaultEchoBurst))
	}
	s.tw.init(cmp.Or(max(opts.MaxTimeWait, 0), defaultMaxTimeWait), len(s.addrs))
	s.maxConns = cmp.Or(max(opts.MaxConns, 0), defaultMaxConns)
	s.maxPerLn = cmp.Or(max(opts.MaxConnsPerListener, 0), s.maxConns)
	if opts.MemoryLimit >= 0 {
		s.mem = tcp.NewMemoryBudget(cmp.Or(opts.MemoryLimit, defaultMemoryLimit()))
	}
	s.maxOrphans = opts.MaxOrphans
	switch {
	case s.maxOrphans == 0:
		s.maxOrphans = defaultMaxOrphans
	case s.maxOrphans < 0:
		s.maxOrphans = 0
	}
	// Batches hold up to BatchSize packets, but not more than about
	// 512 KiB of buffers, so a 64 KiB MTU does not cost megabytes.
	s.batch = min(max(ep.BatchSize(), 1), max(8, (512<<10)/mtu))
	pool := opts.TCP.Buffers
	if pool == nil {
		pool = tcp.NewBufferPool()
	}
	s.cfg4, s.cfg6 = opts.TCP, opts.TCP
	s.cfg4.Buffers, s.cfg6.Buffers = pool, pool
	s.cfg4.Memory, s.cfg6.Memory = s.mem, s.mem
	s.cfg4.ReplyLimiter, s.cfg6.ReplyLimiter = s.replies, s.replies
	s.cfg4.NoDelay, s.cfg6.NoDelay = true, true
	s.cfg4.KeepAliveIdle, s.cfg6.KeepAliveIdle = 0, 0 // set per connection from Options.KeepAlive
	// The MSS we advertise, and the ceiling of every send MSS: never more
	// than the link carries, so that no segment can be too big for it.
	if m := min(mtu-40, 65535); opts.TCP.MSS == 0 || int(opts.TCP.MSS) > m {
		s.cfg4.MSS = uint16(m)
	}
	if m := min(mtu-60, 65535); opts.TCP.MSS == 0 || int(opts.TCP.MSS) > m {
		s.cfg6.MSS = uint16(m)
	}
	s.lk.init(s, ep, &opts)
	s.batches.init(s)
	s.timers.init(s)
	s.spawn(s.timers.run)
	s.startReaders()
	return s, nil
}

// replyLimit is Options.InvalidReplyLimit's meaning: zero the default,
// negative no stack-wide limit (the limiter still counts what the
// connections' own limits suppress).
func replyLimit(n int) int {
	switch {
	case n == 0:
		return defaultInvalidReplyLimit
	case n < 0:
		return math.MaxInt32
	}
	return n
}

// config returns the connection tunables for a peer address's family.
func (s *Stack) config(remote netip.Addr) *tcp.Config {
	if remote.Is4() {
		return &s.cfg4
	}
	return &s.cfg6
}

// Close aborts every connection (each synchronized peer gets a RST),
// forgets those in TIME_WAIT, closes every listener and the link, and waits for every goroutine the stack
// started. Blocked and later calls on the stack's connections and listeners
// return net.ErrClosed. Close returns the link's Close error, if any; a
// second Close returns nil.
func (s *Stack) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	conns := s.flows.appendAll(nil)
	var lns []*Listener
	s.mu.Lock()
	s.bind.Each(func(_ inet.Key, e endpoint) bool {
		if e.l != nil && !slices.Contains(lns, e.l) {
			lns = append(lns, e.l)
		}
		return true
	})
	s.mu.Unlock()
	// In a fixed order, not the maps': a simulation replays its packets.
	slices.SortFunc(lns, func(a, b *Listener) int { return a.addr.Compare(b.addr) })
	slices.SortFunc(conns, func(a, b *Conn) int { return a.key.compare(b.key) })
	for _, l := range lns {
		l.Close()
	}
	for _, c := range conns {
		c.abort()
	}
	s.tw.clear()
	close(s.done)
	err := s.ep.Close()
	s.waitGoroutines()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// trace stamps e with the stack's name and clock and hands it to the
// tracer, which must be set.
func (s *Stack) trace(e *trace.Event) {
	e.Stack = s.name
	e.At = s.now()
	s.tracer.Trace(e)
}

// compare orders flow keys, local address first.
func (k flowKey) compare(o flowKey) int {
	if c := k.local.Compare(o.local); c != 0 {
		return c
	}
	return k.remote.Compare(o.remote)
}
