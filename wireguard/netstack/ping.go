package netstack

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/synack-go/synack/wire"
)

// Ping sockets. The stack itself answers echo requests to its addresses;
// what it lacks is a client, so the client lives here, at the device: a
// PingConn writes echo requests straight to the device's outbound queue
// and the device hands it the echo replies addressed to it before the
// stack sees them (it would drop them). Like Linux's ping sockets
// (SOCK_DGRAM, IPPROTO_ICMP) and gVisor's, which wireguard-go's netstack
// uses, a socket owns an echo identifier: the identifier of every request
// it writes is replaced with its own, and it receives the replies that
// carry it (RFC 792, RFC 4443 §4.1-4.2).

// pingQueueLen bounds the replies a PingConn holds unread; more are
// dropped, as a socket's receive buffer drops datagrams.
const pingQueueLen = 64

// PingAddr is the address of a ping socket's peer or its own: an IP
// address without a port.
type PingAddr struct{ addr netip.Addr }

// PingAddrFromAddr returns a *PingAddr holding addr.
func PingAddrFromAddr(addr netip.Addr) *PingAddr { return &PingAddr{addr} }

// String returns the address in its usual form.
func (a PingAddr) String() string { return a.addr.String() }

// Network returns "ping4" for an IPv4 address, "ping6" for IPv6 and
// "ping" for the zero PingAddr.
func (a PingAddr) Network() string {
	switch {
	case a.addr.Is4():
		return "ping4"
	case a.addr.Is6():
		return "ping6"
	}
	return "ping"
}

// Addr returns the address.
func (a PingAddr) Addr() netip.Addr { return a.addr }

// pingTable is the device's set of open ping sockets, by family and
// echo identifier.
type pingTable struct {
	out   *queue       // the device's outbound queue, where requests go
	mtu   int          // the largest packet out may carry
	addrs []netip.Addr // the stack's addresses
	count atomic.Int32 // open sockets: Write looks only while there are some

	replies atomic.Uint64 // echo replies taken for a socket

	mu    sync.Mutex
	socks map[pingKey]*PingConn
}

type pingKey struct {
	v6    bool
	ident uint16
}

func newPingTable(out *queue, mtu int, addrs []netip.Addr) *pingTable {
	return &pingTable{out: out, mtu: mtu, addrs: addrs, socks: make(map[pingKey]*PingConn)}
}

// open reports whether any ping socket is open.
func (t *pingTable) open() bool { return t.count.Load() > 0 }

// local returns the stack's first address of the family of a (IPv6 if v6).
func (t *pingTable) local(v6 bool) (netip.Addr, bool) {
	for _, a := range t.addrs {
		if a.Is6() == v6 {
			return a, true
		}
	}
	return netip.Addr{}, false
}

func (t *pingTable) isLocal(a netip.Addr) bool {
	for _, l := range t.addrs {
		if l == a {
			return true
		}
	}
	return false
}

// add registers c under a random identifier no open socket of its family
// holds.
func (t *pingTable) add(c *PingConn) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.socks == nil {
		return net.ErrClosed
	}
	var b [2]byte
	for range 64 {
		if _, err := rand.Read(b[:]); err != nil {
			return err
		}
		k := pingKey{c.v6, binary.BigEndian.Uint16(b[:])}
		if _, taken := t.socks[k]; !taken {
			c.ident = k.ident
			t.socks[k] = c
			t.count.Add(1)
			return nil
		}
	}
	return errors.New("ping: no free echo identifier")
}

func (t *pingTable) remove(c *PingConn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := pingKey{c.v6, c.ident}
	if t.socks[k] == c {
		delete(t.socks, k)
		t.count.Add(-1)
	}
}

// closeAll closes every socket; later ones fail to open.
func (t *pingTable) closeAll() {
	t.mu.Lock()
	socks := t.socks
	t.socks = nil
	t.mu.Unlock()
	for _, c := range socks {
		c.Close()
	}
}

// deliver gives the IP packet p to the ping socket it is an echo reply
// for, and reports whether it did. Anything else, malformed packets
// included, is left to the stack, which counts what it drops.
func (t *pingTable) deliver(p []byte) bool {
	// A look at two bytes first: most packets are not ICMP.
	switch {
	case len(p) >= 20 && p[0]>>4 == 4 && p[9] == wire.ProtoICMPv4:
	case len(p) >= 40 && p[0]>>4 == 6:
	default:
		return false
	}
	var ip wire.IPPacket
	if wire.ParseIP(p, &ip) != nil || !t.isLocal(ip.Dst) {
		return false
	}
	var m wire.ICMPMessage
	v6 := ip.Dst.Is6()
	switch {
	case !v6 && ip.Protocol == wire.ProtoICMPv4:
		b := wire.ICMPv4(ip.Payload)
		if m.ParseV4(b) != nil || m.Type != wire.ICMPv4EchoReply || !b.VerifyChecksum() {
			return false
		}
	case v6 && ip.Protocol == wire.ProtoICMPv6:
		b := wire.ICMPv6(ip.Payload)
		if m.ParseV6(b) != nil || m.Type != wire.ICMPv6EchoReply || !b.VerifyChecksum(ip.Src, ip.Dst) {
			return false
		}
	default:
		return false
	}
	t.mu.Lock()
	c := t.socks[pingKey{v6, m.Ident}]
	t.mu.Unlock()
	if c == nil || !c.receive(ip.Src, ip.Payload) {
		return false
	}
	t.replies.Add(1)
	return true
}

// PingConn is a ping socket: it sends ICMP echo requests through the
// tunnel and receives the replies, as wireguard-go's netstack PingConn
// does. Write and WriteTo take an ICMP echo request message (type, code,
// checksum, identifier, sequence number, data: what golang.org/x/net/icmp
// marshals); the identifier is replaced with the socket's own and the
// checksum computed. Read and ReadFrom return the reply's ICMP message.
// It is safe for concurrent use.
type PingConn struct {
	t            *pingTable
	laddr, raddr PingAddr
	v6           bool
	ident        uint16

	mu       sync.Mutex
	queue    []pingReply
	deadline time.Time
	closed   bool
	wake     chan struct{} // capacity 1: a reply arrived, the deadline moved or the socket closed
}

type pingReply struct {
	from netip.Addr
	msg  []byte
}

// DialPingAddr opens a ping socket from laddr to raddr, either of which
// may be the zero Addr: a zero laddr sends from the stack's address of
// raddr's family; a zero raddr leaves the socket unconnected (WriteTo
// only). It fails if both are zero, if laddr is not one of the stack's
// addresses, or if the stack has no address of the family.
func (n *Net) DialPingAddr(laddr, raddr netip.Addr) (*PingConn, error) {
	if !laddr.IsValid() && !raddr.IsValid() {
		return nil, errors.New("ping dial: invalid address")
	}
	v6 := laddr.Is6() || raddr.Is6()
	if laddr.IsValid() && raddr.IsValid() && laddr.Is6() != raddr.Is6() {
		return nil, errors.New("ping dial: mismatched protocols")
	}
	if laddr.IsValid() && !laddr.IsUnspecified() && !n.dev.pings.isLocal(laddr) {
		return nil, &net.OpError{Op: "dial", Net: PingAddr{laddr}.Network(), Source: PingAddr{laddr}, Err: errAddrNotAvail}
	}
	if _, ok := n.dev.pings.local(v6); !ok {
		return nil, &net.OpError{Op: "dial", Net: PingAddr{raddr}.Network(), Err: errNoAddr}
	}
	if !laddr.IsValid() {
		laddr = netip.IPv4Unspecified()
		if v6 {
			laddr = netip.IPv6Unspecified()
		}
	}
	c := &PingConn{t: n.dev.pings, laddr: PingAddr{laddr}, raddr: PingAddr{raddr}, v6: v6, wake: make(chan struct{}, 1)}
	if err := n.dev.pings.add(c); err != nil {
		return nil, fmt.Errorf("ping socket: %w", err)
	}
	return c, nil
}

// ListenPingAddr opens an unconnected ping socket on laddr; see
// DialPingAddr.
func (n *Net) ListenPingAddr(laddr netip.Addr) (*PingConn, error) {
	return n.DialPingAddr(laddr, netip.Addr{})
}

// DialPing is DialPingAddr with *PingAddr arguments (nil: the zero
// address).
func (n *Net) DialPing(laddr, raddr *PingAddr) (*PingConn, error) {
	var la, ra netip.Addr
	if laddr != nil {
		la = laddr.addr
	}
	if raddr != nil {
		ra = raddr.addr
	}
	return n.DialPingAddr(la, ra)
}

// ListenPing is ListenPingAddr with a *PingAddr (nil: the zero address).
func (n *Net) ListenPing(laddr *PingAddr) (*PingConn, error) {
	var la netip.Addr
	if laddr != nil {
		la = laddr.addr
	}
	return n.ListenPingAddr(la)
}

// LocalAddr returns the address the socket was opened on (unspecified if
// none was given).
func (c *PingConn) LocalAddr() net.Addr { return c.laddr }

// RemoteAddr returns the peer of a dialled socket, or the zero PingAddr.
func (c *PingConn) RemoteAddr() net.Addr { return c.raddr }

// receive queues the ICMP message msg from src, if the socket wants it.
func (c *PingConn) receive(src netip.Addr, msg []byte) bool {
	if c.raddr.addr.IsValid() && src != c.raddr.addr {
		return false
	}
	c.mu.Lock()
	if !c.closed && len(c.queue) < pingQueueLen {
		c.queue = append(c.queue, pingReply{src, append([]byte(nil), msg...)})
	}
	c.mu.Unlock()
	c.signal()
	return true
}

func (c *PingConn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Close closes the socket; blocked and later reads return net.ErrClosed.
func (c *PingConn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.queue = nil
	c.mu.Unlock()
	c.t.remove(c)
	c.signal()
	return nil
}

// SetDeadline sets the read deadline; writes never wait.
func (c *PingConn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

// SetReadDeadline sets the time after which a waiting or later read fails
// with os.ErrDeadlineExceeded; zero means none.
func (c *PingConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	c.signal()
	return nil
}

// SetWriteDeadline does nothing and returns nil: a write queues its
// packet for the tunnel and never waits for the peer.
func (c *PingConn) SetWriteDeadline(t time.Time) error { return nil }

// ReadFrom waits for an echo reply and copies its ICMP message into p (a
// longer message is cut to len(p)); the address is a *PingAddr. Errors:
// os.ErrDeadlineExceeded, net.ErrClosed, each in a *net.OpError.
func (c *PingConn) ReadFrom(p []byte) (int, net.Addr, error) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		c.mu.Lock()
		switch {
		case c.closed:
			c.mu.Unlock()
			return 0, nil, c.opErr("read", net.ErrClosed)
		case len(c.queue) > 0:
			r := c.queue[0]
			c.queue[0] = pingReply{}
			c.queue = c.queue[1:]
			c.mu.Unlock()
			return copy(p, r.msg), &PingAddr{r.from}, nil
		}
		deadline := c.deadline
		c.mu.Unlock()
		var expired <-chan time.Time
		if !deadline.IsZero() {
			d := time.Until(deadline)
			if d <= 0 {
				return 0, nil, c.opErr("read", os.ErrDeadlineExceeded)
			}
			if timer == nil {
				timer = time.NewTimer(d)
			} else {
				timer.Reset(d)
			}
			expired = timer.C
		}
		select {
		case <-c.wake:
		case <-expired:
		}
	}
}

// Read is ReadFrom without the address.
func (c *PingConn) Read(p []byte) (int, error) {
	n, _, err := c.ReadFrom(p)
	return n, err
}

// WriteTo sends the ICMP echo request p to addr (a *PingAddr, PingAddr
// or *net.IPAddr of the socket's family) and returns len(p). It fails if
// p is not an echo request of the socket's family, if it does not fit the
// MTU, or after Close.
func (c *PingConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	var dst netip.Addr
	switch a := addr.(type) {
	case *PingAddr:
		if a != nil {
			dst = a.addr
		}
	case PingAddr:
		dst = a.addr
	case *net.IPAddr:
		if a != nil {
			dst, _ = netip.AddrFromSlice(a.IP)
			dst = dst.Unmap()
		}
	default:
		return 0, c.opErr("write", errors.New("wrong net.Addr type"))
	}
	if !dst.IsValid() || dst.Is6() != c.v6 {
		return 0, c.opErr("write", errors.New("mismatched protocols"))
	}
	want := uint8(wire.ICMPv4EchoRequest)
	if c.v6 {
		want = wire.ICMPv6EchoRequest
	}
	if len(p) < 8 || p[0] != want {
		return 0, c.opErr("write", errors.New("not an ICMP echo request"))
	}
	src := c.laddr.addr
	if src.IsUnspecified() {
		src, _ = c.t.local(c.v6) // checked at dial
	}
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return 0, c.opErr("write", net.ErrClosed)
	}
	hl := wire.IPHeaderLen(dst)
	pkt := make([]byte, hl+len(p))
	if len(pkt) > c.t.mtu {
		return 0, c.opErr("write", errMessageTooLong)
	}
	wire.PutIPHeader(pkt, src, dst, protoOf(c.v6), len(p), ipTTL)
	msg := pkt[hl:]
	copy(msg, p)
	binary.BigEndian.PutUint16(msg[4:], c.ident)
	msg[2], msg[3] = 0, 0
	if c.v6 {
		wire.ICMPv6(msg).SetChecksum(src, dst)
	} else {
		wire.ICMPv4(msg).SetChecksum()
	}
	if err := c.t.out.push([][]byte{pkt}, 0); err != nil {
		return 0, c.opErr("write", net.ErrClosed)
	}
	return len(p), nil
}

// Write sends p to the peer of a dialled socket; see WriteTo.
func (c *PingConn) Write(p []byte) (int, error) { return c.WriteTo(p, c.raddr) }

func (c *PingConn) opErr(op string, err error) error {
	e := &net.OpError{Op: op, Net: c.laddr.Network(), Source: c.laddr, Err: err}
	if c.raddr.addr.IsValid() {
		e.Addr = c.raddr
	}
	return e
}

func protoOf(v6 bool) uint8 {
	if v6 {
		return wire.ProtoICMPv6
	}
	return wire.ProtoICMPv4
}
