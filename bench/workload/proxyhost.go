package workload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/synack-go/synack/internal/netns"
)

// The proxy-* workloads' topology, as `synack proxy`'s tests build it: the
// clients' namespace, whose default routes lead into the contender's TUN
// device; the proxy's, from which the contender opens each flow again;
// the servers', behind a veth pair from the proxy's. The client host of
// the Net is the kernel's sockets in the clients' namespace, the server
// host the kernel's sockets in the servers'; the contender is the proxy in
// between, in this process.
var (
	ProxyTUNKernelPrefix = netip.MustParsePrefix("198.18.0.1/15") // the clients' side of the device
	ProxyTUNStackPrefix  = netip.MustParsePrefix("198.18.0.2/15") // the proxy stack's own address
	proxyOutPrefix       = netip.MustParsePrefix("10.98.0.1/24")  // the proxy's side of the veth
	proxyServerPrefix    = netip.MustParsePrefix("10.98.0.2/24")  // the servers'
)

// IsProxyWorkload reports whether a workload runs through a proxy
// (proxy-bulk, proxy-connrate, proxy-idle), on a ProxyHost.
func IsProxyWorkload(name string) bool { return strings.HasPrefix(name, "proxy-") }

// ProxyHost is the three namespaces of the proxy-* workloads and the
// kernel's sockets in them.
type ProxyHost struct {
	clients, proxy, servers *netns.NS
	inClients, inProxy      *nsDialer
	sigs                    chan os.Signal
}

// Proxy is what a contender builds on a ProxyHost: its stack on the TUN
// device, relaying every flow.
type Proxy = io.Closer

// proxyNet is a proxy-* Net: the contender's proxy between the clients'
// kernel sockets and the servers'.
type proxyNet struct {
	host *ProxyHost
	px   Proxy
	note string
}

// NewProxyNet makes the namespaces and has build start the contender's
// proxy on them (it opens its TUN device with InClients, configures it
// with ConfigureTUN, and dials with DialUpstream). note describes it.
func NewProxyNet(build func(h *ProxyHost) (Proxy, error), note string) (Net, error) {
	h, err := NewProxyHost()
	if err != nil {
		return nil, err
	}
	px, err := build(h)
	if err != nil {
		h.Close()
		return nil, err
	}
	return &proxyNet{host: h, px: px, note: note}, nil
}

func (n *proxyNet) Listen(port uint16) (net.Listener, error) { return n.host.listen(port) }

func (n *proxyNet) Dial(ctx context.Context, port uint16) (net.Conn, error) {
	return n.host.inClients.dial(ctx, "tcp", netip.AddrPortFrom(proxyServerPrefix.Addr(), port).String())
}

func (n *proxyNet) Close() error { return errors.Join(n.px.Close(), n.host.Close()) }

func (n *proxyNet) Note() string { return n.note }

// MaxConns is how many flows the descriptors allow: three each (the
// client's socket, the server's, the proxy's upstream one).
func (n *proxyNet) MaxConns() int {
	cur, ok := noFileLimit()
	if !ok {
		return 0
	}
	return int(min(cur, 1<<30)-200) / 3
}

func (n *proxyNet) Why() string { return "RLIMIT_NOFILE, three descriptors per flow" }

// NewProxyHost makes the namespaces and the servers' link. Without root it
// returns an ErrSkip.
func NewProxyHost() (*ProxyHost, error) {
	if err := netns.Available(); err != nil {
		return nil, fmt.Errorf("%w: proxy workloads %v", ErrSkip, err)
	}
	raiseNoFile()
	h := &ProxyHost{sigs: make(chan os.Signal, 1)}
	var err error
	for _, ns := range []**netns.NS{&h.clients, &h.proxy, &h.servers} {
		if *ns, err = netns.Add(NetnsPrefix); err != nil {
			h.Close()
			return nil, err
		}
	}
	signal.Notify(h.sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		if _, ok := <-h.sigs; ok {
			h.deleteAll()
			os.Exit(1)
		}
	}()
	steps := [][]string{
		{"link", "add", "bpout", "type", "veth", "peer", "name", "bpsrv", "netns", h.servers.Name()},
		{"addr", "add", proxyOutPrefix.String(), "dev", "bpout"},
		{"link", "set", "bpout", "up"},
	}
	for _, s := range steps {
		if err := h.proxy.IP(s...); err != nil {
			h.Close()
			return nil, err
		}
	}
	for _, s := range [][]string{{"addr", "add", proxyServerPrefix.String(), "dev", "bpsrv"}, {"link", "set", "bpsrv", "up"}} {
		if err := h.servers.IP(s...); err != nil {
			h.Close()
			return nil, err
		}
	}
	h.inClients, h.inProxy = newNSDialer(h.clients), newNSDialer(h.proxy)
	return h, nil
}

// InClients runs f on a thread inside the clients' namespace: a TUN device
// opened there lives there.
func (h *ProxyHost) InClients(f func() error) error { return netns.Enter(h.clients.Path(), f) }

// ConfigureTUN gives the device the clients' address and the MTU, brings
// it up and routes the clients' traffic into it.
func (h *ProxyHost) ConfigureTUN(dev string, mtu int) error {
	for _, s := range [][]string{
		{"addr", "add", ProxyTUNKernelPrefix.String(), "dev", dev},
		{"link", "set", dev, "mtu", strconv.Itoa(mtu), "up"},
		{"route", "add", "default", "dev", dev},
	} {
		if err := h.clients.IP(s...); err != nil {
			return err
		}
	}
	return nil
}

// DialUpstream connects from the proxy's namespace, as a proxy opens a
// flow again.
func (h *ProxyHost) DialUpstream(ctx context.Context, network, addr string) (net.Conn, error) {
	return h.inProxy.dial(ctx, network, addr)
}

// listen listens on the servers' namespace.
func (h *ProxyHost) listen(port uint16) (net.Listener, error) {
	var ln net.Listener
	err := netns.Enter(h.servers.Path(), func() (err error) {
		ln, err = net.Listen("tcp4", netip.AddrPortFrom(proxyServerPrefix.Addr(), port).String())
		return err
	})
	return ln, err
}

// Close removes the namespaces and everything in them.
func (h *ProxyHost) Close() error {
	signal.Stop(h.sigs)
	close(h.sigs)
	for _, d := range []*nsDialer{h.inClients, h.inProxy} {
		if d != nil {
			d.close()
		}
	}
	return h.deleteAll()
}

func (h *ProxyHost) deleteAll() error {
	var err error
	for _, ns := range []*netns.NS{h.clients, h.proxy, h.servers} {
		if ns != nil {
			err = errors.Join(err, ns.Delete())
		}
	}
	return err
}
