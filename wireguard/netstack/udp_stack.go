package netstack

import (
	"net"
	"net/netip"
)

// datagramStack is what the DNS client needs to send a question: a UDP
// socket connected to a server. The tests put a fake in its place to
// drive the resolver's UDP path (truncation) without a server in a tunnel.
type datagramStack interface {
	dialUDP(raddr netip.AddrPort) (net.Conn, error)
}

// stackUDP is the datagramStack of a Net: synack's UDP.
type stackUDP struct{ n *Net }

func (s stackUDP) dialUDP(raddr netip.AddrPort) (net.Conn, error) {
	c, err := s.n.DialUDPAddrPort(netip.AddrPort{}, raddr)
	if err != nil {
		return nil, err
	}
	return c, nil
}
