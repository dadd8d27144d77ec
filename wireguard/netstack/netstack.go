// Package netstack is synack as wireguard-go's userspace network: a
// drop-in for golang.zx2c4.com/wireguard/tun/netstack. CreateNetTUN returns
// a tun.Device to give to device.NewDevice and a *Net whose Dial, Listen,
// Ping and Lookup methods speak through the WireGuard tunnel, with no TUN
// device and no privileges. A program written for wireguard-go's netstack
// switches by changing its import from
//
//	golang.zx2c4.com/wireguard/tun/netstack
//
// to
//
//	github.com/synack-go/synack/wireguard/netstack
//
// The names and signatures are upstream's; the differences are in what
// comes back: TCP connections are *synack.Conn and listeners
// *synack.Listener (package net's errors, so errors.Is(err,
// syscall.ECONNREFUSED) works, and every connection can be traced),
// where upstream returns gVisor's gonet types.
//
// The device moves packets in batches of up to 128 per Read, the batch
// wireguard-go's UDP binds move per system call, where upstream's moves
// one. The stack answers pings to its addresses; PingConn is an echo
// client; LookupHost asks the DNS servers given to CreateNetTUN through
// the tunnel, over UDP, and over TCP when an answer is truncated.
package netstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"golang.zx2c4.com/wireguard/tun"

	"github.com/synack-go/synack"
)

// ipTTL is the TTL (hop limit) of the echo requests a PingConn sends: the
// stack's own, RFC 1700's default.
const ipTTL = 64

var (
	errAddrNotAvail   error = syscall.EADDRNOTAVAIL
	errMessageTooLong error = syscall.EMSGSIZE
	errNoAddr               = errors.New("no local address of the destination's family")
)

// Net is the network seen through the tunnel: dial, listen, ping and
// resolve names there. It is safe for concurrent use. Its methods fail
// with net.ErrClosed once the device is closed.
type Net struct {
	stack      *synack.Stack
	dev        *device
	dnsServers []netip.Addr
	hasV4      bool
	hasV6      bool
	udp        datagramStack
}

// CreateNetTUN makes a synack stack holding localAddresses (each as a
// single host, /32 or /128), whose link is the returned tun.Device, with
// mtu as the MTU of both; dnsServers are the servers LookupHost asks. It
// fails if an address is invalid or the MTU too small for synack (576
// bytes, 1280 with an IPv6 address). The device has sent tun.EventUp when
// it returns. Closing the device closes the stack.
func CreateNetTUN(localAddresses, dnsServers []netip.Addr, mtu int) (tun.Device, *Net, error) {
	return CreateNetTUNWithOptions(localAddresses, dnsServers, mtu, synack.Options{})
}

// CreateNetTUNWithOptions is CreateNetTUN with the stack's options (a
// tracer, TCP tunables, a name for traces); opts.Addrs is replaced by
// localAddresses.
func CreateNetTUNWithOptions(localAddresses, dnsServers []netip.Addr, mtu int, opts synack.Options) (tun.Device, *Net, error) {
	if len(localAddresses) == 0 {
		return nil, nil, errors.New("netstack: no local address")
	}
	n := &Net{dnsServers: append([]netip.Addr(nil), dnsServers...)}
	opts.Addrs = nil
	addrs := make([]netip.Addr, 0, len(localAddresses))
	for _, a := range localAddresses {
		a = a.Unmap()
		if !a.IsValid() {
			return nil, nil, errors.New("netstack: invalid local address")
		}
		opts.Addrs = append(opts.Addrs, netip.PrefixFrom(a, a.BitLen()))
		addrs = append(addrs, a)
		n.hasV4 = n.hasV4 || a.Is4()
		n.hasV6 = n.hasV6 || a.Is6()
	}
	ep := newEndpoint(mtu)
	st, err := synack.NewStack(ep, opts)
	if err != nil {
		ep.Close()
		return nil, nil, fmt.Errorf("netstack: %w", err)
	}
	dev := &device{
		ep:     ep,
		stack:  st,
		pings:  newPingTable(ep.out, mtu, addrs),
		events: make(chan tun.Event, 10),
		mtu:    mtu,
	}
	dev.events <- tun.EventUp
	n.stack, n.dev = st, dev
	n.udp = stackUDP{n}
	return dev, n, nil
}

// Stack returns the synack stack behind the tunnel, for its statistics,
// connection table and whatever package synack offers beyond upstream's
// API.
func (n *Net) Stack() *synack.Stack { return n.stack }

// tcpAddrPort converts a *net.TCPAddr (nil: the zero AddrPort).
func tcpAddrPort(a *net.TCPAddr) netip.AddrPort {
	if a == nil {
		return netip.AddrPort{}
	}
	ip, _ := netip.AddrFromSlice(a.IP)
	return netip.AddrPortFrom(ip.Unmap(), uint16(a.Port))
}

// DialContextTCPAddrPort connects to addr through the tunnel and returns
// the connection once the handshake is done; ctx bounds the wait. Errors
// are *net.OpError values wrapping syscall.ECONNREFUSED, ETIMEDOUT,
// EHOSTUNREACH, ctx.Err(), net.ErrClosed or an address error; see
// synack.Stack.DialContext.
func (n *Net) DialContextTCPAddrPort(ctx context.Context, addr netip.AddrPort) (*synack.Conn, error) {
	return n.stack.DialAddrPort(ctx, netip.AddrPort{}, addr)
}

// DialContextTCP is DialContextTCPAddrPort with a *net.TCPAddr.
func (n *Net) DialContextTCP(ctx context.Context, addr *net.TCPAddr) (*synack.Conn, error) {
	return n.DialContextTCPAddrPort(ctx, tcpAddrPort(addr))
}

// DialTCPAddrPort is DialContextTCPAddrPort without a context: a silent
// peer makes it wait for every SYN retransmission (about two minutes).
func (n *Net) DialTCPAddrPort(addr netip.AddrPort) (*synack.Conn, error) {
	return n.DialContextTCPAddrPort(context.Background(), addr)
}

// DialTCP is DialTCPAddrPort with a *net.TCPAddr.
func (n *Net) DialTCP(addr *net.TCPAddr) (*synack.Conn, error) {
	return n.DialTCPAddrPort(tcpAddrPort(addr))
}

// ListenTCPAddrPort listens on addr. A zero or unspecified address
// listens on every local address, of both families for a zero one (as
// upstream's, and package net's "tcp"); port 0 picks a free port. Errors
// are *net.OpError values wrapping syscall.EADDRINUSE, EADDRNOTAVAIL or
// net.ErrClosed.
func (n *Net) ListenTCPAddrPort(addr netip.AddrPort) (*synack.Listener, error) {
	network := "tcp"
	a := addr.Addr().Unmap()
	switch {
	case !a.IsValid():
		a = netip.IPv4Unspecified()
	case a.Is4():
		network = "tcp4"
	default:
		network = "tcp6"
	}
	return n.stack.ListenAddrPort(network, netip.AddrPortFrom(a, addr.Port()), 0)
}

// ListenTCP is ListenTCPAddrPort with a *net.TCPAddr (nil: every address,
// a free port).
func (n *Net) ListenTCP(addr *net.TCPAddr) (*synack.Listener, error) {
	return n.ListenTCPAddrPort(tcpAddrPort(addr))
}
