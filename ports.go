package synack

import "net/netip"

// The ephemeral port range: RFC 6056 §2.1 and Linux's default
// ip_local_port_range.
const (
	ephemeralMin = 32768
	ephemeralMax = 60999
)

// bindEphemeral picks a source port for a connection from local to remote
// with RFC 6056 §3.3.3's algorithm 3 (a keyed hash of the endpoints plus a
// global counter), skipping 4-tuples in use and listening ports, and
// registers a new Conn under it.
func (s *Stack) bindEphemeral(local netip.Addr, remote netip.AddrPort) (*Conn, error) {
	const n = ephemeralMax - ephemeralMin + 1
	// F(local, remote, secret) of algorithm 3: the ISN hash with the port
	// key and no clock.
	offset := uint32(s.portHash.ISN(netip.AddrPortFrom(local, 0), remote, 0))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return nil, errNoPorts
	}
	for i := uint32(0); i < n; i++ {
		port := uint16(ephemeralMin + (offset+s.portNext+i)%n)
		key := flowKey{netip.AddrPortFrom(local, port), remote}
		if _, used := s.conns[key]; used || s.listeningOn(port) {
			continue
		}
		s.portNext += i + 1
		c := newConn(s, key)
		s.conns[key] = c
		return c, nil
	}
	return nil, errNoPorts
}

// listeningOn reports whether any listener holds port (s.mu held).
func (s *Stack) listeningOn(port uint16) bool {
	for ap := range s.listeners {
		if ap.Port() == port {
			return true
		}
	}
	return false
}

// freeListenPort finds an ephemeral port for a listener (s.mu held).
func (s *Stack) freeListenPort(a netip.Addr) (uint16, bool) {
	for i := uint32(0); i < ephemeralMax-ephemeralMin+1; i++ {
		port := uint16(ephemeralMin + (s.portNext+i)%(ephemeralMax-ephemeralMin+1))
		if !s.listeningOn(port) {
			s.portNext += i + 1
			return port, true
		}
	}
	return 0, false
}
