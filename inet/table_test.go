package inet

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/synack-go/synack/wire"
)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// TestTableLookupOrder checks Linux's order of specificity after the exact
// 4-tuple: the bound address, the wildcard, the forwarder; and that
// bindings catch only local destinations.
func TestTableLookupOrder(t *testing.T) {
	var tb Table[string]
	const udp = wire.ProtoUDP
	k := Key{Proto: udp, Local: ap("10.0.0.1:53"), Remote: ap("10.0.0.9:4000")}
	lookup := func(k Key, local bool) (string, Match) { return tb.Lookup(k, local) }
	if e, m := lookup(k, true); m != NoMatch || e != "" {
		t.Fatalf("empty table: %q %v", e, m)
	}
	tb.SetForwarder(udp, "fwd-local", false)
	if _, m := lookup(k, false); m != NoMatch {
		t.Fatal("a local-only forwarder caught a foreign destination")
	}
	tb.SetForwarder(udp, "fwd", true)
	for _, step := range []struct {
		do   func()
		want string
		m    Match
	}{
		{func() {}, "fwd", MatchForwarder},
		{func() { must(t, tb.Bind(udp, ap("0.0.0.0:53"), "any4")) }, "any4", MatchWildcard},
		{func() { must(t, tb.Bind(udp, ap("10.0.0.1:53"), "bound")) }, "bound", MatchBound},
	} {
		step.do()
		if e, m := lookup(k, true); e != step.want || m != step.m {
			t.Fatalf("got %q %v, want %q %v", e, m, step.want, step.m)
		}
	}
	// Not local: bindings do not catch it, the forwarder for any address
	// does.
	if e, m := lookup(k, false); e != "fwd" || m != MatchForwarder {
		t.Fatalf("foreign: %q %v", e, m)
	}
	// Other protocol, other family.
	if _, m := lookup(Key{Proto: wire.ProtoTCP, Local: k.Local, Remote: k.Remote}, true); m != NoMatch {
		t.Fatalf("TCP matched a UDP entry: %v", m)
	}
	if _, m := lookup(Key{Proto: udp, Local: ap("[fd00::1]:53"), Remote: ap("[fd00::9]:1")}, true); m != MatchForwarder {
		t.Fatalf("IPv6 matched the IPv4 wildcard: %v", m)
	}
	if !tb.ClearForwarder(udp, "fwd") || tb.ClearForwarder(udp, "fwd") {
		t.Fatal("ClearForwarder")
	}
	if _, m := lookup(k, false); m != NoMatch {
		t.Fatalf("after ClearForwarder: %v", m)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestTableConflictsAndRemoval(t *testing.T) {
	var tb Table[int]
	must(t, tb.Bind(wire.ProtoTCP, ap("0.0.0.0:80"), 3))
	if err := tb.Bind(wire.ProtoTCP, ap("0.0.0.0:80"), 4); !errors.Is(err, ErrInUse) {
		t.Fatalf("second Bind = %v", err)
	}
	must(t, tb.Bind(wire.ProtoTCP, ap("10.0.0.1:80"), 6)) // a more specific address
	must(t, tb.Bind(wire.ProtoUDP, ap("0.0.0.0:80"), 5))  // another protocol's port space
	if tb.Unbind(wire.ProtoTCP, ap("0.0.0.0:80"), 9) {
		t.Fatal("removed an entry another endpoint holds")
	}
	if tb.Len() != 3 || !tb.PortBound(wire.ProtoTCP, 80) {
		t.Fatalf("Len = %d", tb.Len())
	}
	if !tb.Unbind(wire.ProtoTCP, ap("0.0.0.0:80"), 3) || !tb.PortBound(wire.ProtoTCP, 80) ||
		!tb.Unbind(wire.ProtoTCP, ap("10.0.0.1:80"), 6) || !tb.Unbind(wire.ProtoUDP, ap("0.0.0.0:80"), 5) {
		t.Fatal("removal failed")
	}
	if tb.Len() != 0 || len(tb.ports) != 0 || tb.PortBound(wire.ProtoTCP, 80) {
		t.Fatalf("left behind: %d entries, ports %v", tb.Len(), tb.ports)
	}
}

// TestTablePickPort: connected flows share a port across peers and avoid
// bound ports and the 4-tuples the caller says are taken; a binding needs
// a port no binding uses.
func TestTablePickPort(t *testing.T) {
	var tb Table[int]
	local := netip.MustParseAddr("10.0.0.1")
	peer := ap("10.0.0.2:443")
	flows := map[Key]bool{}
	takenBy := func(remote netip.AddrPort) func(uint16) bool {
		return func(p uint16) bool { return flows[Key{wire.ProtoTCP, netip.AddrPortFrom(local, p), remote}] }
	}
	var next uint32
	p, ok := tb.PickPort(wire.ProtoTCP, peer, 0, &next, takenBy(peer))
	if !ok || p != EphemeralMin {
		t.Fatalf("first port %d %v", p, ok)
	}
	flows[Key{wire.ProtoTCP, netip.AddrPortFrom(local, p), peer}] = true
	must(t, tb.Bind(wire.ProtoTCP, netip.AddrPortFrom(local, EphemeralMin+1), 2))
	next = 0
	// The same peer: the port is taken by the 4-tuple, the next by a binding.
	if p2, _ := tb.PickPort(wire.ProtoTCP, peer, 0, &next, takenBy(peer)); p2 != EphemeralMin+2 {
		t.Fatalf("same peer: %d", p2)
	}
	next = 0
	// Another peer may share the first port.
	other := ap("10.0.0.3:443")
	if p3, _ := tb.PickPort(wire.ProtoTCP, other, 0, &next, takenBy(other)); p3 != EphemeralMin {
		t.Fatalf("other peer: %d", p3)
	}
	next = 0
	// A binding avoids bindings.
	if p4, _ := tb.PickPort(wire.ProtoTCP, netip.AddrPort{}, 0, &next, nil); p4 != EphemeralMin {
		t.Fatalf("binding: %d", p4)
	}
	next = 1
	if p5, _ := tb.PickPort(wire.ProtoTCP, netip.AddrPort{}, 0, &next, nil); p5 != EphemeralMin+2 {
		t.Fatalf("binding past a bound port: %d", p5)
	}
	next = 1
	if p6, _ := tb.PickPort(wire.ProtoUDP, netip.AddrPort{}, 0, &next, nil); p6 != EphemeralMin+1 {
		t.Fatalf("UDP is another port space: %d", p6)
	}
}

func TestTableEach(t *testing.T) {
	var tb Table[int]
	must(t, tb.Bind(6, ap("10.0.0.1:1"), 1))
	must(t, tb.Bind(17, ap("10.0.0.1:3"), 2))
	sum := 0
	tb.Each(func(_ Key, e int) bool { sum += e; return true })
	if sum != 3 {
		t.Fatalf("Each saw %d", sum)
	}
}

func BenchmarkTableLookup(b *testing.B) {
	var tb Table[int]
	for i := range 100 {
		tb.Bind(6, netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(1000+i)), i)
	}
	tb.SetForwarder(6, -1, true)
	k := Key{Proto: 6, Local: ap("10.0.0.1:1077"), Remote: ap("10.1.0.1:77")}
	b.ReportAllocs()
	for b.Loop() {
		if _, m := tb.Lookup(k, true); m != MatchBound {
			b.Fatal(m)
		}
	}
}
