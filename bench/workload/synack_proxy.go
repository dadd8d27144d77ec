package workload

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/synack-go/synack"
	"github.com/synack-go/synack/internal/proxy"
	"github.com/synack-go/synack/link/tun"
)

// newSynackProxy is the proxy-* Net for synack: `synack proxy --direct`'s
// engine (internal/proxy) on a stack on the TUN device.
func newSynackProxy(spec Spec) (Net, error) {
	mtu := spec.MTU
	if mtu == 0 {
		mtu = 1500
	}
	note := "synack proxy's engine on link/tun (no offloads)"
	if spec.Offload {
		note = "synack proxy's engine on link/tun (offloads: TSO both ways, checksums left to the kernel)"
	}
	return NewProxyNet(func(h *ProxyHost) (Proxy, error) {
		var dev *tun.Device
		if err := h.InClients(func() (err error) {
			dev, err = tun.Open("synack0", tun.Config{MTU: mtu, Offload: spec.Offload})
			return err
		}); err != nil {
			return nil, err
		}
		if err := h.ConfigureTUN(dev.Name(), mtu); err != nil {
			dev.Close()
			return nil, err
		}
		var batch synack.BatchACKMode
		if spec.BatchACKs {
			batch = synack.BatchACKsOn
		}
		st, err := synack.NewStack(dev, synack.Options{Name: "proxy", Addrs: []netip.Prefix{ProxyTUNStackPrefix}, BatchACKs: batch})
		if err != nil {
			dev.Close()
			return nil, err
		}
		px, err := proxy.Start(st, proxy.Config{
			DialTCP: func(ctx context.Context, dst netip.AddrPort) (net.Conn, error) {
				return h.DialUpstream(ctx, "tcp", dst.String())
			},
			DialUDP: func(ctx context.Context, dst netip.AddrPort) (proxy.UDPUpstream, error) {
				c, err := h.DialUpstream(ctx, "udp", dst.String())
				if err != nil {
					return nil, err
				}
				return proxy.KernelUDP(c.(*net.UDPConn)), nil
			},
		})
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("proxy: %w", err)
		}
		return synackProxy{px, st}, nil
	}, note)
}

// synackProxy closes the proxy, then its stack (and device).
type synackProxy struct {
	px *proxy.Proxy
	st *synack.Stack
}

func (p synackProxy) Close() error {
	p.px.Shutdown(0)
	return errors.Join(p.st.Close())
}
