// Command benchpeer runs bench/workload's wg-* workloads on synack's
// netstack behind wireguard-go, for bench/compare: `benchpeer wg-bulk
// -json`. bench/peers/wggvisor is the same with wireguard-go's own gVisor
// netstack.
package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"

	"golang.zx2c4.com/wireguard/tun"

	"github.com/synack-go/synack/bench/workload"
	"github.com/synack-go/synack/wireguard/benchnet"
	"github.com/synack-go/synack/wireguard/netstack"
)

// stack adapts *netstack.Net to benchnet.Stack.
type stack struct{ n *netstack.Net }

func (s stack) ListenTCP(addr netip.AddrPort) (net.Listener, error) {
	ln, err := s.n.ListenTCPAddrPort(addr)
	if err != nil {
		return nil, err
	}
	return ln, nil
}

func (s stack) DialTCP(ctx context.Context, addr netip.AddrPort) (net.Conn, error) {
	c, err := s.n.DialContextTCPAddrPort(ctx, addr)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func create(addr netip.Addr, mtu int) (tun.Device, benchnet.Stack, error) {
	dev, n, err := netstack.CreateNetTUN([]netip.Addr{addr}, nil, mtu)
	if err != nil {
		return nil, nil, err
	}
	return dev, stack{n}, nil
}

func main() {
	c := workload.Contender{
		Name:   "synack",
		NewNet: func(spec workload.Spec) (workload.Net, error) { return benchnet.New(spec, create) },
		Note:   "synack-go/synack/wireguard/netstack, default options",
	}
	if err := workload.Main(c, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchpeer:", err)
		os.Exit(1)
	}
}
