package inet

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/synack-go/synack/wire"
)

var (
	src4 = netip.MustParseAddr("192.0.2.1")
	dst4 = netip.MustParseAddr("198.51.100.2")
	src6 = netip.MustParseAddr("2001:db8::1")
	dst6 = netip.MustParseAddr("2001:db8::2")
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

// udpPacket returns a whole IP packet carrying a UDP datagram of n random
// bytes (the same for the same r state).
func udpPacket(r *rand.Rand, src, dst netip.Addr, n int) []byte {
	d := wire.UDPDatagram{SrcPort: 5000, DstPort: 53, Payload: make([]byte, n)}
	for i := range d.Payload {
		d.Payload[i] = byte(r.Uint32())
	}
	hl := wire.IPHeaderLen(dst)
	pkt := make([]byte, hl+d.Len())
	wire.PutIPHeader(pkt, src, dst, wire.ProtoUDP, d.Len(), 64)
	d.Emit(pkt[hl:], src, dst)
	return pkt
}

// fragments cuts pkt for mtu with Fragment and returns the fragments.
func fragments(t testing.TB, pkt []byte, mtu int, id uint32) [][]byte {
	t.Helper()
	n := FragmentCount(pkt, mtu)
	if n == 0 {
		t.Fatalf("FragmentCount = 0")
	}
	out := make([][]byte, n)
	for i := range out {
		out[i] = make([]byte, mtu)
	}
	sizes := make([]int, n)
	got, err := Fragment(pkt, mtu, id, out, sizes)
	if err != nil || got != n {
		t.Fatalf("Fragment = %d, %v; FragmentCount %d", got, err, n)
	}
	for i := range out {
		out[i] = out[i][:sizes[i]]
		if sizes[i] > mtu {
			t.Fatalf("fragment %d is %d bytes, MTU %d", i, sizes[i], mtu)
		}
	}
	return out
}

// add parses frag and adds it to r, failing if it is not a fragment.
func add(t testing.TB, r *Reassembler, frag []byte, now time.Duration) []byte {
	t.Helper()
	var p wire.IPPacket
	if err := wire.ParseIP(frag, &p); err != wire.ErrFragment {
		t.Fatalf("ParseIP of a fragment = %v", err)
	}
	return r.Add(frag, &p, now)
}
