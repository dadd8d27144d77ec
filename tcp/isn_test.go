package tcp

import (
	"net/netip"
	"testing"
	"time"
)

// The first vectors of the SipHash paper's Appendix A (key 00..0f,
// message 00..(n-1)).
func TestSipHashVectors(t *testing.T) {
	var key [16]byte
	for i := range key {
		key[i] = byte(i)
	}
	g := NewISNGenerator(key)
	want := []uint64{0x726fdb47dd0e0e31, 0x74f839c593dc67fd, 0x0d6c8009d9a94f5a, 0x85676696d7fb7e2d}
	msg := make([]byte, 0, 16)
	for i, w := range want {
		if got := sipHash24(g.k0, g.k1, msg); got != w {
			t.Errorf("len %d: %#x, want %#x", i, got, w)
		}
		msg = append(msg, byte(i))
	}
}

// RFC 6528: ISNs differ per 4-tuple and per key, and grow with the 4 µs
// clock for a fixed tuple.
func TestISN(t *testing.T) {
	l := netip.MustParseAddrPort("10.0.0.1:40000")
	r := netip.MustParseAddrPort("10.0.0.2:80")
	g1 := NewISNGenerator([16]byte{1})
	g2 := NewISNGenerator([16]byte{2})
	if g1.ISN(l, r, 0) == g2.ISN(l, r, 0) {
		t.Error("two keys give the same ISN")
	}
	if g1.ISN(l, r, 0) == g1.ISN(l, netip.MustParseAddrPort("10.0.0.2:81"), 0) {
		t.Error("two tuples give the same ISN")
	}
	if d := g1.ISN(l, r, time.Millisecond).Sub(g1.ISN(l, r, 0)); d != 250 {
		t.Errorf("1 ms later the ISN moved by %d, want 250", d)
	}
	if n := testing.AllocsPerRun(100, func() { g1.ISN(l, r, 0) }); n != 0 {
		t.Errorf("%v allocs", n)
	}
}
