package synack

import (
	"context"
	"net"
	"net/netip"

	"github.com/synack-go/synack/tcp"
)

// Dial connects to address on the named network; see DialContext.
func (s *Stack) Dial(network, address string) (net.Conn, error) {
	return s.DialContext(context.Background(), network, address)
}

// DialContext connects to address ("ip:port" with a literal IP) on network
// "tcp", "tcp4" or "tcp6" and returns a *Conn. It sends its SYN from a
// local address of the destination's family (see Options.Addrs) and a
// random ephemeral port (RFC 6056), then blocks until the connection is
// established. Errors are *net.OpError values wrapping
// syscall.ECONNREFUSED (the peer answered with a RST, or ICMP said port
// unreachable), syscall.ETIMEDOUT (no answer after tcp.Config.SynRetries
// retransmissions, about 127 s by default), the errno of an ICMP error
// instead when one explains the silence (EHOSTUNREACH or ENETUNREACH after
// host or network unreachable: a soft error, reported when the retries run
// out, RFC 1122 §4.2.3.9) or ends the attempt at once (a hard error, such
// as EACCES for ICMPv6 administratively prohibited), ctx.Err() when ctx
// ends first (the attempt is then abandoned), net.ErrClosed after
// Stack.Close, or an address error.
func (s *Stack) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := s.dial(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (s *Stack) dial(ctx context.Context, network, address string) (*Conn, error) {
	remote, err := parseAddr(network, address, false)
	if err != nil {
		return nil, opError("dial", netip.AddrPort{}, netip.AddrPort{}, err)
	}
	if a := remote.Addr(); a.IsUnspecified() || a.IsMulticast() || remote.Port() == 0 {
		return nil, opError("dial", netip.AddrPort{}, remote, &net.AddrError{Err: "invalid destination", Addr: remote.String()})
	}
	if s.closed.Load() {
		return nil, opError("dial", netip.AddrPort{}, remote, net.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return nil, opError("dial", netip.AddrPort{}, remote, err)
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
	defer c.mu.Unlock()
	now := s.now()
	c.tcb.Connect(s.isn.ISN(c.key.local, c.key.remote, now), now)
	c.pollNow()
	// Every state change signals c.rd; nobody else waits on it yet.
	rd := waitChan(&c.rd)
	for {
		if c.tcb.Established() {
			return c, nil
		}
		if c.tcb.State() == tcp.StateClosed {
			err := c.tcb.Err()
			if err == nil || s.closed.Load() {
				err = net.ErrClosed // aborted by Stack.Close
			}
			return nil, c.opErr("dial", err)
		}
		c.mu.Unlock()
		select {
		case <-rd:
			c.mu.Lock()
		case <-ctx.Done():
			c.abort()
			c.mu.Lock()
			return nil, c.opErr("dial", ctx.Err())
		case <-s.done:
			c.mu.Lock()
			return nil, c.opErr("dial", net.ErrClosed)
		}
	}
}
