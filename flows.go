package synack

import (
	"net"
	"net/netip"
)

// flowKey names a connection by its 4-tuple, seen from this stack.
type flowKey struct{ local, remote netip.AddrPort }

// register adds c to the flow table. It fails if the 4-tuple is taken or
// the stack is closing.
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

// listenerFor finds the listener for a local address: one bound to it, else
// one bound to the unspecified address of its family (a "tcp" listener on
// an unspecified address is entered under both families).
func (s *Stack) listenerFor(local netip.AddrPort) *Listener {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if l := s.listeners[local]; l != nil {
		return l
	}
	return s.listeners[netip.AddrPortFrom(unspecified(local.Addr()), local.Port())]
}

func unspecified(a netip.Addr) netip.Addr {
	if a.Is4() {
		return netip.IPv4Unspecified()
	}
	return netip.IPv6Unspecified()
}

// addListener enters l under each of keys, or fails with EADDRINUSE if one
// is taken. A zero port is replaced by a free ephemeral one first.
func (s *Stack) addListener(l *Listener, keys []netip.AddrPort) ([]netip.AddrPort, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return nil, net.ErrClosed
	}
	if keys[0].Port() == 0 {
		p, ok := s.freeListenPort()
		if !ok {
			return nil, errAddrInUse
		}
		for i, k := range keys {
			keys[i] = netip.AddrPortFrom(k.Addr(), p)
		}
	}
	for _, k := range keys {
		if s.listeners[k] != nil {
			return nil, errAddrInUse
		}
	}
	for _, k := range keys {
		s.listeners[k] = l
		s.listenPorts[k.Port()]++
	}
	return keys, nil
}

// removeListener deletes l's entries.
func (s *Stack) removeListener(l *Listener) {
	s.mu.Lock()
	for _, k := range l.keys {
		if s.listeners[k] == l {
			delete(s.listeners, k)
			if s.listenPorts[k.Port()]--; s.listenPorts[k.Port()] == 0 {
				delete(s.listenPorts, k.Port())
			}
		}
	}
	s.mu.Unlock()
}
