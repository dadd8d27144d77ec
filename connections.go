package synack

import (
	"net/netip"
	"slices"

	"github.com/synack-go/synack/tcp"
)

// ConnInfo describes one connection of a stack, as a line of `ss -ti` does.
type ConnInfo struct {
	// Local and Remote are the connection's addresses, seen from the stack.
	Local, Remote netip.AddrPort
	// Stats is the connection's state and counters: RTT, RTO, MSS,
	// windows, bytes and segments, retransmissions, drops.
	Stats tcp.Stats
}

// Connections returns a description of every connection in the stack's
// flow table; see AppendConnections.
func (s *Stack) Connections() []ConnInfo { return s.AppendConnections(nil) }

// AppendConnections appends a description of every connection in the
// stack's flow table to dst, sorted by local then remote address, and
// returns the extended slice. That is every connection with a TCB, in any
// state from SYN_SENT and SYN_RECV (a half-open connection in a listener's
// SYN queue) to TIME_WAIT; listeners are not connections, and a SYN cookie
// handshake keeps no state until its ACK. It allocates only to grow dst: a
// caller that passes the previous listing's slice back, cut to length 0,
// lists without allocating. Each connection is read under its own lock, so
// the listing is not one instant's picture of the whole table; a
// connection that closes meanwhile is left out. It is safe for concurrent
// use, also after Close (the list is then empty).
func (s *Stack) AppendConnections(dst []ConnInfo) []ConnInfo {
	start := len(dst)
	// The keys first, under the table's locks; then each connection under
	// its own, which must not be taken inside the table's (publishState takes
	// them in the other order).
	for i := range s.flows.shards {
		sh := &s.flows.shards[i]
		sh.mu.RLock()
		for _, c := range sh.tcp {
			dst = append(dst, ConnInfo{Local: c.key.local, Remote: c.key.remote})
		}
		sh.mu.RUnlock()
	}
	tws := len(dst)
	dst = s.appendTimeWait(dst)
	out := dst[:start]
	for j, ci := range dst[start:] {
		if start+j >= tws {
			out = append(out, ci) // in TIME_WAIT: no Conn to lock
			continue
		}
		c := s.lookup(flowKey{ci.Local, ci.Remote})
		if c == nil {
			continue
		}
		c.mu.Lock()
		if !c.gone {
			ci.Stats = c.tcb.Stats()
			out = append(out, ci) // never passes the entry being read
		}
		c.mu.Unlock()
	}
	clear(dst[len(out):]) // what closed meanwhile
	slices.SortFunc(out[start:], func(a, b ConnInfo) int {
		if c := a.Local.Compare(b.Local); c != 0 {
			return c
		}
		return a.Remote.Compare(b.Remote)
	})
	return out
}
