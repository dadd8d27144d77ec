// Command wggvisor runs bench/workload's wg-* workloads on wireguard-go's
// own netstack (golang.zx2c4.com/wireguard/tun/netstack, gVisor), for
// bench/compare: `wggvisor wg-bulk -json`. It is synack's
// wireguard/internal/benchpeer with the other netstack: the same
// wireguard-go devices, loopback UDP binds and workloads (the wireguard
// module's benchnet package). A module of its own, so that gVisor enters
// neither synack's go.mod nor the wireguard module's.
package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"

	"golang.zx2c4.com/wireguard/tun"
	"golang.zx2c4.com/wireguard/tun/netstack"

	"github.com/synack-go/synack/bench/workload"
	"github.com/synack-go/synack/wireguard/benchnet"
)

// stack adapts wireguard-go's *netstack.Net to benchnet.Stack.
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
		Name:   "gvisor",
		NewNet: func(spec workload.Spec) (workload.Net, error) { return benchnet.New(spec, create) },
		Note:   "golang.zx2c4.com/wireguard/tun/netstack as wireguard-go ships it (SACK on)",
	}
	if err := workload.Main(c, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "wggvisor:", err)
		os.Exit(1)
	}
}
