// Package proxy is the engine of `synack proxy`: it terminates every TCP
// connection and UDP flow a synack stack forwards (Stack.ForwardTCP and
// ForwardUDP, on any address) and opens each again through the dialers it
// is given, relaying the bytes. The client sees what a direct connection
// would have given it: the handshake completes only once the destination
// accepted; a refusal is a RST, an unreachable destination an ICMP error,
// a timeout silence; a half-close and a reset cross both ways; ICMP port
// unreachable from a UDP destination reaches the client. An idle flow
// holds no copy buffer: the relay waits for data (Conn.WaitRead, and the
// upstream socket's readiness) before it takes one.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/synack-go/synack"
	"github.com/synack-go/synack/internal/socks5"
	"github.com/synack-go/synack/tcp"
)

// Config says how a Proxy opens flows again and reports them.
type Config struct {
	// DialTCP opens the upstream connection to dst; its error decides the
	// client's answer (ECONNREFUSED: a RST; EHOSTUNREACH, ENETUNREACH,
	// EACCES: an ICMP error; a timeout: silence).
	DialTCP func(ctx context.Context, dst netip.AddrPort) (net.Conn, error)
	// DialUDP opens the upstream side of a UDP flow to dst.
	DialUDP func(ctx context.Context, dst netip.AddrPort) (UDPUpstream, error)
	// DialTimeout bounds DialTCP; 0 leaves it to the dialer (the kernel
	// gives up after about 2 minutes).
	DialTimeout time.Duration
	// Logf, when set, gets a line per flow.
	Logf func(format string, args ...any)
}

// Proxy relays the flows of one stack.
type Proxy struct {
	cfg  Config
	st   *synack.Stack
	ctx  context.Context // ends at Shutdown: dials in progress give up
	stop context.CancelFunc
	tf   *synack.TCPForwarder
	uf   *synack.UDPForwarder

	mu    sync.Mutex // guards flows and udps
	flows map[*tcpFlow]struct{}
	udps  map[*udpFlow]struct{}
	wg    sync.WaitGroup // handlers running

	tcpTotal, udpTotal, refused, unreachable, ignored atomic.Uint64
	up, down                                          atomic.Uint64 // bytes relayed, all flows
}

// Stats are a Proxy's counters.
type Stats struct {
	TCPOpen, UDPOpen              int    // flows relayed now
	TCPRelayed, UDPRelayed        uint64 // flows relayed so far
	Refused, Unreachable, Ignored uint64 // TCP requests answered with a RST, an ICMP error, nothing
	BytesUp, BytesDown            uint64 // relayed to and from the destinations
}

// Start makes st forward every TCP and UDP flow, to any address, to a new
// Proxy.
func Start(st *synack.Stack, cfg Config) (*Proxy, error) {
	p := &Proxy{cfg: cfg, st: st, flows: map[*tcpFlow]struct{}{}, udps: map[*udpFlow]struct{}{}}
	p.ctx, p.stop = context.WithCancel(context.Background())
	var err error
	if p.tf, err = st.ForwardTCP(synack.TCPForwardOptions{AnyAddress: true}, p.handleTCP); err != nil {
		return nil, err
	}
	if p.uf, err = st.ForwardUDP(synack.UDPForwardOptions{AnyAddress: true}, p.handleUDP); err != nil {
		p.tf.Close()
		return nil, err
	}
	return p, nil
}

// Stats returns the counters.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	open, openUDP := len(p.flows), len(p.udps)
	p.mu.Unlock()
	return Stats{TCPOpen: open, UDPOpen: openUDP, TCPRelayed: p.tcpTotal.Load(), UDPRelayed: p.udpTotal.Load(),
		Refused: p.refused.Load(), Unreachable: p.unreachable.Load(), Ignored: p.ignored.Load(),
		BytesUp: p.up.Load(), BytesDown: p.down.Load()}
}

// dialTCP opens the upstream connection to dst.
func (p *Proxy) dialTCP(dst netip.AddrPort) (net.Conn, error) {
	ctx := p.ctx
	if p.cfg.DialTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.cfg.DialTimeout)
		defer cancel()
	}
	return p.cfg.DialTCP(ctx, dst)
}

// handleTCP decides about one forwarded SYN: it dials the destination
// first and answers the client with what that gave, then relays.
func (p *Proxy) handleTCP(r *synack.TCPRequest) {
	p.wg.Add(1)
	defer p.wg.Done()
	src, dst := r.RemoteAddr(), r.LocalAddr()
	start := time.Now()
	up, err := p.dialTCP(dst)
	if err != nil {
		how := p.refuse(r, err)
		p.logf("tcp %v -> %v %s: %v", src, dst, how, err)
		return
	}
	c, err := r.Accept(p.ctx)
	if err != nil {
		up.Close()
		p.logf("tcp %v -> %v: the client did not complete the handshake: %v", src, dst, err)
		return
	}
	p.tcpTotal.Add(1)
	fl := &tcpFlow{p: p, c: c, up: up}
	if sc, ok := up.(syscall.Conn); ok {
		fl.upRaw, _ = sc.SyscallConn()
	}
	if !p.add(fl) {
		fl.abort()
		return
	}
	end := fl.relay()
	p.remove(fl)
	p.logf("tcp %v -> %v: up %d B, down %d B, %v, %s", src, dst, fl.upBytes.Load(), fl.downBytes.Load(),
		time.Since(start).Round(time.Millisecond), end)
}

// refuse answers a request whose destination could not be reached as the
// client would have seen it directly, and says how.
func (p *Proxy) refuse(r *synack.TCPRequest, err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		p.refused.Add(1)
		r.Refuse()
		return "refused (RST)"
	case errors.Is(err, syscall.EHOSTUNREACH):
		p.unreachable.Add(1)
		r.Unreachable(synack.UnreachHost)
		return "unreachable (ICMP host unreachable)"
	case errors.Is(err, syscall.ENETUNREACH):
		p.unreachable.Add(1)
		r.Unreachable(synack.UnreachNet)
		return "unreachable (ICMP net unreachable)"
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		p.unreachable.Add(1)
		r.Unreachable(synack.UnreachProhibited)
		return "prohibited (ICMP administratively prohibited)"
	case errors.Is(err, syscall.ETIMEDOUT), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.Canceled):
		p.ignored.Add(1)
		r.Ignore()
		return "ignored (timeout)"
	}
	p.refused.Add(1)
	r.Refuse()
	return "refused (RST)"
}

// logf writes a flow's line, if there is a Logf.
func (p *Proxy) logf(format string, args ...any) {
	if p.cfg.Logf != nil {
		p.cfg.Logf(format, args...)
	}
}

// add registers a flow for shutdown; false once shutting down.
func (p *Proxy) add(fl *tcpFlow) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ctx.Err() != nil {
		return false
	}
	p.flows[fl] = struct{}{}
	return true
}

func (p *Proxy) remove(fl *tcpFlow) {
	p.mu.Lock()
	delete(p.flows, fl)
	p.mu.Unlock()
}

// Shutdown stops forwarding, closes every flow with a FIN, waits for the
// handlers, then lets the stack finish its closing handshakes for at most
// grace (the peers' ACKs of the FINs). The stack is the caller's to close.
func (p *Proxy) Shutdown(grace time.Duration) {
	p.tf.Close()
	p.uf.Close()
	p.mu.Lock()
	p.stop()
	flows := make([]*tcpFlow, 0, len(p.flows))
	for fl := range p.flows {
		flows = append(flows, fl)
	}
	udps := make([]*udpFlow, 0, len(p.udps))
	for u := range p.udps {
		udps = append(udps, u)
	}
	p.mu.Unlock()
	for _, fl := range flows {
		fl.close()
	}
	for _, u := range udps {
		u.close()
	}
	p.wg.Wait()
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) && closing(p.st) {
		time.Sleep(10 * time.Millisecond) // the peers' last ACKs
	}
}

// closing reports whether a connection of st still waits for the ACK of
// its FIN (or the peer's, in LAST_ACK).
func closing(st *synack.Stack) bool {
	for _, ci := range st.Connections() {
		switch ci.Stats.State {
		case tcp.StateFinWait2, tcp.StateTimeWait, tcp.StateClosed:
		default:
			return true
		}
	}
	return false
}

// tcpFlow is one relayed connection: the client's, terminated by the
// stack, and the one opened again upstream.
type tcpFlow struct {
	p                  *Proxy
	c                  *synack.Conn
	up                 net.Conn
	upRaw              syscall.RawConn // up's socket, to wait for data without a buffer; nil: none
	upBytes, downBytes atomic.Uint64
	reset              atomic.Bool // one side reset: the other is reset too
	closed             atomic.Bool // shutdown
}

// relay copies both ways until both directions end, and says how the flow
// ended. A FIN from either side becomes a half-close of the other leg; a
// RST (or a failed write) becomes a RST on the other leg.
func (fl *tcpFlow) relay() string {
	done := make(chan string, 1)
	go func() { done <- fl.upstream() }()
	down := fl.downstream()
	upEnd := <-done
	fl.c.Close()
	fl.up.Close()
	switch {
	case fl.closed.Load():
		return "closed at shutdown"
	case upEnd == "" && down == "":
		return "closed"
	}
	return strings.TrimPrefix(upEnd+", "+down, ", ")
}

// abort resets both legs.
func (fl *tcpFlow) abort() {
	fl.reset.Store(true)
	fl.c.SetLinger(0)
	fl.c.Close()
	if l, ok := fl.up.(interface{ SetLinger(int) error }); ok {
		l.SetLinger(0)
	}
	fl.up.Close()
}

// close ends the flow with a FIN each way (shutdown).
func (fl *tcpFlow) close() {
	fl.closed.Store(true)
	fl.c.Close()
	fl.up.Close()
}

// upstream copies the client's bytes to the destination. It takes a buffer
// only when the client has sent something (Conn.WaitRead), so an idle flow
// holds none.
func (fl *tcpFlow) upstream() string {
	for {
		if err := fl.c.WaitRead(); err != nil {
			return fl.ended("client", err)
		}
		bp := relayBufs.Get().(*[]byte)
		n, err := fl.c.Read(*bp)
		if n > 0 {
			if _, werr := fl.up.Write((*bp)[:n]); werr != nil {
				relayBufs.Put(bp)
				fl.abort()
				return "upstream write failed: reset"
			}
			fl.upBytes.Add(uint64(n))
			fl.p.up.Add(uint64(n))
		}
		relayBufs.Put(bp)
		if err == io.EOF {
			if cw, ok := fl.up.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite()
			}
			return ""
		}
		if err != nil {
			return fl.ended("client", err)
		}
	}
}

// downstream copies the destination's bytes to the client, taking a buffer
// only when a read can return (readUpstream).
func (fl *tcpFlow) downstream() string {
	for {
		bp, n, err := readUpstream(fl.up, fl.upRaw)
		if n > 0 {
			_, werr := fl.c.Write((*bp)[:n])
			relayBufs.Put(bp)
			if werr != nil {
				fl.abort()
				return "client write failed: reset"
			}
			fl.downBytes.Add(uint64(n))
			fl.p.down.Add(uint64(n))
		} else if bp != nil {
			relayBufs.Put(bp)
		}
		if err == io.EOF {
			fl.c.CloseWrite()
			return ""
		}
		if err != nil {
			return fl.ended("upstream", err)
		}
	}
}

// ended handles a read error on one side (who): a reset is carried to the
// other side; the flow closing is not news.
func (fl *tcpFlow) ended(who string, err error) string {
	switch {
	case fl.closed.Load() || fl.reset.Load():
		return ""
	case errors.Is(err, syscall.ECONNRESET):
		fl.abort()
		return who + " reset"
	case errors.Is(err, net.ErrClosed):
		return ""
	}
	fl.abort()
	return fmt.Sprintf("%s: %v: reset", who, err)
}

// relayBuf is the size of the buffers a relay copies through.
const relayBuf = 64 << 10

var relayBufs = sync.Pool{New: func() any { b := make([]byte, relayBuf); return &b }}

// udpFlow is one relayed UDP flow.
type udpFlow struct {
	p        *Proxy
	fc       *synack.UDPConn
	up       UDPUpstream
	upN, dnN atomic.Uint64 // datagrams each way
}

// UDPUpstream is where a UDP flow's datagrams go: a connected kernel
// socket (--direct) or a SOCKS5 association.
type UDPUpstream interface {
	// Send sends one datagram to the destination.
	Send(b []byte) error
	// Recv reads the next datagram from it; ECONNREFUSED says the
	// destination answered with ICMP port unreachable.
	Recv(b []byte) (int, error)
	Close() error
}

// KernelUDP is a connected kernel socket as a UDPUpstream.
func KernelUDP(c *net.UDPConn) UDPUpstream { return kernelUDP{c} }

// SOCKSUDP is a SOCKS5 association used for the one destination dst.
func SOCKSUDP(a *socks5.UDPConn, dst netip.AddrPort) UDPUpstream { return socksUDP{a, dst} }

// kernelUDP is a connected kernel socket.
type kernelUDP struct{ *net.UDPConn }

func (k kernelUDP) Send(b []byte) error        { _, err := k.Write(b); return err }
func (k kernelUDP) Recv(b []byte) (int, error) { return k.Read(b) }

// socksUDP is a SOCKS5 association used for one destination.
type socksUDP struct {
	*socks5.UDPConn
	dst netip.AddrPort
}

func (s socksUDP) Send(b []byte) error { _, err := s.WriteTo(b, s.dst); return err }

func (s socksUDP) Recv(b []byte) (int, error) {
	for {
		n, from, err := s.ReadFrom(b)
		if err != nil || from == s.dst {
			return n, err
		}
	}
}

// handleUDP relays one forwarded UDP flow until the stack closes it for
// idleness.
func (p *Proxy) handleUDP(fc *synack.UDPConn) {
	p.wg.Add(1)
	defer p.wg.Done()
	src := fc.RemoteAddr().(*net.UDPAddr).AddrPort()
	dst := fc.LocalAddr().(*net.UDPAddr).AddrPort()
	start := time.Now()
	up, err := p.cfg.DialUDP(p.ctx, netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port()))
	if err != nil {
		fc.Close()
		p.logf("udp %v -> %v: %v", src, dst, err)
		return
	}
	p.udpTotal.Add(1)
	u := &udpFlow{p: p, fc: fc, up: up}
	p.mu.Lock()
	if p.ctx.Err() != nil {
		p.mu.Unlock()
		u.close()
		return
	}
	p.udps[u] = struct{}{}
	p.mu.Unlock()
	go u.downstream()
	u.upstream()
	p.mu.Lock()
	delete(p.udps, u)
	p.mu.Unlock()
	p.logf("udp %v -> %v: up %d, down %d datagrams, %v", src, dst, u.upN.Load(), u.dnN.Load(),
		time.Since(start).Round(time.Millisecond))
}

// upstream sends the client's datagrams on until the flow closes (the
// stack's idle timeout, or shutdown); then it closes the upstream socket,
// which ends downstream.
func (u *udpFlow) upstream() {
	defer u.up.Close()
	bp := relayBufs.Get().(*[]byte)
	defer relayBufs.Put(bp)
	for {
		n, err := u.fc.Read(*bp)
		if err != nil {
			return
		}
		if u.up.Send((*bp)[:n]) == nil {
			u.upN.Add(1)
			u.p.up.Add(uint64(n))
		}
	}
}

// downstream sends the destination's datagrams back; an ICMP port
// unreachable the kernel reports (ECONNREFUSED on a connected socket)
// becomes one to the client.
func (u *udpFlow) downstream() {
	bp := relayBufs.Get().(*[]byte)
	defer relayBufs.Put(bp)
	for {
		n, err := u.up.Recv(*bp)
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			u.fc.Unreachable(synack.UnreachPort)
			continue
		case err != nil:
			u.fc.Close()
			return
		}
		if _, err := u.fc.Write((*bp)[:n]); err != nil {
			return
		}
		u.dnN.Add(1)
		u.p.down.Add(uint64(n))
	}
}

// close ends the flow (shutdown).
func (u *udpFlow) close() {
	u.fc.Close()
	u.up.Close()
}
