package synack

import (
	"net"
	"net/netip"
	"sync/atomic"

	"github.com/synack-go/synack/inet"
	"github.com/synack-go/synack/wire"
)

// flowKey names a connection by its 4-tuple, seen from this stack.
type flowKey struct{ local, remote netip.AddrPort }

// endpoint is what the stack's table of bindings and forwarders holds
// (Stack.bind, an inet.Table under Stack.mu): exactly one field is set.
// Flows with a 4-tuple of their own are in the sharded flow table.
type endpoint struct {
	l  *Listener     // a TCP listener (bound)
	u  *UDPConn      // an unconnected UDP socket (bound)
	tf *TCPForwarder // the TCP forwarder
	uf *UDPForwarder // the UDP forwarder
}

// The ephemeral port range: RFC 6056 §2.1 suggests 1024–65535; we use
// Linux's default ip_local_port_range.
const (
	ephemeralMin = inet.EphemeralMin
	ephemeralMax = inet.EphemeralMax
)

// register adds c to the flow table. It fails if the 4-tuple is taken,
// Options.MaxConns is reached or the stack is closing.
func (s *Stack) register(c *Conn) bool {
	if s.connCount() >= s.maxConns {
		return false
	}
	return s.flows.insert(c.key, c, s.closed.Load)
}

// unregister removes c from the flow table, which frees its 4-tuple (and
// so its ephemeral port).
func (s *Stack) unregister(c *Conn) { s.flows.remove(c) }

// connCount returns the number of connections in the flow table.
func (s *Stack) connCount() int { return int(s.flows.count.Load()) }

// lookup finds the connection of a 4-tuple.
func (s *Stack) lookup(k flowKey) *Conn { return s.flows.get(k) }

// bound finds what catches a packet of proto from key.remote to key.local
// that no flow owns: a binding (a listener, an unconnected UDP socket) for
// a local destination, else the protocol's forwarder (for any destination
// if it takes any address).
func (s *Stack) bound(proto uint8, key flowKey, local bool) (endpoint, inet.Match) {
	s.mu.RLock()
	e, m := s.bind.Lookup(inet.Key{Proto: proto, Local: key.local, Remote: key.remote}, local)
	s.mu.RUnlock()
	return e, m
}

// addListener enters l under each of keys, or fails with EADDRINUSE if one
// is taken. A zero port is replaced by a free ephemeral one first.
func (s *Stack) addListener(l *Listener, keys []netip.AddrPort) ([]netip.AddrPort, error) {
	return s.bindAll(wire.ProtoTCP, endpoint{l: l}, keys, &s.portNext)
}

// removeListener deletes l's entries.
func (s *Stack) removeListener(l *Listener) { s.unbindAll(wire.ProtoTCP, endpoint{l: l}, l.keys) }

// bindAll enters e under each of keys for proto, or fails with EADDRINUSE
// if one is taken (and enters none). A zero port is replaced by an
// ephemeral one no binding of proto uses, counted with *next.
func (s *Stack) bindAll(proto uint8, e endpoint, keys []netip.AddrPort, next *uint32) ([]netip.AddrPort, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return nil, net.ErrClosed
	}
	if keys[0].Port() == 0 {
		p, ok := s.bind.PickPort(proto, netip.AddrPort{}, 0, next, nil)
		if !ok {
			return nil, errAddrInUse
		}
		for i, k := range keys {
			keys[i] = netip.AddrPortFrom(k.Addr(), p)
		}
	}
	for i, k := range keys {
		if err := s.bind.Bind(proto, k, e); err != nil {
			for _, done := range keys[:i] {
				s.bind.Unbind(proto, done, e)
			}
			return nil, errAddrInUse
		}
	}
	return keys, nil
}

// unbindAll removes e's bindings.
func (s *Stack) unbindAll(proto uint8, e endpoint, keys []netip.AddrPort) {
	s.mu.Lock()
	for _, k := range keys {
		s.bind.Unbind(proto, k, e)
	}
	s.mu.Unlock()
}

// bindEphemeral picks a source port for a connection from local to remote
// with RFC 6056 §3.3.3's algorithm 3 (a keyed hash of the endpoints plus a
// global counter, inet.Table.PickPort), skipping 4-tuples in use or in
// TIME_WAIT and ports a listener has, and enters a new Conn under it in
// the flow table.
// https://www.rfc-editor.org/rfc/rfc6056#section-3.3.3
func (s *Stack) bindEphemeral(local netip.Addr, remote netip.AddrPort) (*Conn, error) {
	// F(local_IP, remote_IP, remote_port, secret_key): the keyed ISN hash
	// with the local port zeroed and no clock.
	offset := uint32(s.portHash.ISN(netip.AddrPortFrom(local, 0), remote, 0))
	taken := func(port uint16) bool {
		key := flowKey{netip.AddrPortFrom(local, port), remote}
		return s.flows.used(key) || s.inTimeWait(key)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return nil, errClosed
	}
	if s.connCount() >= s.maxConns {
		return nil, errTooManyConns
	}
	for range ephemeralMax - ephemeralMin + 1 {
		port, ok := s.bind.PickPort(wire.ProtoTCP, remote, offset, &s.portNext, taken)
		if !ok {
			break
		}
		// Still free: another Dial to remote holds s.mu, and only a
		// forwarded flow to our own address and that very port could
		// take it meanwhile.
		key := flowKey{netip.AddrPortFrom(local, port), remote}
		c := newConn(s, key)
		if s.flows.insert(key, c, s.closed.Load) {
			return c, nil
		}
	}
	return nil, errNoPorts
}

// bindFixed enters a new Conn for the 4-tuple (local, remote) in the flow
// table, or fails with EADDRINUSE if the 4-tuple is taken. Unlike an
// ephemeral port, a port the caller names may also be a listener's, as
// with SO_REUSEADDR: the 4-tuple tells the two apart.
func (s *Stack) bindFixed(local, remote netip.AddrPort) (*Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return nil, errClosed
	}
	key := flowKey{local, remote}
	if s.flows.used(key) || s.inTimeWait(key) {
		return nil, errAddrInUse
	}
	if s.connCount() >= s.maxConns {
		return nil, errTooManyConns
	}
	c := newConn(s, key)
	if !s.flows.insert(key, c, s.closed.Load) {
		return nil, errAddrInUse
	}
	return c, nil
}

// setForwarder makes e the forwarder of proto, for any destination if
// anyAddr (replacing an earlier one), or fails with net.ErrClosed after
// Stack.Close.
func (s *Stack) setForwarder(proto uint8, e endpoint, anyAddr bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return net.ErrClosed
	}
	s.bind.SetForwarder(proto, e, anyAddr)
	s.forwardsAny(proto).Store(anyAddr)
	return nil
}

// clearForwarder removes e if it is proto's forwarder.
func (s *Stack) clearForwarder(proto uint8, e endpoint) {
	s.mu.Lock()
	if s.bind.ClearForwarder(proto, e) {
		s.forwardsAny(proto).Store(false)
	}
	s.mu.Unlock()
}

// forwardsAny is the flag that says proto's forwarder takes any address.
func (s *Stack) forwardsAny(proto uint8) *atomic.Bool {
	if proto == wire.ProtoTCP {
		return &s.forwardsAnyTCP
	}
	return &s.forwardsAnyUDP
}
