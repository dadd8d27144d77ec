package synack

import "net/netip"

// The ephemeral port range: RFC 6056 §2.1 suggests 1024–65535; we use
// Linux's default ip_local_port_range.
const (
	ephemeralMin = 32768
	ephemeralMax = 60999
	numEphemeral = ephemeralMax - ephemeralMin + 1
)

// bindEphemeral picks a source port for a connection from local to remote
// with RFC 6056 §3.3.3's algorithm 3 (a keyed hash of the endpoints plus a
// global counter), skipping 4-tuples in use and listening ports, and enters
// a new Conn under it in the flow table.
// https://www.rfc-editor.org/rfc/rfc6056#section-3.3.3
func (s *Stack) bindEphemeral(local netip.Addr, remote netip.AddrPort) (*Conn, error) {
	// F(local_IP, remote_IP, remote_port, secret_key): the keyed ISN hash
	// with the local port zeroed and no clock.
	offset := uint32(s.portHash.ISN(netip.AddrPortFrom(local, 0), remote, 0))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return nil, errClosed
	}
	if s.connCount() >= s.maxConns {
		return nil, errTooManyConns
	}
	for range numEphemeral {
		port := uint16(ephemeralMin + (offset+s.portNext)%numEphemeral)
		s.portNext++
		key := flowKey{netip.AddrPortFrom(local, port), remote}
		if s.listenPorts[port] > 0 || s.flows.used(key) || s.inTimeWait(key) {
			continue
		}
		// Still free: another Dial to remote holds s.mu, and a
		// passive open never takes an ephemeral port of ours.
		c := newConn(s, key)
		if !s.flows.insert(key, c, s.closed.Load) {
			continue
		}
		return c, nil
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

// freeListenPort finds an ephemeral port no listener uses, for a listener
// on port 0 (s.mu held).
func (s *Stack) freeListenPort() (uint16, bool) {
	for range numEphemeral {
		port := uint16(ephemeralMin + s.portNext%numEphemeral)
		s.portNext++
		if s.listenPorts[port] == 0 {
			return port, true
		}
	}
	return 0, false
}
