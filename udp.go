package synack

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"sync/atomic"

	"github.com/synack-go/synack/udp"
	"github.com/synack-go/synack/wire"
)

// isUDP reports whether network names UDP.
func isUDP(network string) bool {
	return network == "udp" || network == "udp4" || network == "udp6"
}

// checkUDPFamily reports an address that network ("udp4", "udp6") excludes.
func checkUDPFamily(network string, a netip.Addr) error {
	if !isUDP(network) {
		return net.UnknownNetworkError(network)
	}
	if !a.IsValid() || (network == "udp4" && !a.Is4()) || (network == "udp6" && !a.Is6()) {
		return &net.AddrError{Err: "address of the wrong family for " + network, Addr: a.String()}
	}
	return nil
}

// parseUDPAddr parses "ip:port" (or ":port" when listening) for a UDP
// network; an IPv4-mapped address becomes plain IPv4.
func parseUDPAddr(network, address string, listen bool) (netip.AddrPort, error) {
	if !isUDP(network) {
		return netip.AddrPort{}, net.UnknownNetworkError(network)
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return netip.AddrPort{}, err
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return netip.AddrPort{}, errors.New("invalid port " + strconv.Quote(port))
	}
	var a netip.Addr
	if host == "" && listen {
		a = netip.IPv4Unspecified()
		if network == "udp6" {
			a = netip.IPv6Unspecified()
		}
	} else if a, err = netip.ParseAddr(host); err != nil || a.Zone() != "" {
		return netip.AddrPort{}, errors.New("not a literal IP address (synack resolves no names): " + strconv.Quote(host))
	}
	a = a.Unmap()
	return netip.AddrPortFrom(a, uint16(p)), checkUDPFamily(network, a)
}

// udpAddrPort converts a *net.UDPAddr (nil: none) to an AddrPort.
func udpAddrPort(a *net.UDPAddr) netip.AddrPort {
	if a == nil {
		return netip.AddrPort{}
	}
	ap := a.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// udpOpError wraps err as package net does for UDP.
func udpOpError(op string, local, remote netip.AddrPort, err error) error {
	e := &net.OpError{Op: op, Net: "udp", Err: err}
	if local.IsValid() {
		e.Source = net.UDPAddrFromAddrPort(local)
	}
	if remote.IsValid() {
		e.Addr = net.UDPAddrFromAddrPort(remote)
	}
	return e
}

// ListenPacket announces on a local UDP address; see ListenUDP. network is
// "udp", "udp4" or "udp6"; address is "ip:port" with a literal IP, or
// ":port". The result is a *UDPConn.
func (s *Stack) ListenPacket(network, address string) (net.PacketConn, error) {
	ap, err := parseUDPAddr(network, address, true)
	if err != nil {
		return nil, udpOpError("listen", netip.AddrPort{}, netip.AddrPort{}, err)
	}
	c, err := s.listenUDP(network, ap)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// ListenUDP opens an unconnected UDP socket on laddr, as net.ListenUDP
// does: a nil laddr, or one with an unspecified address, receives on every
// local address (of both families for "udp", of one for "udp4" and
// "udp6"); port 0 picks a free ephemeral port. It receives every datagram
// to its address and port that no connected socket takes. Errors are
// *net.OpError values wrapping syscall.EADDRINUSE, syscall.EADDRNOTAVAIL
// (not a local address), net.ErrClosed (Stack.Close) or an address error.
func (s *Stack) ListenUDP(network string, laddr *net.UDPAddr) (*UDPConn, error) {
	ap := udpAddrPort(laddr)
	if !ap.IsValid() {
		ap = netip.AddrPortFrom(netip.IPv4Unspecified(), ap.Port())
		if network == "udp6" {
			ap = netip.AddrPortFrom(netip.IPv6Unspecified(), ap.Port())
		}
	}
	if err := checkUDPFamily(network, ap.Addr()); err != nil {
		return nil, udpOpError("listen", netip.AddrPort{}, ap, err)
	}
	return s.listenUDP(network, ap)
}

func (s *Stack) listenUDP(network string, laddr netip.AddrPort) (*UDPConn, error) {
	a := laddr.Addr()
	keys := []netip.AddrPort{laddr}
	switch {
	case !a.IsUnspecified():
		if !s.isLocal(a) {
			return nil, udpOpError("listen", netip.AddrPort{}, laddr, errAddrNotAvail)
		}
	case network == "udp":
		keys = []netip.AddrPort{
			netip.AddrPortFrom(netip.IPv4Unspecified(), laddr.Port()),
			netip.AddrPortFrom(netip.IPv6Unspecified(), laddr.Port()),
		}
	}
	c := newUDPConn(s, laddr, netip.AddrPort{})
	keys, err := s.bindAll(wire.ProtoUDP, endpoint{u: c}, keys, &s.udpPortNext)
	if err != nil {
		if err == errAddrInUse && laddr.Port() == 0 {
			err = errNoPorts
		}
		return nil, udpOpError("listen", netip.AddrPort{}, laddr, err)
	}
	c.binds = keys
	c.laddr = netip.AddrPortFrom(a, keys[0].Port())
	if len(keys) > 1 && s.hasFamily6() {
		c.laddr = keys[1] // a dual-stack socket reports [::], as package net
	}
	return c, nil
}

// DialUDP opens a UDP socket connected to raddr, as net.DialUDP does: it
// sends to raddr only and receives only from it, from laddr (nil or an
// unspecified address: a local address of raddr's family, see
// Options.Addrs; port 0: a random ephemeral port, RFC 6056). No packet is
// sent. An ICMP error about its datagrams (port unreachable, ...) fails
// the next Read or Write once, as on Linux: syscall.ECONNREFUSED for port
// unreachable. Errors are those of ListenUDP, and an address error for a
// nil or invalid raddr.
func (s *Stack) DialUDP(network string, laddr, raddr *net.UDPAddr) (*UDPConn, error) {
	return s.dialUDPAddr(network, udpAddrPort(laddr), udpAddrPort(raddr))
}

func (s *Stack) dialUDP(ctx context.Context, network, address string) (net.Conn, error) {
	remote, err := parseUDPAddr(network, address, false)
	if err != nil {
		return nil, udpOpError("dial", netip.AddrPort{}, netip.AddrPort{}, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, udpOpError("dial", netip.AddrPort{}, remote, err)
	}
	c, err := s.dialUDPAddr(network, netip.AddrPort{}, remote)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (s *Stack) dialUDPAddr(network string, laddr, remote netip.AddrPort) (*UDPConn, error) {
	ra := remote.Addr()
	if !ra.IsValid() || ra.IsUnspecified() || ra.IsMulticast() || remote.Port() == 0 {
		return nil, udpOpError("dial", netip.AddrPort{}, remote, &net.AddrError{Err: "invalid destination", Addr: remote.String()})
	}
	if err := checkUDPFamily(network, ra); err != nil {
		return nil, udpOpError("dial", netip.AddrPort{}, remote, err)
	}
	local := laddr.Addr()
	if !local.IsValid() || local.IsUnspecified() {
		var ok bool
		if local, ok = s.localFor(ra); !ok {
			return nil, udpOpError("dial", netip.AddrPort{}, remote, errNoAddr)
		}
	} else if !s.isLocal(local) || local.Is4() != ra.Is4() {
		return nil, udpOpError("dial", laddr, remote, errAddrNotAvail)
	}
	port := laddr.Port()
	taken := func(port uint16) bool { return s.flows.getUDP(flowKey{netip.AddrPortFrom(local, port), remote}) != nil }
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return nil, udpOpError("dial", netip.AddrPort{}, remote, net.ErrClosed)
	}
	if port == 0 {
		// RFC 6056 algorithm 3's F, as Dial's for TCP.
		offset := uint32(s.portHash.ISN(netip.AddrPortFrom(local, 0), remote, 0))
		var ok bool
		if port, ok = s.bind.PickPort(wire.ProtoUDP, remote, offset, &s.udpPortNext, taken); !ok {
			return nil, udpOpError("dial", netip.AddrPortFrom(local, 0), remote, errNoPorts)
		}
	}
	lap := netip.AddrPortFrom(local, port)
	c := newUDPConn(s, lap, remote)
	if !s.flows.insertUDP(flowKey{lap, remote}, c, s.closed.Load) {
		return nil, udpOpError("dial", lap, remote, errAddrInUse)
	}
	return c, nil
}

// UDPStats are a stack's UDP counters (Stats.UDP).
type UDPStats struct {
	DatagramsIn  uint64 // delivered to a socket or a forwarder
	DatagramsOut uint64 // sent, each counted once however many fragments it took
	Malformed    uint64 // a UDP header that does not parse, or a multicast or broadcast source
	Checksum     uint64 // a bad UDP checksum (or a zero one over IPv6, RFC 8200 §8.1)
	NoPort       uint64 // to a local port no socket has: answered with ICMP port unreachable when allowed
	NotForUs     uint64 // to an address not ours (no forwarder for any address), multicast or broadcast
	QueueDrops   uint64 // a socket's receive queue was full (Linux's RcvbufErrors)
	ICMPErrors   uint64 // ICMP errors given to a connected socket (hard errors only, as Linux)

	ForwardedFlows uint64 // flows handed to a forwarder
	ForwardDrops   uint64 // datagrams of new flows refused: the forwarder has MaxFlows
	IdleExpired    uint64 // forwarded flows closed by their idle timeout

	FragmentedOut uint64 // datagrams sent in fragments
	FragmentsOut  uint64 // fragments sent
}

// udpCounters are UDPStats as atomics.
type udpCounters struct {
	in, out, malformed, checksum, noPort, notForUs, queueDrops atomic.Uint64
	forwarded, forwardDrops, idleExpired, icmpErrors           atomic.Uint64
	fragmentsOut, fragmentedOut                                atomic.Uint64
}

// udpStats returns a snapshot of the stack's UDP counters.
func (s *Stack) udpStats() UDPStats {
	c := &s.udpCtr
	return UDPStats{
		DatagramsIn: c.in.Load(), DatagramsOut: c.out.Load(), Malformed: c.malformed.Load(),
		Checksum: c.checksum.Load(), NoPort: c.noPort.Load(), NotForUs: c.notForUs.Load(),
		QueueDrops: c.queueDrops.Load(), ICMPErrors: c.icmpErrors.Load(),
		ForwardedFlows: c.forwarded.Load(), ForwardDrops: c.forwardDrops.Load(), IdleExpired: c.idleExpired.Load(),
		FragmentedOut: c.fragmentedOut.Load(), FragmentsOut: c.fragmentsOut.Load(),
	}
}

// newUDPConn makes a socket (not yet in the table).
func newUDPConn(s *Stack, laddr, raddr netip.AddrPort) *UDPConn {
	return &UDPConn{s: s, laddr: laddr, raddr: raddr, q: udp.NewQueue(0, s.udpPool), heapIdx: -1}
}
