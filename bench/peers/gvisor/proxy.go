package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/fdbased"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/synack-go/synack/bench/workload"
)

// The proxy-* workloads on gVisor, built the way tun2socks builds its
// engine (core/stack.go, core/tcp.go, tunnel/tcp.go): a stack on the TUN
// device (fdbased, readv; with -offload tailscale's GSO path, tun_gso.go)
// in promiscuous and spoofing mode with a default route, gVisor's
// tcp.Forwarder (receive window 0: the default; 2048 handshakes in
// flight) and udp.Forwarder; each TCP request completes its handshake
// (CreateEndpoint, Complete(false)), is wrapped by gonet, and handed to a
// goroutine of its own that dials the destination, then relays with two
// goroutines, each copying through a 20 KiB pooled buffer with
// io.CopyBuffer and half-closing the other side at the end.
const (
	tun2socksMaxInFlight = 2 << 10  // tun2socks's maxConnAttempts
	tun2socksRelayBuf    = 20 << 10 // tun2socks's pool.RelayBufferSize
	tun2socksTCPWait     = 5 * time.Second
)

var relayBufs = sync.Pool{New: func() any { b := make([]byte, tun2socksRelayBuf); return &b }}

// gvisorProxy is a proxy-* contender: its stack and link, and the flows it
// relays.
type gvisorProxy struct {
	s   *stack.Stack
	fd  int
	gso *gsoTUN
	wg  sync.WaitGroup
}

func newProxyNet(spec workload.Spec) (workload.Net, error) {
	mtu := spec.MTU
	if mtu == 0 {
		mtu = 1500
	}
	if spec.BatchACKs || spec.Queues > 1 {
		return nil, fmt.Errorf("%w: gvisor's proxy on one queue, no batched ACKs", errors.ErrUnsupported)
	}
	note := "tun2socks's engine: tcp.Forwarder and udp.Forwarder on fdbased (readv, no offloads)"
	if spec.Offload {
		note = "tun2socks's engine: tcp.Forwarder and udp.Forwarder on its GSO path to the TUN device (as tailscale)"
	}
	return workload.NewProxyNet(func(h *workload.ProxyHost) (workload.Proxy, error) {
		p := &gvisorProxy{fd: -1}
		var flags uint16
		if spec.Offload {
			flags = unix.IFF_VNET_HDR
		}
		if err := h.InClients(func() (err error) {
			p.fd, err = openTUN(tunDevice, flags)
			return err
		}); err != nil {
			return nil, err
		}
		fail := func(err error) (workload.Proxy, error) {
			p.Close()
			return nil, err
		}
		if err := h.ConfigureTUN(tunDevice, mtu); err != nil {
			return fail(err)
		}
		var ep stack.LinkEndpoint
		var err error
		if spec.Offload {
			if p.gso, err = newGSOTUN(p.fd, mtu); err != nil {
				return fail(err)
			}
			p.fd = -1 // the GSO path owns it
			ep = p.gso.ep
		} else {
			if err := unix.SetNonblock(p.fd, true); err != nil {
				return fail(err)
			}
			if ep, err = fdbased.New(&fdbased.Options{FDs: []int{p.fd}, MTU: uint32(mtu),
				PacketDispatchMode: fdbased.Readv, RXChecksumOffload: true}); err != nil {
				return fail(err)
			}
		}
		if p.s, err = newProxyStack(ep); err != nil {
			return fail(err)
		}
		dial := func(ctx context.Context, network string, id stack.TransportEndpointID) (net.Conn, error) {
			dst := netip.AddrPortFrom(netip.AddrFrom4(id.LocalAddress.As4()), id.LocalPort)
			return h.DialUpstream(ctx, network, dst.String())
		}
		tf := tcp.NewForwarder(p.s, 0, tun2socksMaxInFlight, func(r *tcp.ForwarderRequest) {
			id := r.ID() // before Complete, which releases the SYN
			var wq waiter.Queue
			ep, err := r.CreateEndpoint(&wq)
			if err != nil {
				r.Complete(true)
				return
			}
			r.Complete(false)
			ep.SocketOptions().SetKeepAlive(true)
			conn := gonet.NewTCPConn(&wq, ep)
			p.wg.Add(1)
			go func() { // tunnel.handleTCPConn
				defer p.wg.Done()
				remote, err := dial(context.Background(), "tcp", id)
				if err != nil {
					conn.Close()
					return
				}
				pipe(conn, remote)
			}()
		})
		p.s.SetTransportProtocolHandler(tcp.ProtocolNumber, tf.HandlePacket)
		uf := udp.NewForwarder(p.s, func(r *udp.ForwarderRequest) bool {
			var wq waiter.Queue
			ep, err := r.CreateEndpoint(&wq)
			if err != nil {
				return true
			}
			conn := gonet.NewUDPConn(&wq, ep)
			id := r.ID()
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				remote, err := dial(context.Background(), "udp", id)
				if err != nil {
					conn.Close()
					return
				}
				pipe(conn, remote)
			}()
			return true
		})
		p.s.SetTransportProtocolHandler(udp.ProtocolNumber, uf.HandlePacket)
		return p, nil
	}, note)
}

// newProxyStack is tun2socks's stack: IPv4 (the workloads' family), TCP
// and UDP, tuned as newStack's; one NIC in
// promiscuous and spoofing mode, so that it takes packets to any address
// and answers from them, and a default route.
func newProxyStack(ep stack.LinkEndpoint) (*stack.Stack, error) {
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol},
	})
	if err := setTCPOptions(s, ""); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.CreateNIC(nicID, ep); err != nil {
		s.Close()
		return nil, fmt.Errorf("gvisor CreateNIC: %v", err)
	}
	if err := s.SetPromiscuousMode(nicID, true); err != nil {
		s.Close()
		return nil, fmt.Errorf("gvisor SetPromiscuousMode: %v", err)
	}
	if err := s.SetSpoofing(nicID, true); err != nil {
		s.Close()
		return nil, fmt.Errorf("gvisor SetSpoofing: %v", err)
	}
	s.SetRouteTable([]tcpip.Route{{Destination: header.IPv4EmptySubnet, NIC: nicID}})
	return s, nil
}

// pipe relays between the client's connection and the remote one as
// tunnel.pipe does: a goroutine each way, then both closed.
func pipe(origin, remote net.Conn) {
	var wg sync.WaitGroup
	wg.Add(2)
	go unidirectional(remote, origin, &wg)
	go unidirectional(origin, remote, &wg)
	wg.Wait()
	origin.Close()
	remote.Close()
}

// unidirectional copies src to dst through a pooled buffer, then
// half-closes dst and lets src's read end soon.
func unidirectional(dst, src net.Conn, wg *sync.WaitGroup) {
	defer wg.Done()
	bp := relayBufs.Get().(*[]byte)
	io.CopyBuffer(dst, src, *bp)
	relayBufs.Put(bp)
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	} else {
		dst.Close()
	}
	src.SetReadDeadline(time.Now().Add(tun2socksTCPWait))
}

func (p *gvisorProxy) Close() error {
	var err error
	if p.s != nil {
		p.s.Close()
	}
	if p.gso != nil {
		err = p.gso.Close()
	}
	if p.fd >= 0 {
		err = errors.Join(err, unix.Close(p.fd))
	}
	if p.s != nil {
		p.s.Wait()
	}
	return err
}
