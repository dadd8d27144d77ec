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
	"syscall"
	"time"

	"github.com/synack-go/synack"
	"github.com/synack-go/synack/internal/netns"
	"github.com/synack-go/synack/internal/proxy"
	"github.com/synack-go/synack/internal/socks5"
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
	return proxyMain(ctx, args, stdout, stderr)
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

// proxyMain runs `synack proxy` with args until ctx ends.
func proxyMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
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
	st, err := openProxyStack(&cfg)
	if err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	defer st.Close()
	log := newConnLog(stderr)
	dialer := &net.Dialer{Control: func(network, address string, c syscall.RawConn) error {
		if cfg.outIface == "" && cfg.fwmark == 0 {
			return nil
		}
		var serr error
		err := c.Control(func(fd uintptr) { serr = proxy.BindSocket(fd, cfg.outIface, cfg.fwmark) })
		return errors.Join(err, serr)
	}}
	pc := proxy.Config{DialTimeout: cfg.dialTimeout}
	if !cfg.quiet {
		pc.Logf = log.logf
	}
	via := "direct"
	if cfg.socks != "" {
		via = "socks5 " + cfg.socks
		sd := &socks5.Dialer{Server: cfg.socks, DialServer: dialer.DialContext,
			ListenUDP: func(network string, laddr *net.UDPAddr) (*net.UDPConn, error) {
				lc := net.ListenConfig{Control: dialer.Control}
				pc, err := lc.ListenPacket(context.Background(), network, laddr.String())
				if err != nil {
					return nil, err
				}
				return pc.(*net.UDPConn), nil
			}}
		pc.DialTCP = func(ctx context.Context, dst netip.AddrPort) (net.Conn, error) {
			return sd.DialContext(ctx, "tcp", dst.String())
		}
		pc.DialUDP = func(ctx context.Context, dst netip.AddrPort) (proxy.UDPUpstream, error) {
			a, err := sd.Associate(ctx)
			if err != nil {
				return nil, err
			}
			return proxy.SOCKSUDP(a, dst), nil
		}
	} else {
		pc.DialTCP = func(ctx context.Context, dst netip.AddrPort) (net.Conn, error) {
			return dialer.DialContext(ctx, "tcp", dst.String())
		}
		pc.DialUDP = func(ctx context.Context, dst netip.AddrPort) (proxy.UDPUpstream, error) {
			c, err := dialer.DialContext(ctx, "udp", dst.String())
			if err != nil {
				return nil, err
			}
			return proxy.KernelUDP(c.(*net.UDPConn)), nil
		}
	}
	px, err := proxy.Start(st.Stack, pc)
	if err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	where := ""
	if cfg.tunNetns != "" {
		where = " in namespace " + cfg.tunNetns
	}
	log.logf("proxying TCP and UDP from %s%s (kernel side %v, %s) via %s", st.dev.Name(), where,
		cfg.tun.hostAddrs.String(), st.linkNote(), via)
	if cfg.stats {
		sctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go proxyStatsLoop(sctx, stdout, cfg.statsEvery, px, st.Stack)
	}
	<-ctx.Done()
	px.Shutdown(shutdownGrace)
	ps := px.Stats()
	log.logf("stopped after %d TCP and %d UDP %s", ps.TCPRelayed, ps.UDPRelayed, plural(ps.TCPRelayed+ps.UDPRelayed, "flow"))
	return nil
}

// openProxyStack opens the TUN device and its stack, in the clients'
// namespace with --tun-netns.
func openProxyStack(cfg *proxyConfig) (*tunStack, error) {
	var st *tunStack
	open := func() (err error) {
		st, err = openTunStack(&cfg.tun, "proxy", nil)
		return err
	}
	var err error
	if cfg.tunNetns != "" {
		err = netns.Enter("/run/netns/"+cfg.tunNetns, open)
	} else {
		err = open()
	}
	return st, err
}

// proxyStatsLoop prints the proxy's counters every interval until ctx
// ends, when they have changed.
func proxyStatsLoop(ctx context.Context, w io.Writer, every time.Duration, px *proxy.Proxy, st *synack.Stack) {
	t := time.NewTicker(every)
	defer t.Stop()
	last := ""
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ps, ss := px.Stats(), st.Stats()
		line := fmt.Sprintf("tcp: %d open, %d relayed, %d refused, %d unreachable, %d ignored, %d cookies; udp: %d open, %d relayed; up %s, down %s",
			ps.TCPOpen, ps.TCPRelayed, ps.Refused, ps.Unreachable, ps.Ignored, ss.Forwarded.Cookies,
			ps.UDPOpen, ps.UDPRelayed, size(ps.BytesUp), size(ps.BytesDown))
		if line != last {
			fmt.Fprintf(w, "%s %s\n", time.Now().Format("15:04:05"), line)
			last = line
		}
	}
}
