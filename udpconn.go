package synack

import (
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/synack-go/synack/udp"
	"github.com/synack-go/synack/wire"
)

// UDPConn is a UDP socket (RFC 768): a net.PacketConn, and for a connected
// socket (DialUDP, a forwarder's flow) a net.Conn too, with the extras of
// *net.UDPConn (ReadFromUDPAddrPort, WriteToUDPAddrPort, SetReadBuffer).
// Datagrams wait in a receive queue bounded in bytes (SetReadBuffer; 208
// KiB by default, as Linux's rmem_default); when it is full, arriving
// datagrams are dropped and counted (UDPStats.QueueDrops). It is safe for
// concurrent use; concurrent reads run one at a time, each getting a whole
// datagram.
//
// Errors are package net's: *net.OpError values wrapping net.ErrClosed
// after Close or Stack.Close, os.ErrDeadlineExceeded at a deadline,
// syscall.EMSGSIZE for a datagram too long for IP, and on a connected
// socket the errno of an ICMP error about its datagrams (ECONNREFUSED for
// port unreachable), returned once by the next Read or Write, as Linux
// does.
type UDPConn struct {
	s     *Stack
	laddr netip.AddrPort   // bound address; a forwarded flow's original destination
	raddr netip.AddrPort   // the peer of a connected socket, zero otherwise
	binds []netip.AddrPort // an unconnected socket's table entries
	fwd   *UDPForwarder    // set for a forwarded flow

	rmu    sync.Mutex  // serializes reads; guards rtimer
	rtimer *time.Timer // read deadline timer, made on first use

	mu       sync.Mutex // guards the fields below
	q        udp.Queue
	rd       chan struct{} // capacity 1: "look again" for a waiting read
	rdl, wdl deadline      // 0 = none
	closed   bool
	err      error    // a pending ICMP error (connected sockets), reported once
	idle     udp.Idle // a forwarded flow's idle timer
	heapIdx  int      // position in the expiry heap, -1: none; guarded by the expiry's lock
	heapAt   time.Duration
}

// deliver queues a datagram from from to to (the read loop's side).
func (c *UDPConn) deliver(from, to netip.AddrPort, data []byte, now time.Duration) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	ok := c.q.Push(udp.Datagram{From: from, To: to}, data)
	if c.fwd != nil {
		c.idle.Received(now)
	}
	ch := c.rd
	c.mu.Unlock()
	if !ok {
		c.s.udpCtr.queueDrops.Add(1)
		return
	}
	c.s.udpCtr.in.Add(1)
	signal(ch)
}

// icmpError records an ICMP error for the next Read or Write.
func (c *UDPConn) icmpError(errno syscall.Errno) {
	c.mu.Lock()
	c.err = errno
	ch := c.rd
	c.mu.Unlock()
	signal(ch)
}

// ReadFromUDPAddrPort reads one datagram into b and returns its length and
// sender. A datagram longer than b is cut to len(b), the rest discarded,
// as recvfrom does. It blocks until a datagram arrives, the read deadline
// passes or the socket closes.
func (c *UDPConn) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	n, d, err := c.read(b)
	return n, d.From, err
}

// ReadFromUDP is ReadFromUDPAddrPort with a *net.UDPAddr.
func (c *UDPConn) ReadFromUDP(b []byte) (int, *net.UDPAddr, error) {
	n, d, err := c.read(b)
	if err != nil {
		return n, nil, err
	}
	return n, net.UDPAddrFromAddrPort(d.From), nil
}

// ReadFrom implements net.PacketConn; the address is a *net.UDPAddr.
func (c *UDPConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, d, err := c.read(b)
	if err != nil {
		return n, nil, err
	}
	return n, net.UDPAddrFromAddrPort(d.From), nil
}

// Read implements net.Conn: ReadFrom without the sender.
func (c *UDPConn) Read(b []byte) (int, error) {
	n, _, err := c.read(b)
	return n, err
}

func (c *UDPConn) read(b []byte) (int, udp.Datagram, error) {
	if c.s.clock == nil {
		c.rmu.Lock()
	} else if err := c.s.clockLock(&c.rmu); err != nil {
		return 0, udp.Datagram{}, c.opErr("read", err)
	}
	defer c.rmu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if c.closed || c.s.closed.Load() {
			return 0, udp.Datagram{}, c.opErr("read", net.ErrClosed)
		}
		if c.s.expired(c.rdl) {
			return 0, udp.Datagram{}, c.opErr("read", os.ErrDeadlineExceeded)
		}
		if err := c.err; err != nil {
			c.err = nil
			return 0, udp.Datagram{}, c.opErr("read", err)
		}
		if d, n, _, ok := c.q.Pop(b); ok {
			if c.q.Len() > 0 {
				signal(c.rd) // for the next reader
			}
			return n, d, nil
		}
		ch, dl := waitChan(&c.rd), c.rdl
		c.mu.Unlock()
		err := c.s.waitToken(ch, dl, &c.rtimer)
		c.mu.Lock()
		if err != nil {
			return 0, udp.Datagram{}, c.opErr("read", err)
		}
	}
}

// WriteToUDPAddrPort sends b as one datagram to addr, from the socket's
// address (for an unspecified one, the local address of addr's family
// Dial would pick). A datagram larger than the link MTU leaves in
// fragments (RFC 791 §3.2 without Don't Fragment, RFC 8200 §4.5); more than
// IP can carry (65507 bytes over IPv4, 65527 over IPv6) fails with
// syscall.EMSGSIZE. A connected socket fails with net.ErrWriteToConnected,
// as package net does. Writes never block: the link drops what it cannot
// carry.
func (c *UDPConn) WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	if c.raddr.IsValid() {
		return 0, c.opErr("write", net.ErrWriteToConnected)
	}
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	return c.write(b, addr)
}

// WriteToUDP is WriteToUDPAddrPort with a *net.UDPAddr.
func (c *UDPConn) WriteToUDP(b []byte, addr *net.UDPAddr) (int, error) {
	if addr == nil {
		return 0, c.opErr("write", syscall.EDESTADDRREQ)
	}
	return c.WriteToUDPAddrPort(b, udpAddrPort(addr))
}

// WriteTo implements net.PacketConn; addr must be a *net.UDPAddr
// (syscall.EINVAL otherwise, as package net).
func (c *UDPConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	a, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, udpOpError("write", c.laddr, netip.AddrPort{}, syscall.EINVAL)
	}
	return c.WriteToUDP(b, a)
}

// Write implements net.Conn for a connected socket: b goes to the peer as
// one datagram. An unconnected socket fails with syscall.EDESTADDRREQ.
func (c *UDPConn) Write(b []byte) (int, error) {
	if !c.raddr.IsValid() {
		return 0, c.opErr("write", syscall.EDESTADDRREQ)
	}
	return c.write(b, c.raddr)
}

func (c *UDPConn) write(b []byte, to netip.AddrPort) (int, error) {
	s := c.s
	c.mu.Lock()
	switch {
	case c.closed || s.closed.Load():
		c.mu.Unlock()
		return 0, c.opErrTo("write", to, net.ErrClosed)
	case c.s.expired(c.wdl):
		c.mu.Unlock()
		return 0, c.opErrTo("write", to, os.ErrDeadlineExceeded)
	case c.err != nil:
		err := c.err
		c.err = nil
		c.mu.Unlock()
		return 0, c.opErrTo("write", to, err)
	}
	if c.fwd != nil {
		c.idle.Sent(s.now())
	}
	c.mu.Unlock()
	ta := to.Addr()
	if !ta.IsValid() || ta.IsUnspecified() || to.Port() == 0 {
		return 0, c.opErrTo("write", to, &net.AddrError{Err: "invalid destination", Addr: to.String()})
	}
	src := c.laddr.Addr()
	if src.IsUnspecified() {
		var ok bool
		if src, ok = s.localFor(ta); !ok {
			return 0, c.opErrTo("write", to, errNoAddr)
		}
	} else if src.Is4() != ta.Is4() {
		return 0, c.opErrTo("write", to, &net.AddrError{Err: "address of the wrong family", Addr: to.String()})
	}
	if err := s.sendUDP(netip.AddrPortFrom(src, c.laddr.Port()), to, b); err != nil {
		return 0, c.opErrTo("write", to, err)
	}
	return len(b), nil
}

// Close closes the socket: blocked and later calls return net.ErrClosed,
// queued datagrams are dropped, and its address is free again. A second
// Close returns net.ErrClosed.
func (c *UDPConn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return c.opErr("close", net.ErrClosed)
	}
	c.close()
	c.mu.Unlock()
	return nil
}

// close marks c closed, empties its queue, wakes readers and takes it out
// of the table (c.mu held).
func (c *UDPConn) close() {
	c.closed = true
	c.q.Clear()
	signal(c.rd)
	s := c.s
	if c.raddr.IsValid() {
		s.flows.removeUDP(flowKey{c.laddr, c.raddr}, c)
	}
	if len(c.binds) > 0 {
		s.unbindAll(wire.ProtoUDP, endpoint{u: c}, c.binds)
	}
	if c.fwd != nil {
		c.fwd.flows.Add(-1)
		s.udpExpiry.remove(c)
	}
}

// LocalAddr returns the local address, a *net.UDPAddr: for a forwarded
// flow, the address the peer sent to.
func (c *UDPConn) LocalAddr() net.Addr { return net.UDPAddrFromAddrPort(c.laddr) }

// RemoteAddr returns the peer of a connected socket, a *net.UDPAddr, or nil
// for an unconnected one.
func (c *UDPConn) RemoteAddr() net.Addr {
	if !c.raddr.IsValid() {
		return nil
	}
	return net.UDPAddrFromAddrPort(c.raddr)
}

// SetDeadline sets the read and write deadlines, as net.Conn defines them.
func (c *UDPConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.rdl = c.s.deadlineAt(t)
	c.wdl = c.rdl
	signal(c.rd)
	c.mu.Unlock()
	return nil
}

// SetReadDeadline sets the read deadline: zero means none, a time already
// past fails reads at once, and a blocked read sees the change at once.
func (c *UDPConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.rdl = c.s.deadlineAt(t)
	signal(c.rd)
	c.mu.Unlock()
	return nil
}

// SetWriteDeadline sets the write deadline. Writes never block, so only a
// deadline already past matters: it fails them.
func (c *UDPConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.wdl = c.s.deadlineAt(t)
	c.mu.Unlock()
	return nil
}

// SetReadBuffer bounds the receive queue at bytes (<= 0: the default, 208
// KiB), counted as the memory the datagrams take. Datagrams already queued
// stay.
func (c *UDPConn) SetReadBuffer(bytes int) error {
	c.mu.Lock()
	c.q.SetLimit(bytes)
	c.mu.Unlock()
	return nil
}

func (c *UDPConn) opErr(op string, err error) error {
	return udpOpError(op, c.laddr, c.raddr, err)
}

func (c *UDPConn) opErrTo(op string, to netip.AddrPort, err error) error {
	return udpOpError(op, c.laddr, to, err)
}
