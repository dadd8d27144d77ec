package synack

import (
	"context"
	"net"
	"net/netip"
	"time"

	"github.com/synack-go/synack/tcp"
)

// Dial connects to address ("ip:port", with a literal IP: the stack does
// not resolve names) on network "tcp", "tcp4" or "tcp6", and returns a
// *Conn once the three-way handshake is done. It is DialContext without a
// deadline: a silent peer makes it wait for every SYN retransmission
// (about 127 s with the default tcp.Config.SynRetries) before it fails
// with ETIMEDOUT; use DialContext to bound the wait. Errors are those of
// DialContext.
func (s *Stack) Dial(network, address string) (net.Conn, error) {
	return s.DialContext(context.Background(), network, address)
}

// DialContext connects to address ("ip:port" with a literal IP) on network
// "tcp", "tcp4" or "tcp6" and returns a *Conn; on "udp", "udp4" or "udp6"
// it returns a connected *UDPConn (see DialUDP). It sends its SYN from a
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
	if isUDP(network) {
		return s.dialUDP(ctx, network, address) // udp.go
	}
	c, err := s.dial(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// DialAddrPort connects from laddr to raddr, as net.DialAddrPort does, and blocks
// like DialContext. A zero laddr, or one with port 0, takes a random
// ephemeral port; an unspecified or zero address takes a local address of
// raddr's family. A fixed port lets both ends dial each other at once and
// meet in a simultaneous open (RFC 9293 §3.5, Figure 8). Errors are those
// of DialContext, and an *net.OpError wrapping syscall.EADDRNOTAVAIL when
// laddr's address is not one of Options.Addrs, or syscall.EADDRINUSE when
// the 4-tuple is taken.
func (s *Stack) DialAddrPort(ctx context.Context, laddr, raddr netip.AddrPort) (*Conn, error) {
	return s.dialFrom(ctx, laddr, raddr, nil)
}

func (s *Stack) dial(ctx context.Context, network, address string) (*Conn, error) {
	remote, err := parseAddr(network, address, false)
	if err != nil {
		return nil, opError("dial", netip.AddrPort{}, netip.AddrPort{}, err)
	}
	return s.dialFrom(ctx, netip.AddrPort{}, remote, nil)
}

// dialFrom dials remote from laddr; cfg, when not nil, replaces the stack's
// tunables for the connection (DialAddrPortConfig).
func (s *Stack) dialFrom(ctx context.Context, laddr, remote netip.AddrPort, cfg *tcp.Config) (*Conn, error) {
	if a := remote.Addr(); !a.IsValid() || a.IsUnspecified() || a.IsMulticast() || remote.Port() == 0 {
		return nil, opError("dial", netip.AddrPort{}, remote, &net.AddrError{Err: "invalid destination", Addr: remote.String()})
	}
	remote = netip.AddrPortFrom(remote.Addr().Unmap(), remote.Port())
	if s.closed.Load() {
		return nil, opError("dial", netip.AddrPort{}, remote, net.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return nil, opError("dial", netip.AddrPort{}, remote, err)
	}
	local := laddr.Addr().Unmap()
	if !local.IsValid() || local.IsUnspecified() {
		var ok bool
		if local, ok = s.localFor(remote.Addr()); !ok {
			return nil, opError("dial", netip.AddrPort{}, remote, errNoAddr)
		}
	} else if !s.isLocal(local) || local.Is4() != remote.Addr().Is4() {
		return nil, opError("dial", laddr, remote, errAddrNotAvail)
	}
	var c *Conn
	var err error
	if laddr.Port() == 0 {
		c, err = s.bindEphemeral(local, remote)
	} else {
		c, err = s.bindFixed(netip.AddrPortFrom(local, laddr.Port()), remote)
	}
	if err != nil {
		return nil, opError("dial", netip.AddrPortFrom(local, laddr.Port()), remote, err)
	}
	s.ctr.active.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if cfg != nil {
		c.tcb.Reconfigure(cfg)
	}
	now := s.now()
	c.tcb.Connect(s.isn.ISN(c.key.local, c.key.remote, now), now)
	c.pollNow()
	if err := c.awaitEstablished(ctx, "dial"); err != nil {
		return nil, err
	}
	return c, nil
}

// awaitEstablished waits until the connection's handshake completes, for
// Dial and a forwarded request's Accept (c.mu held, released while it
// waits). It fails with the connection's error, ctx.Err() when ctx ends
// first (the attempt is then abandoned with a RST), or net.ErrClosed after
// Stack.Close; op names the operation in the error.
func (c *Conn) awaitEstablished(ctx context.Context, op string) error {
	s := c.s
	// Every state change signals c.rd; nobody else waits on it yet.
	rd := waitChan(&c.rd)
	for {
		if c.tcb.Established() {
			c.rd = nil // made for this wait; a Read makes its own when it waits
			return nil
		}
		if c.tcb.State() == tcp.StateClosed || c.gone {
			err := c.tcb.Err()
			if err == nil || s.closed.Load() {
				err = net.ErrClosed // aborted by Stack.Close
			}
			return c.opErr(op, err)
		}
		c.mu.Unlock()
		if s.clock != nil {
			if err := s.dialClockWait(ctx, rd); err != nil {
				if !s.closed.Load() {
					c.abort()
				}
				c.mu.Lock()
				return c.opErr(op, err)
			}
			c.mu.Lock()
			continue
		}
		select {
		case <-rd:
			c.mu.Lock()
		case <-ctx.Done():
			c.abort()
			c.mu.Lock()
			return c.opErr(op, ctx.Err())
		case <-s.done:
			c.mu.Lock()
			return c.opErr(op, net.ErrClosed)
		}
	}
}

// dialClockWait is the dial loop's wait on a Clock: until rd holds a token
// (taken), ctx ends or the stack closes. It returns nil, ctx.Err(),
// net.ErrClosed or the clock's own error. The context is polled: one that
// a goroutine of the clock cancels, or one on the clock's time (package
// sim makes them), ends the wait at once; a wall-clock context's deadline
// means nothing on a virtual clock.
func (s *Stack) dialClockWait(ctx context.Context, rd chan struct{}) error {
	err := s.clock.Wait(func() bool { return len(rd) > 0 || ctx.Err() != nil || s.closed.Load() }, time.Time{})
	switch {
	case err != nil:
		return err
	case len(rd) > 0:
		<-rd
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return net.ErrClosed
}
