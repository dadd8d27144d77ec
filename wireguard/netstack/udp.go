package netstack

import (
	"net"
	"net/netip"

	"github.com/synack-go/synack"
)

// UDPConn is a UDP socket through the tunnel: synack's, which has
// *net.UDPConn's methods (Read, Write, ReadFrom, WriteTo and their UDP and
// AddrPort forms, deadlines, SetReadBuffer, Close), is a net.Conn and a
// net.PacketConn, and is safe for concurrent use. Upstream returns
// gVisor's *gonet.UDPConn here.
type UDPConn = synack.UDPConn

// udpAddrPort converts a *net.UDPAddr (nil: the zero AddrPort).
func udpAddrPort(a *net.UDPAddr) netip.AddrPort {
	if a == nil {
		return netip.AddrPort{}
	}
	ip, _ := netip.AddrFromSlice(a.IP)
	return netip.AddrPortFrom(ip.Unmap(), uint16(a.Port))
}

// DialUDPAddrPort opens a UDP socket from laddr to raddr. A zero laddr,
// or one with an unspecified address, sends from the stack's address of
// raddr's family; port 0 picks a free port. A zero raddr leaves the socket
// unconnected (see ListenUDPAddrPort): it sends with WriteTo and receives
// from anyone. No packet is sent. Errors are *net.OpError values wrapping
// syscall.EADDRINUSE, syscall.EADDRNOTAVAIL, net.ErrClosed or an address
// error; see synack.Stack.DialUDP.
func (n *Net) DialUDPAddrPort(laddr, raddr netip.AddrPort) (*UDPConn, error) {
	laddr = netip.AddrPortFrom(laddr.Addr().Unmap(), laddr.Port())
	raddr = netip.AddrPortFrom(raddr.Addr().Unmap(), raddr.Port())
	var la *net.UDPAddr
	if laddr.Addr().IsValid() || laddr.Port() != 0 {
		la = net.UDPAddrFromAddrPort(laddr)
	}
	if !raddr.Addr().IsValid() {
		network, a := "udp", laddr.Addr()
		switch {
		case !a.IsValid():
			la = &net.UDPAddr{Port: int(laddr.Port())}
		case a.Is4():
			network = "udp4"
		default:
			network = "udp6"
		}
		return n.stack.ListenUDP(network, la)
	}
	return n.stack.DialUDP("udp", la, net.UDPAddrFromAddrPort(raddr))
}

// ListenUDPAddrPort opens an unconnected UDP socket on laddr: a zero
// address receives on every local address of both families, an
// unspecified one on every address of its family; port 0 picks a free
// port. Errors are those of DialUDPAddrPort.
func (n *Net) ListenUDPAddrPort(laddr netip.AddrPort) (*UDPConn, error) {
	return n.DialUDPAddrPort(laddr, netip.AddrPort{})
}

// DialUDP is DialUDPAddrPort with *net.UDPAddr arguments (nil: zero).
func (n *Net) DialUDP(laddr, raddr *net.UDPAddr) (*UDPConn, error) {
	return n.DialUDPAddrPort(udpAddrPort(laddr), udpAddrPort(raddr))
}

// ListenUDP is ListenUDPAddrPort with a *net.UDPAddr (nil: zero).
func (n *Net) ListenUDP(laddr *net.UDPAddr) (*UDPConn, error) {
	return n.DialUDP(laddr, nil)
}
