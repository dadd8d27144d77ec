// Package benchnet builds bench/workload's two hosts over WireGuard: each
// host is a netstack behind its own wireguard-go device, the two devices
// joined by UDP on the loopback interface (wgpair), all in one process.
// The same code runs synack's netstack (internal/benchpeer) and
// wireguard-go's own gVisor netstack (bench/peers/wggvisor, a module of
// its own), so that the wg-bulk, wg-rr and wg-idle workloads compare the
// netstacks and nothing else: the same devices, crypto, binds and traffic.
package benchnet

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"golang.zx2c4.com/wireguard/tun"

	"github.com/synack-go/synack/bench/workload"
	"github.com/synack-go/synack/wireguard/wgpair"
)

// Stack is what a workload needs of a netstack's *Net.
type Stack interface {
	ListenTCP(addr netip.AddrPort) (net.Listener, error)
	DialTCP(ctx context.Context, addr netip.AddrPort) (net.Conn, error)
}

// Create makes one host: a netstack holding addr, with its tun.Device.
type Create func(addr netip.Addr, mtu int) (tun.Device, Stack, error)

// DefaultMTU is WireGuard's usual tunnel MTU (wg-quick's).
const DefaultMTU = 1420

// New builds the client host (workload.ClientPrefix's address) and the
// server host (workload.ServerPrefix's) with create, joined by WireGuard
// over loopback UDP. It refuses workloads other than the wg-* ones.
func New(spec workload.Spec, create Create) (workload.Net, error) {
	if !strings.HasPrefix(spec.Workload, "wg-") {
		return nil, fmt.Errorf("benchnet runs the wg-* workloads, not %q", spec.Workload)
	}
	mtu := spec.MTU
	if mtu == 0 {
		mtu = DefaultMTU
	}
	ca, cb := workload.ClientPrefix.Addr(), workload.ServerPrefix.Addr()
	tc, client, err := create(ca, mtu)
	if err != nil {
		return nil, err
	}
	ts, server, err := create(cb, mtu)
	if err != nil {
		tc.Close()
		return nil, err
	}
	p, err := wgpair.New(wgpair.Side{TUN: tc, Addrs: []netip.Addr{ca}}, wgpair.Side{TUN: ts, Addrs: []netip.Addr{cb}}, nil)
	if err != nil {
		return nil, err
	}
	return &wgNet{pair: p, client: client, server: server, serverAddr: cb}, nil
}

type wgNet struct {
	pair           *wgpair.Pair
	client, server Stack
	serverAddr     netip.Addr
}

func (n *wgNet) Listen(port uint16) (net.Listener, error) {
	return n.server.ListenTCP(netip.AddrPortFrom(n.serverAddr, port))
}

func (n *wgNet) Dial(ctx context.Context, port uint16) (net.Conn, error) {
	return n.client.DialTCP(ctx, netip.AddrPortFrom(n.serverAddr, port))
}

func (n *wgNet) Close() error {
	n.pair.Close()
	return nil
}

func (n *wgNet) Note() string {
	return "two wireguard-go devices joined by UDP on loopback, one netstack behind each"
}
