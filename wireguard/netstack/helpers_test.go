package netstack

import (
	"net/netip"
	"sync"
	"testing"

	"golang.zx2c4.com/wireguard/conn/bindtest"
	"golang.zx2c4.com/wireguard/tun"

	"github.com/synack-go/synack/wireguard/wgpair"
)

// The tunnel addresses of the two ends every test builds.
var (
	addrA4 = netip.MustParseAddr("10.9.0.1")
	addrB4 = netip.MustParseAddr("10.9.0.2")
	addrA6 = netip.MustParseAddr("fd09::1")
	addrB6 = netip.MustParseAddr("fd09::2")
)

// testMTU is wg-quick's default.
const testMTU = 1420

// joinMode says how newPair joins the two devices.
type joinMode int

const (
	// wireguard: two wireguard-go devices over conn/bindtest's in-memory
	// binds, so every packet is encrypted and decrypted on the way.
	wireguard joinMode = iota
	// direct: a goroutine per direction moves packets from one device's
	// Read to the other's Write, as wireguard-go does, without crypto.
	direct
)

// newPair makes two netstacks, A and B, with an IPv4 and an IPv6 address
// each, joined as mode says; both end with the test. B's DNS server is A.
func newPair(t testing.TB, mode joinMode) (a, b *Net) {
	t.Helper()
	ta, na, err := CreateNetTUN([]netip.Addr{addrA4, addrA6}, []netip.Addr{addrB4}, testMTU)
	if err != nil {
		t.Fatal(err)
	}
	tb, nb, err := CreateNetTUN([]netip.Addr{addrB4, addrB6}, []netip.Addr{addrA4}, testMTU)
	if err != nil {
		t.Fatal(err)
	}
	switch mode {
	case wireguard:
		binds := bindtest.NewChannelBinds()
		p, err := wgpair.New(
			wgpair.Side{TUN: ta, Addrs: []netip.Addr{addrA4, addrA6}, Bind: binds[0]},
			wgpair.Side{TUN: tb, Addrs: []netip.Addr{addrB4, addrB6}, Bind: binds[1]}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
	case direct:
		var wg sync.WaitGroup
		wg.Go(func() { pump(ta, tb) })
		wg.Go(func() { pump(tb, ta) })
		t.Cleanup(func() {
			ta.Close()
			tb.Close()
			wg.Wait()
		})
	}
	return na, nb
}

// pumpOffset is the headroom wireguard-go leaves in front of each packet
// (device.MessageTransportHeaderSize): the tests use it too, so offsets
// are exercised.
const pumpOffset = 16

// pump moves packets from src to dst as wireguard-go's two loops would,
// until either device is closed.
func pump(src, dst tun.Device) {
	n := src.BatchSize()
	bufs := make([][]byte, n)
	out := make([][]byte, n)
	sizes := make([]int, n)
	for i := range bufs {
		bufs[i] = make([]byte, pumpOffset+65535)
	}
	for {
		k, err := src.Read(bufs, sizes, pumpOffset)
		if err != nil {
			return
		}
		for i := range k {
			out[i] = bufs[i][:pumpOffset+sizes[i]]
		}
		if _, err := dst.Write(out[:k], pumpOffset); err != nil {
			return
		}
	}
}
