package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/synack-go/synack"
	"github.com/synack-go/synack/internal/netns"
	"github.com/synack-go/synack/internal/socks5"
	"github.com/synack-go/synack/tcp"
)

// proxyUsage is the help text of `synack proxy`.
const proxyUsage = `usage: synack proxy --tun NAME --addr PREFIX --host-addr PREFIX
                    (--direct | --socks5 HOST:PORT) [flags]

A transparent proxy (the tun2socks job): every TCP connection and UDP flow
that the kernel routes into the TUN device NAME, whatever its destination,
is terminated by a synack stack and opened again from this process: by the
kernel's own sockets (--direct) or through a SOCKS5 server (--socks5). The
client sees what a direct connection would have given it: the handshake
completes only once the destination accepted, a refusal is a RST, an
unreachable destination an ICMP error, a half-close and a reset cross both
ways, and a closed UDP port answers with ICMP port unreachable.

The outgoing sockets must not loop back into the device: --tun-netns puts
the device in another network namespace (the clients' one), while the
proxy dials from its own; --out-interface and --fwmark bind the outgoing
sockets instead, for policy routing. One line per flow goes to stderr;
SIGINT or SIGTERM closes every flow with a FIN and stops.

Example (as root; the clients' namespace "clients" routes everything into
the device):
  ip netns add clients
  synack proxy --tun-netns clients --tun syn0 --addr 198.18.0.2/15 \
      --host-addr 198.18.0.1/15 --direct &
  ip -n clients route add default dev syn0
  ip netns exec clients curl http://example.com/

flags:
`

// runProxy is `synack proxy`: it proxies until SIGINT or SIGTERM.
func runProxy(args []string, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return proxy(ctx, args, stdout, stderr)
}

// proxyConfig is what the flags of `synack proxy` say.
type proxyConfig struct {
	tun         tunFlags
	direct      bool
	socks       string
	tunNetns    string
	outIface    string
	fwmark      uint
	dialTimeout time.Duration
	stats       bool
	statsEvery  time.Duration
	quiet       bool
}

// proxy runs `synack proxy` with args until ctx ends.
func proxy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg proxyConfig
	fs := newFlagSet("proxy", proxyUsage, stdout)
	cfg.tun.register(fs.FlagSet)
	fs.BoolVar(&cfg.direct, "direct", false, "open each flow again with the kernel's sockets, from this process's network namespace")
	fs.StringVar(&cfg.socks, "socks5", "", "open each flow again through the SOCKS5 server at `HOST:PORT` (CONNECT, UDP ASSOCIATE)")
	fs.StringVar(&cfg.tunNetns, "tun-netns", "", "create the TUN device in the network namespace `NAME` (ip netns), the clients'; the proxy dials from its own")
	fs.StringVar(&cfg.outIface, "out-interface", "", "bind the outgoing sockets to `IFACE` (SO_BINDTODEVICE)")
	fs.UintVar(&cfg.fwmark, "fwmark", 0, "mark the outgoing sockets with `MARK` (SO_MARK), for policy routing")
	fs.DurationVar(&cfg.dialTimeout, "dial-timeout", 0, "give up opening a flow after this long, and let the client time out (default: the kernel's, about 2 minutes)")
	fs.BoolVar(&cfg.stats, "stats", false, "print the flow counters periodically to stdout")
	fs.DurationVar(&cfg.statsEvery, "stats-interval", 2*time.Second, "period of --stats")
	fs.BoolVar(&cfg.quiet, "quiet", false, "no line per flow")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError(fs, fmt.Sprintf("proxy: unexpected argument %q", pos[0]))
	}
	if cfg.direct == (cfg.socks != "") {
		return usageError(fs, "proxy: choose one of --direct and --socks5 HOST:PORT")
	}
	if cfg.statsEvery <= 0 || cfg.dialTimeout < 0 {
		return errors.New("proxy: --stats-interval must be positive, --dial-timeout not negative")
	}
	if cfg.tun.impair != "" {
		return errors.New("proxy: --impair is for serve and get")
	}
	p := newProxier(&cfg, stderr)
	var st *tunStack
	open := func() error {
		var err error
		st, err = openTunStack(&cfg.tun, "proxy", nil)
		return err
	}
	if cfg.tunNetns != "" {
		err = netns.Enter("/run/netns/"+cfg.tunNetns, open)
	} else {
		err = open()
	}
	if err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	p.st = st.Stack
	defer st.Close()
	tf, err := st.ForwardTCP(synack.TCPForwardOptions{AnyAddress: true}, p.handleTCP)
	if err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	uf, err := st.ForwardUDP(synack.UDPForwardOptions{AnyAddress: true}, p.handleUDP)
	if err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	via := "direct"
	if cfg.socks != "" {
		via = "socks5 " + cfg.socks
	}
	where := ""
	if cfg.tunNetns != "" {
		where = " in namespace " + cfg.tunNetns
	}
	p.log.logf("proxying TCP and UDP from %s%s (kernel side %v, %s) via %s", st.dev.Name(), where,
		cfg.tun.hostAddrs.String(), st.linkNote(), via)
	if cfg.stats {
		sctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go p.statsLoop(sctx, stdout, cfg.statsEvery)
	}
	<-ctx.Done()
	tf.Close()
	uf.Close()
	p.shutdown()
	p.log.logf("stopped after %d TCP and %d UDP %s", p.tcpTotal.Load(), p.udpTotal.Load(),
		plural(p.tcpTotal.Load()+p.udpTotal.Load(), "flow"))
	return nil
}

// proxier opens each flow again and relays it.
type proxier struct {
	cfg  *proxyConfig
	st   *synack.Stack
	log  *connLog
	ctx  context.Context // ends at shutdown: dials in progress give up
	stop context.CancelFunc

	dialer net.Dialer     // --direct, and the connections to the SOCKS5 server
	socks  *socks5.Dialer // --socks5

	mu    sync.Mutex // guards flows
	flows map[*tcpFlow]struct{}
	udps  map[*udpFlow]struct{}
	wg    sync.WaitGroup // handlers running

	tcpTotal, udpTotal, refused, unreachable, ignored atomic.Uint64
	up, down                                          atomic.Uint64 // bytes relayed, all flows
}

func newProxier(cfg *proxyConfig, stderr io.Writer) *proxier {
	p := &proxier{cfg: cfg, log: newConnLog(stderr), flows: map[*tcpFlow]struct{}{}, udps: map[*udpFlow]struct{}{}}
	p.ctx, p.stop = context.WithCancel(context.Background())
	p.dialer.Control = p.control
	if cfg.socks != "" {
		p.socks = &socks5.Dialer{Server: cfg.socks, DialServer: p.dialer.DialContext, ListenUDP: p.listenUDP}
	}
	return p
}

// control binds an outgoing socket as --out-interface and --fwmark say.
func (p *proxier) control(network, address string, c syscall.RawConn) error {
	if p.cfg.outIface == "" && p.cfg.fwmark == 0 {
		return nil
	}
	var serr error
	err := c.Control(func(fd uintptr) { serr = bindSocket(fd, p.cfg.outIface, p.cfg.fwmark) })
	return errors.Join(err, serr)
}

// listenUDP opens an unconnected UDP socket bound as control says.
func (p *proxier) listenUDP(network string, laddr *net.UDPAddr) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: p.control}
	pc, err := lc.ListenPacket(context.Background(), network, laddr.String())
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}

// dialTCP opens the upstream connection to dst.
func (p *proxier) dialTCP(dst netip.AddrPort) (net.Conn, error) {
	ctx := p.ctx
	if p.cfg.dialTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.cfg.dialTimeout)
		defer cancel()
	}
	if p.socks != nil {
		return p.socks.DialContext(ctx, "tcp", dst.String())
	}
	return p.dialer.DialContext(ctx, "tcp", dst.String())
}

// handleTCP decides about one forwarded SYN: it dials the destination
// first and answers the client with what that gave, then relays.
func (p *proxier) handleTCP(r *synack.TCPRequest) {
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
	p.logf("tcp %v -> %v: up %s, down %s, %v, %s", src, dst, size(fl.upBytes.Load()), size(fl.downBytes.Load()),
		time.Since(start).Round(time.Millisecond), end)
}

// refuse answers a request whose destination could not be reached as the
// client would have seen it directly, and says how.
func (p *proxier) refuse(r *synack.TCPRequest, err error) string {
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

// logf writes a flow's line unless --quiet.
func (p *proxier) logf(format string, args ...any) {
	if !p.cfg.quiet {
		p.log.logf(format, args...)
	}
}

// add registers a flow for shutdown; false once shutting down.
func (p *proxier) add(fl *tcpFlow) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ctx.Err() != nil {
		return false
	}
	p.flows[fl] = struct{}{}
	return true
}

func (p *proxier) remove(fl *tcpFlow) {
	p.mu.Lock()
	delete(p.flows, fl)
	p.mu.Unlock()
}

// shutdown closes every flow with a FIN, waits for the handlers, then lets
// the stack finish its closing handshakes for a while.
func (p *proxier) shutdown() {
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
	deadline := time.Now().Add(shutdownGrace)
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

// statsLoop prints the counters every interval until ctx ends.
func (p *proxier) statsLoop(ctx context.Context, w io.Writer, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	last := ""
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p.mu.Lock()
		open, openUDP := len(p.flows), len(p.udps)
		p.mu.Unlock()
		st := p.st.Stats()
		line := fmt.Sprintf("tcp: %d open, %d relayed, %d refused, %d unreachable, %d ignored, %d cookies; udp: %d open, %d relayed; up %s, down %s",
			open, p.tcpTotal.Load(), p.refused.Load(), p.unreachable.Load(), p.ignored.Load(), st.Forwarded.Cookies,
			openUDP, p.udpTotal.Load(), size(p.up.Load()), size(p.down.Load()))
		if line != last {
			fmt.Fprintf(w, "%s %s\n", time.Now().Format("15:04:05"), line)
			last = line
		}
	}
}

// tcpFlow is one relayed connection: the client's, terminated by the
// stack, and the one opened again upstream.
type tcpFlow struct {
	p                  *proxier
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
	p        *proxier
	fc       *synack.UDPConn
	up       udpUpstream
	upN, dnN atomic.Uint64 // datagrams each way
}

// udpUpstream is where a UDP flow's datagrams go: a connected kernel
// socket (--direct) or a SOCKS5 association.
type udpUpstream interface {
	send(b []byte) error
	recv(b []byte) (int, error)
	Close() error
}

// kernelUDP is a connected kernel socket.
type kernelUDP struct{ *net.UDPConn }

func (k kernelUDP) send(b []byte) error        { _, err := k.Write(b); return err }
func (k kernelUDP) recv(b []byte) (int, error) { return k.Read(b) }

// socksUDP is a SOCKS5 association used for one destination.
type socksUDP struct {
	*socks5.UDPConn
	dst netip.AddrPort
}

func (s socksUDP) send(b []byte) error { _, err := s.WriteTo(b, s.dst); return err }

func (s socksUDP) recv(b []byte) (int, error) {
	for {
		n, from, err := s.ReadFrom(b)
		if err != nil || from == s.dst {
			return n, err
		}
	}
}

// handleUDP relays one forwarded UDP flow until the stack closes it for
// idleness.
func (p *proxier) handleUDP(fc *synack.UDPConn) {
	p.wg.Add(1)
	defer p.wg.Done()
	src := fc.RemoteAddr().(*net.UDPAddr).AddrPort()
	dst := fc.LocalAddr().(*net.UDPAddr).AddrPort()
	start := time.Now()
	var up udpUpstream
	var err error
	if p.socks != nil {
		var a *socks5.UDPConn
		if a, err = p.socks.Associate(p.ctx); err == nil {
			up = socksUDP{a, netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port())}
		}
	} else {
		var c net.Conn
		if c, err = p.dialer.DialContext(p.ctx, "udp", dst.String()); err == nil {
			up = kernelUDP{c.(*net.UDPConn)}
		}
	}
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
	p.logf("udp %v -> %v: up %d, down %d %s, %v", src, dst, u.upN.Load(), u.dnN.Load(),
		plural(u.dnN.Load(), "datagram"), time.Since(start).Round(time.Millisecond))
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
		if u.up.send((*bp)[:n]) == nil {
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
		n, err := u.up.recv(*bp)
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
