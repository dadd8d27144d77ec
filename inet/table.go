package inet

import (
	"errors"
	"net/netip"
)

// Key names a flow: its transport protocol and both endpoints, seen from
// this host (Local is where the packet went, Remote where it came from).
// A zero Remote names a bound, unconnected endpoint (a listener or an
// unconnected UDP socket).
type Key struct {
	Proto         uint8
	Local, Remote netip.AddrPort
}

// Match says which kind of entry a lookup found.
type Match uint8

const (
	// NoMatch: nothing owns the packet. For a local destination the
	// protocol answers (TCP with a RST, UDP with port unreachable); for
	// any other it is not for us.
	NoMatch Match = iota
	// MatchFlow: the exact 4-tuple, a connection or a connected socket:
	// the caller's flow table, not Table.
	MatchFlow
	// MatchBound: an endpoint bound to the destination address and port.
	MatchBound
	// MatchWildcard: an endpoint bound to the unspecified address of the
	// destination's family (0.0.0.0 or ::) and the port.
	MatchWildcard
	// MatchForwarder: the protocol's forwarder, for a flow no endpoint
	// owns.
	MatchForwarder
)

var matchNames = [...]string{"none", "flow", "bound", "wildcard", "forwarder"}

func (m Match) String() string {
	if int(m) < len(matchNames) {
		return matchNames[m]
	}
	return "Match(?)"
}

// ErrInUse is returned for a binding that is taken; the stack reports it
// as syscall.EADDRINUSE.
var ErrInUse = errors.New("inet: address in use")

// Table holds what catches the packets of flows that have no entry of
// their own: the endpoints bound to a local address and port (listeners,
// unconnected UDP sockets) and each protocol's forwarder. A packet's flow
// is looked up in Linux's order of specificity: the exact 4-tuple first,
// in the caller's flow table (Linux's established hash, which a stack
// shards so that its receive queues do not meet on one lock), then here:
// an endpoint bound to the local address and port, then one bound to the
// family's unspecified address and the port, then the protocol's
// forwarder. E is the stack's endpoint type; its zero value means "none".
//
// Bindings only catch packets to the stack's own addresses; a forwarder
// catches flows to any address if it was set with anyAddr (the
// transparent-proxy case), else to the stack's addresses only. Binding
// conflicts are by exact address: an endpoint bound to 10.0.0.1:53 and one
// bound to 0.0.0.0:53 coexist and the more specific wins, as with
// SO_REUSEADDR.
//
// A Table is not safe for concurrent use; the zero value is empty and ready.
type Table[E comparable] struct {
	bound map[Key]E // Remote zero
	ports map[portKey]int32
	fwd   []forwarder[E]
}

type portKey struct {
	proto uint8
	port  uint16
}

type forwarder[E comparable] struct {
	proto   uint8
	anyAddr bool
	e       E
}

// Len returns the number of bindings.
func (t *Table[E]) Len() int { return len(t.bound) }

// Lookup finds the endpoint for a packet of protocol k.Proto from k.Remote
// to k.Local that no flow owns; local says whether k.Local's address is
// one of the stack's.
func (t *Table[E]) Lookup(k Key, local bool) (E, Match) {
	if local {
		b := Key{Proto: k.Proto, Local: k.Local}
		if e, ok := t.bound[b]; ok {
			return e, MatchBound
		}
		b.Local = netip.AddrPortFrom(Unspecified(k.Local.Addr()), k.Local.Port())
		if e, ok := t.bound[b]; ok {
			return e, MatchWildcard
		}
	}
	for _, f := range t.fwd {
		if f.proto == k.Proto && (local || f.anyAddr) {
			return f.e, MatchForwarder
		}
	}
	var zero E
	return zero, NoMatch
}

// Bound returns the endpoint bound to exactly local for proto.
func (t *Table[E]) Bound(proto uint8, local netip.AddrPort) (E, bool) {
	e, ok := t.bound[Key{Proto: proto, Local: local}]
	return e, ok
}

// PortBound reports whether an endpoint of proto is bound to port on any
// address.
func (t *Table[E]) PortBound(proto uint8, port uint16) bool { return t.ports[portKey{proto, port}] > 0 }

// Bind enters e as the endpoint bound to local for proto (an unspecified
// address binds the wildcard of its family), or returns ErrInUse if that
// exact binding is taken.
func (t *Table[E]) Bind(proto uint8, local netip.AddrPort, e E) error {
	k := Key{Proto: proto, Local: local}
	if _, ok := t.bound[k]; ok {
		return ErrInUse
	}
	if t.bound == nil {
		t.bound = make(map[Key]E)
		t.ports = make(map[portKey]int32)
	}
	t.bound[k] = e
	t.ports[portKey{proto, local.Port()}]++
	return nil
}

// Unbind removes the binding of local for proto if e holds it, and reports
// whether it did.
func (t *Table[E]) Unbind(proto uint8, local netip.AddrPort, e E) bool {
	k := Key{Proto: proto, Local: local}
	if got, ok := t.bound[k]; !ok || got != e {
		return false
	}
	delete(t.bound, k)
	pk := portKey{proto, local.Port()}
	if t.ports[pk]--; t.ports[pk] == 0 {
		delete(t.ports, pk)
	}
	return true
}

// SetForwarder makes e the forwarder of proto: it gets the flows of that
// protocol that no endpoint owns, to any destination address if anyAddr,
// else to the stack's own addresses only. It replaces an earlier one.
func (t *Table[E]) SetForwarder(proto uint8, e E, anyAddr bool) {
	for i := range t.fwd {
		if t.fwd[i].proto == proto {
			t.fwd[i] = forwarder[E]{proto, anyAddr, e}
			return
		}
	}
	t.fwd = append(t.fwd, forwarder[E]{proto, anyAddr, e})
}

// ClearForwarder removes proto's forwarder if e is it, and reports whether
// it did.
func (t *Table[E]) ClearForwarder(proto uint8, e E) bool {
	for i, f := range t.fwd {
		if f.proto == proto && f.e == e {
			t.fwd = append(t.fwd[:i], t.fwd[i+1:]...)
			return true
		}
	}
	return false
}

// Forwarder returns proto's forwarder and whether it takes any address.
func (t *Table[E]) Forwarder(proto uint8) (e E, anyAddr, ok bool) {
	for _, f := range t.fwd {
		if f.proto == proto {
			return f.e, f.anyAddr, true
		}
	}
	return e, false, false
}

// Each calls fn for every binding (not the forwarders), in no particular
// order, until fn returns false. fn must not change the table.
func (t *Table[E]) Each(fn func(Key, E) bool) {
	for k, e := range t.bound {
		if !fn(k, e) {
			return
		}
	}
}

// The ephemeral port range: RFC 6056 §2.1 suggests 1024–65535; Linux's
// default ip_local_port_range is used, as package synack does for TCP.
const (
	EphemeralMin = 32768
	EphemeralMax = 60999
	numEphemeral = EphemeralMax - EphemeralMin + 1
)

// PickPort chooses a local port of proto in the ephemeral range with RFC
// 6056 §3.3.3's algorithm 3: the search starts at offset (the caller's
// keyed hash F of the endpoints) plus *next, a counter the caller keeps
// per protocol, which advances with every port tried.
//
// For a connected endpoint (remote valid) a port is free when no binding
// uses it and taken, the caller's look into its flows, says the 4-tuple
// (local, port, remote) is free: ports are shared among flows to
// different peers. For a binding (remote zero) a port is free when no
// binding of proto uses it on any address. It reports false when every
// port is taken.
// https://www.rfc-editor.org/rfc/rfc6056#section-3.3.3
func (t *Table[E]) PickPort(proto uint8, remote netip.AddrPort, offset uint32, next *uint32, taken func(port uint16) bool) (uint16, bool) {
	for range numEphemeral {
		port := uint16(EphemeralMin + (offset+*next)%numEphemeral)
		*next++
		if t.PortBound(proto, port) || remote.IsValid() && taken != nil && taken(port) {
			continue
		}
		return port, true
	}
	return 0, false
}

// Unspecified returns the unspecified address of a's family: 0.0.0.0 for
// IPv4, :: otherwise.
func Unspecified(a netip.Addr) netip.Addr {
	if a.Is4() {
		return netip.IPv4Unspecified()
	}
	return netip.IPv6Unspecified()
}
