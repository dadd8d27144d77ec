package inet

import (
	"bytes"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/synack-go/synack/wire"
)

func newLayer(rate int) *Layer {
	return New(Config{
		Addrs: []netip.Prefix{netip.MustParsePrefix("198.51.100.2/24"), netip.MustParsePrefix("2001:db8::2/64")},
		MTU:   1500, ICMPRate: rate, ICMPBurst: 2,
	})
}

// TestICMPErrorPortUnreachable builds port unreachable errors about a UDP
// datagram to a closed port, checks them with gopacket and with ParseICMP
// (the error leads back to the flow), and checks the quote limits.
func TestICMPErrorPortUnreachable(t *testing.T) {
	r := newRand(8)
	for _, tc := range []struct {
		src, dst netip.Addr
		size     int
		quote    int // bytes of the datagram quoted
	}{
		{src4, dst4, 100, 128},                 // all of it
		{src4, dst4, 1400, 576 - 28},           // RFC 1812 §4.3.2.3: within 576
		{src6, dst6, 2000 - 48, 1500 - 48 - 0}, // the MTU first
		{src6, dst6, 1000, 1048},               // all of it
	} {
		l := newLayer(0)
		pkt := udpPacket(r, tc.src, tc.dst, tc.size)
		var ip wire.IPPacket
		if err := wire.ParseIP(pkt, &ip); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 1500)
		n := l.ICMPError(buf, pkt, &ip, UnreachPort, 0)
		if n == 0 {
			t.Fatal("no error built")
		}
		if tc.dst.Is6() && tc.size > 1300 {
			tc.quote = 1280 - 48 // RFC 4443: within the minimum MTU
		}
		hl := wire.IPHeaderLen(tc.src)
		if got := n - hl - 8; got != tc.quote {
			t.Fatalf("%v: quoted %d bytes, want %d", tc.dst, got, tc.quote)
		}
		// gopacket sees an ICMP port unreachable from the destination.
		first, typ := layers.LayerTypeIPv4, layers.LayerTypeICMPv4
		if tc.dst.Is6() {
			first, typ = layers.LayerTypeIPv6, layers.LayerTypeICMPv6
		}
		p := gopacket.NewPacket(buf[:n], first, gopacket.Default)
		if p.Layer(typ) == nil {
			t.Fatalf("gopacket finds no ICMP: %v", p)
		}
		if nl := p.NetworkLayer().NetworkFlow(); nl.Src().String() != tc.dst.String() || nl.Dst().String() != tc.src.String() {
			t.Fatalf("addresses %v", nl)
		}
		// The error parses back to the UDP flow and ECONNREFUSED, as the
		// sender (here: another Layer) sees it.
		var eip wire.IPPacket
		if err := wire.ParseIP(buf[:n], &eip); err != nil {
			t.Fatal(err)
		}
		var in ICMPIn
		if why, ok := newLayer(0).ParseICMP(&eip, &in); !ok {
			t.Fatalf("ParseICMP: %v", why)
		}
		want := Key{Proto: wire.ProtoUDP, Local: netip.AddrPortFrom(tc.src, 5000), Remote: netip.AddrPortFrom(tc.dst, 53)}
		if in.Action != ICMPHard || in.Errno != syscall.ECONNREFUSED || in.Key != want {
			t.Fatalf("ParseICMP: %v %v %+v", in.Action, in.Errno, in.Key)
		}
	}
}

// TestICMPErrorSuppressed: RFC 1122 §3.2.2 and RFC 4443 §2.4 (e).
func TestICMPErrorSuppressed(t *testing.T) {
	r := newRand(9)
	l := newLayer(0)
	buf := make([]byte, 1500)
	try := func(name string, pkt []byte, edit func(*wire.IPPacket)) {
		t.Helper()
		var ip wire.IPPacket
		if err := wire.ParseIP(pkt, &ip); err != nil && err != wire.ErrFragment {
			t.Fatal(err)
		}
		edit(&ip)
		if n := l.ICMPError(buf, pkt, &ip, UnreachPort, 0); n != 0 {
			t.Errorf("%s: an error was built", name)
		}
	}
	none := func(*wire.IPPacket) {}
	try("multicast destination", udpPacket(r, src4, netip.MustParseAddr("224.0.0.9"), 10), none)
	try("limited broadcast", udpPacket(r, src4, netip.MustParseAddr("255.255.255.255"), 10), none)
	try("directed broadcast", udpPacket(r, src4, netip.MustParseAddr("198.51.100.255"), 10), none)
	try("IPv6 multicast", udpPacket(r, src6, netip.MustParseAddr("ff02::1"), 10), none)
	try("unspecified source", udpPacket(r, netip.IPv4Unspecified(), dst4, 10), none)
	try("multicast source", udpPacket(r, netip.MustParseAddr("ff02::1"), dst6, 10), none)
	frag := frag4(3, 8, true, make([]byte, 8))
	try("non-initial fragment", frag, none)
	icmpErr := func(v6 bool, typ uint8) []byte {
		m := wire.ICMPMessage{Type: typ, Body: make([]byte, 28)}
		src, dst, proto := src4, dst4, uint8(wire.ProtoICMPv4)
		if v6 {
			src, dst, proto = src6, dst6, wire.ProtoICMPv6
		}
		hl := wire.IPHeaderLen(dst)
		pkt := make([]byte, hl+m.Len())
		wire.PutIPHeader(pkt, src, dst, proto, m.Len(), 64)
		if v6 {
			m.EmitV6(pkt[hl:], src, dst)
		} else {
			m.EmitV4(pkt[hl:])
		}
		return pkt
	}
	try("ICMPv4 error", icmpErr(false, wire.ICMPv4TimeExceeded), none)
	try("ICMPv6 error", icmpErr(true, wire.ICMPv6PacketTooBig), none)
	try("ICMPv6 redirect", icmpErr(true, 137), none)
	if s := l.Stats(); s.ICMPSuppressed != 10 || s.ICMPErrors != 0 {
		t.Fatalf("stats %+v", s)
	}
	// An error about an echo request is allowed.
	var ip wire.IPPacket
	echo := icmpErr(false, wire.ICMPv4EchoRequest)
	wire.ParseIP(echo, &ip)
	if l.ICMPError(buf, echo, &ip, UnreachProhibited, 0) == 0 {
		t.Fatal("no error about an echo request")
	}
}

func TestICMPErrorRateLimit(t *testing.T) {
	r := newRand(10)
	l := newLayer(10) // 10 a second, bursts of 2
	pkt := udpPacket(r, src4, dst4, 10)
	var ip wire.IPPacket
	wire.ParseIP(pkt, &ip)
	buf := make([]byte, 1500)
	sent := 0
	for i := range 100 {
		if l.ICMPError(buf, pkt, &ip, UnreachPort, time.Duration(i)*10*time.Millisecond) > 0 {
			sent++
		}
	}
	// One second: the burst of 2 and 10 more, give or take the last.
	if sent < 10 || sent > 12 {
		t.Fatalf("sent %d errors in one second at 10/s", sent)
	}
	if s := l.Stats(); s.ICMPRateLimited != uint64(100-sent) {
		t.Fatalf("rate limited %d", s.ICMPRateLimited)
	}
	off := New(Config{MTU: 1500, ICMPRate: -1})
	if off.ICMPError(buf, pkt, &ip, UnreachPort, 0) != 0 {
		t.Fatal("a negative rate still sends")
	}
}

func TestTokenBucket(t *testing.T) {
	b := NewTokenBucket(1000, 50)
	n := 0
	for b.Allow(0) {
		n++
	}
	if n != 50 {
		t.Fatalf("burst %d", n)
	}
	if !b.Allow(time.Millisecond) || b.Allow(time.Millisecond) {
		t.Fatal("one token a millisecond")
	}
	if n := countAllowed(&b, time.Hour); n != 50 {
		t.Fatalf("after an hour: %d", n)
	}
	var unlimited TokenBucket
	for range 1000 {
		if !unlimited.Allow(0) {
			t.Fatal("the zero bucket refused")
		}
	}
}

func countAllowed(b *TokenBucket, now time.Duration) int {
	n := 0
	for b.Allow(now) {
		n++
	}
	return n
}

// TestParseICMPDrops: malformed, checksum, bad source, ignored, and an
// error quoting a packet of another family.
func TestParseICMPDrops(t *testing.T) {
	l := newLayer(0)
	mk := func(typ, code uint8, body []byte, src netip.Addr) wire.IPPacket {
		m := wire.ICMPMessage{Type: typ, Code: code, Body: body}
		b := make([]byte, m.Len())
		m.EmitV4(b)
		return wire.IPPacket{Src: src, Dst: dst4, Protocol: wire.ProtoICMPv4, Payload: b}
	}
	r := newRand(11)
	quote6 := udpPacket(r, src6, dst6, 8)
	quote4 := udpPacket(r, dst4, src4, 8)
	for _, tc := range []struct {
		name string
		ip   wire.IPPacket
		why  ICMPDrop
	}{
		{"short", wire.IPPacket{Src: src4, Dst: dst4, Protocol: wire.ProtoICMPv4, Payload: []byte{3, 3, 0}}, ICMPMalformed},
		{"source quench", mk(wire.ICMPv4SourceQuench, 0, quote4, src4), ICMPIgnored},
		{"from a broadcast", mk(wire.ICMPv4DestUnreachable, 3, quote4, netip.MustParseAddr("198.51.100.255")), ICMPBadSource},
		{"quote of the other family", mk(wire.ICMPv4DestUnreachable, 3, quote6, src4), ICMPMalformed},
		{"quote of another protocol", mk(wire.ICMPv4DestUnreachable, 2, func() []byte { q := append([]byte(nil), quote4...); q[9] = 99; return q }(), src4), ICMPIgnored},
	} {
		var in ICMPIn
		if why, ok := l.ParseICMP(&tc.ip, &in); ok || why != tc.why {
			t.Errorf("%s: %v %v, want %v", tc.name, why, ok, tc.why)
		}
	}
	bad := mk(wire.ICMPv4EchoRequest, 0, []byte("ping"), src4)
	bad.Payload[2] ^= 1
	var in ICMPIn
	if why, ok := l.ParseICMP(&bad, &in); ok || why != ICMPChecksum {
		t.Errorf("bad checksum: %v", why)
	}
}

// TestLayerInput: a whole packet is delivered as is; fragments are held
// until the last, which delivers the datagram.
func TestLayerInput(t *testing.T) {
	r := newRand(12)
	l := newLayer(0)
	pkt := udpPacket(r, src4, dst4, 3000)
	frags := fragments(t, pkt, 1500, 5)
	var ip wire.IPPacket
	for i, f := range frags {
		v, whole := l.Input(f, 0, &ip)
		if i < len(frags)-1 {
			if v != Held || whole != nil {
				t.Fatalf("fragment %d: %v", i, v)
			}
			continue
		}
		if v != Deliver || ip.Protocol != wire.ProtoUDP || len(ip.Payload) != 3008 || len(whole) != len(pkt) {
			t.Fatalf("last fragment: %v %d", v, len(ip.Payload))
		}
	}
	if v, whole := l.Input(pkt, 0, &ip); v != Deliver || &whole[0] != &pkt[0] {
		t.Fatal("a whole packet is not delivered in place")
	}
	bad := append([]byte(nil), pkt...)
	bad[10] ^= 1
	if v, _ := l.Input(bad, 0, &ip); v != Dropped || l.Stats().Checksum != 1 {
		t.Fatal("bad IPv4 checksum")
	}
	if v, _ := l.Input([]byte{0x50}, 0, &ip); v != Dropped || l.Stats().Unsupported != 1 {
		t.Fatal("version 5")
	}
	if !l.IsLocal(dst4) || l.IsLocal(src4) {
		t.Fatal("IsLocal")
	}
}

func TestPathMTU(t *testing.T) {
	q4 := wire.ICMPInvoking{Src: src4, TotalLen: 1500}
	q6 := wire.ICMPInvoking{Src: src6, TotalLen: 1500}
	for _, tc := range []struct {
		mtu  uint32
		q    *wire.ICMPInvoking
		want uint32
	}{
		{1400, &q4, 1400}, {0, &q4, 1492}, {100, &q4, 576}, {1500, &q4, 1492}, {1300, &q6, 1300}, {1000, &q6, 1280},
	} {
		if got := PathMTU(tc.mtu, tc.q); got != tc.want {
			t.Errorf("PathMTU(%d, %v) = %d, want %d", tc.mtu, tc.q.Src, got, tc.want)
		}
	}
}

// outputs collects what a Layer sends.
type outputs struct {
	buf  []byte
	pkts [][]byte
}

func (o *outputs) Buffer() []byte { o.buf = make([]byte, 1500); return o.buf }
func (o *outputs) Send(n int)     { o.pkts = append(o.pkts, o.buf[:n]) }

// TestExpireTimeExceeded: a datagram whose first fragment came and that
// times out gets its source an ICMP Time Exceeded, code 1, quoting that
// fragment (RFC 8200 §4.5, RFC 1122 §3.3.2); one without its first fragment
// gets nothing.
func TestExpireTimeExceeded(t *testing.T) {
	l := newLayer(0)
	// From the other side: src is the peer, dst the layer's address.
	first4 := frag4(1, 0, true, filled(16, 7))
	first6 := frag6(2, wire.ProtoUDP, 0, true, append(make([]byte, 8), filled(8, 7)...))
	for _, f := range [][]byte{first4, first6, frag4(3, 16, true, filled(16, 1))} {
		var ip wire.IPPacket
		if v, _ := l.Input(f, 0, &ip); v != Held {
			t.Fatalf("Input = %v", v)
		}
	}
	var out outputs
	l.Expire(DefaultTimeout4, &out) // the IPv4 datagrams only
	if len(out.pkts) != 1 {
		t.Fatalf("%d errors after the IPv4 timeout", len(out.pkts))
	}
	l.Expire(DefaultTimeout6, &out)
	if len(out.pkts) != 2 || l.Reassembler().Pending() != 0 {
		t.Fatalf("%d errors, %d pending", len(out.pkts), l.Reassembler().Pending())
	}
	for i, want := range [][]byte{first4, first6} {
		var ip wire.IPPacket
		if err := wire.ParseIP(out.pkts[i], &ip); err != nil {
			t.Fatal(err)
		}
		var m wire.ICMPMessage
		typ := uint8(wire.ICMPv4TimeExceeded)
		if i == 1 {
			m.ParseV6(wire.ICMPv6(ip.Payload))
			typ = wire.ICMPv6TimeExceeded
		} else {
			m.ParseV4(wire.ICMPv4(ip.Payload))
		}
		wip := wire.IPPacket{}
		wire.ParseIP(want, &wip)
		if m.Type != typ || m.Code != 1 || !bytes.Equal(m.Body, want) || ip.Src != wip.Dst || ip.Dst != wip.Src {
			t.Fatalf("error %d: %v -> %v type %d code %d quote % x", i, ip.Src, ip.Dst, m.Type, m.Code, m.Body)
		}
	}
	if s := l.Stats(); s.Reassembly.Drops[FragTimeout] != 3 || s.ICMPErrors != 2 {
		t.Fatalf("stats %+v", s)
	}
}
