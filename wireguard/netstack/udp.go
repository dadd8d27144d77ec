package netstack

import (
	"net"
	"net/netip"
)

// datagramStack is what the UDP methods and the DNS client need from the
// stack: a UDP socket from laddr to raddr (either may be zero: any local
// address and a free port; unconnected). udp_stack.go provides it from
// synack's UDP.
type datagramStack interface {
	dialUDP(laddr, raddr netip.AddrPort) (datagramConn, error)
}

// datagramConn is a UDP socket as package net's *net.UDPConn has it.
type datagramConn interface {
	net.Conn
	ReadFrom(p []byte) (int, net.Addr, error)
	WriteTo(p []byte, addr net.Addr) (int, error)
	ReadFromUDPAddrPort(p []byte) (int, netip.AddrPort, error)
	WriteToUDPAddrPort(p []byte, addr netip.AddrPort) (int, error)
}

// UDPConn is a UDP socket through the tunnel. It has *net.UDPConn's
// methods (Read, Write, ReadFrom, WriteTo and their UDP and AddrPort
// forms, deadlines, Close) and is safe for concurrent use; it is a
// net.Conn and a net.PacketConn.
type UDPConn struct {
	datagramConn
}

var (
	_ net.Conn       = (*UDPConn)(nil)
	_ net.PacketConn = (*UDPConn)(nil)
)

// ReadFromUDP is ReadFromUDPAddrPort with a *net.UDPAddr.
func (c *UDPConn) ReadFromUDP(p []byte) (int, *net.UDPAddr, error) {
	n, from, err := c.ReadFromUDPAddrPort(p)
	if !from.IsValid() {
		return n, nil, err
	}
	return n, net.UDPAddrFromAddrPort(from), err
}

// WriteToUDP is WriteToUDPAddrPort with a *net.UDPAddr.
func (c *UDPConn) WriteToUDP(p []byte, addr *net.UDPAddr) (int, error) {
	var ap netip.AddrPort
	if addr != nil {
		ap = udpAddrPort(addr)
	}
	return c.WriteToUDPAddrPort(p, ap)
}

// udpAddrPort converts a *net.UDPAddr (nil: the zero AddrPort).
func udpAddrPort(a *net.UDPAddr) netip.AddrPort {
	if a == nil {
		return netip.AddrPort{}
	}
	ip, _ := netip.AddrFromSlice(a.IP)
	return netip.AddrPortFrom(ip.Unmap(), uint16(a.Port))
}

// DialUDPAddrPort opens a UDP socket from laddr (zero: a local address of
// raddr's family and a free port) to raddr (zero: unconnected, for
// WriteTo). It fails with a *net.OpError wrapping the stack's error
// (EADDRINUSE, EADDRNOTAVAIL, net.ErrClosed, errors.ErrUnsupported while
// synack has no UDP).
func (n *Net) DialUDPAddrPort(laddr, raddr netip.AddrPort) (*UDPConn, error) {
	laddr = netip.AddrPortFrom(laddr.Addr().Unmap(), laddr.Port())
	raddr = netip.AddrPortFrom(raddr.Addr().Unmap(), raddr.Port())
	c, err := n.udp.dialUDP(laddr, raddr)
	if err != nil {
		return nil, err
	}
	return &UDPConn{c}, nil
}

// ListenUDPAddrPort opens an unconnected UDP socket on laddr (zero: every
// local address, a free port); see DialUDPAddrPort.
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
