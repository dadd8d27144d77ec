package synack

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"syscall"
)

var (
	errAddrInUse    = syscall.EADDRINUSE
	errAddrNotAvail = syscall.EADDRNOTAVAIL
	errNoPorts      = errors.New("no free ephemeral port")
)

// Dial connects to address on the named network; see DialContext.
func (s *Stack) Dial(network, address string) (net.Conn, error) {
	return s.DialContext(context.Background(), network, address)
}

// DialContext connects to address ("ip:port", literal IPs only) on network
// "tcp", "tcp4" or "tcp6". It picks a random ephemeral port (RFC 6056),
// sends a SYN and blocks until the connection is established, refused
// (syscall.ECONNREFUSED), times out (syscall.ETIMEDOUT, after the SYN
// retries), or ctx ends. The result is a *Conn.
func (s *Stack) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := s.DialTCP(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// DialTCP is DialContext returning the *Conn.
func (s *Stack) DialTCP(ctx context.Context, network, address string) (*Conn, error) {
	remote, err := parseAddr(network, address, false)
	if err != nil {
		return nil, opError("dial", netip.AddrPort{}, netip.AddrPort{}, err)
	}
	if s.closed.Load() {
		return nil, opError("dial", netip.AddrPort{}, remote, net.ErrClosed)
	}
	local, ok := s.localFor(remote.Addr())
	if !ok {
		return nil, opError("dial", netip.AddrPort{}, remote, errNoAddr)
	}
	c, err := s.bindEphemeral(local, remote)
	if err != nil {
		return nil, opError("dial", netip.AddrPortFrom(local, 0), remote, err)
	}
	s.ctr.active.Add(1)
	c.mu.Lock()
	now := s.now()
	c.tcb.Connect(s.isn.ISN(c.key.local, c.key.remote, now), now)
	c.pollNow()
	c.mu.Unlock()
	select {
	case <-c.est:
	case <-ctx.Done():
		c.abort()
		return nil, opError("dial", c.key.local, remote, ctx.Err())
	case <-s.done:
		return nil, opError("dial", c.key.local, remote, net.ErrClosed)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.tcb.Established() {
		err := c.tcb.Err()
		if err == nil {
			err = syscall.ECONNREFUSED
		}
		return nil, opError("dial", c.key.local, remote, err)
	}
	return c, nil
}

// parseAddr parses "ip:port" (or ":port" when listening) for a network.
func parseAddr(network, address string, listen bool) (netip.AddrPort, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return netip.AddrPort{}, err
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return netip.AddrPort{}, errors.New("invalid port " + strconv.Quote(port))
	}
	var a netip.Addr
	switch {
	case host == "" && listen:
		a = netip.IPv4Unspecified()
		if network == "tcp6" {
			a = netip.IPv6Unspecified()
		}
	default:
		a, err = netip.ParseAddr(host)
		if err != nil {
			return netip.AddrPort{}, errors.New("synack dials and listens on literal IP addresses only: " + strconv.Quote(host))
		}
		a = a.Unmap()
	}
	if err := checkNetwork(network, a); err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(a, uint16(p)), nil
}

func checkNetwork(network string, a netip.Addr) error {
	switch network {
	case "tcp":
		return nil
	case "tcp4":
		if a.Is4() {
			return nil
		}
	case "tcp6":
		if a.Is6() {
			return nil
		}
	default:
		return net.UnknownNetworkError(network)
	}
	return errors.New("address " + a.String() + " is not of network " + network)
}
