package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
)

var (
	v4a = netip.MustParseAddr("10.0.0.1")
	v4b = netip.MustParseAddr("10.0.0.2")
	v6a = netip.MustParseAddr("2001:db8::1")
	v6b = netip.MustParseAddr("2001:db8::2")
)

// v4Packet returns an IPv4 packet carrying payload, after edit has changed
// the header; the header checksum is recomputed after edit unless keepSum.
func v4Packet(payload []byte, edit func(b []byte), keepSum bool) []byte {
	b := make([]byte, 20+len(payload))
	PutIPHeader(b, v4a, v4b, ProtoTCP, len(payload), 64)
	copy(b[20:], payload)
	if edit != nil {
		edit(b)
	}
	if !keepSum && len(b) >= 20 && int(b[0]&0xf)*4 <= len(b) && b[0]&0xf >= 5 {
		IPv4(b).SetChecksum()
	}
	return b
}

func TestPutIPHeaderIPv4(t *testing.T) {
	b := make([]byte, 20)
	if n := PutIPHeader(b, v4a, v4b, ProtoTCP, 40, 64); n != 20 || IPHeaderLen(v4b) != 20 {
		t.Fatalf("PutIPHeader = %d, IPHeaderLen = %d", n, IPHeaderLen(v4b))
	}
	// By hand: 4500+003c+0000+4000+4006+0a00+0001+0a00+0002 = d945, so the
	// checksum is ^d945 = 26ba.
	want := mustHex("4500 003c 0000 4000 4006 26ba 0a000001 0a000002")
	if !bytes.Equal(b, want) {
		t.Fatalf("header % x\nwant   % x", b, want)
	}
	h := IPv4(append(b, make([]byte, 40)...))
	if err := h.Check(); err != nil {
		t.Fatal(err)
	}
	if !h.VerifyChecksum() || h.Src() != v4a || h.Dst() != v4b || h.Protocol() != ProtoTCP ||
		h.TTL() != 64 || h.TotalLen() != 60 || h.HeaderLen() != 20 || !h.DontFragment() ||
		h.IsFragment() || h.ID() != 0 || len(h.Options()) != 0 || len(h.Payload()) != 40 {
		t.Fatalf("accessors of % x", []byte(h))
	}
}

func TestPutIPHeaderIPv6(t *testing.T) {
	b := make([]byte, 40)
	if n := PutIPHeader(b, v6a, v6b, ProtoTCP, 1000, 255); n != 40 || IPHeaderLen(v6b) != 40 {
		t.Fatalf("PutIPHeader = %d", n)
	}
	want := mustHex("60000000 03e8 06 ff 20010db8000000000000000000000001 20010db8000000000000000000000002")
	if !bytes.Equal(b, want) {
		t.Fatalf("header % x\nwant   % x", b, want)
	}
	h := IPv6(append(b, make([]byte, 1000)...))
	if err := h.Check(); err != nil {
		t.Fatal(err)
	}
	if h.Src() != v6a || h.Dst() != v6b || h.NextHeader() != ProtoTCP || h.HopLimit() != 255 ||
		h.PayloadLen() != 1000 || h.TrafficClass() != 0 || h.FlowLabel() != 0 || len(h.Payload()) != 1000 {
		t.Fatalf("accessors of % x", []byte(h))
	}
}

func TestPutIPHeaderOddAddrs(t *testing.T) {
	b := make([]byte, 40)
	// An IPv4-mapped destination gets an IPv6 header.
	mapped := netip.MustParseAddr("::ffff:10.0.0.2")
	if IPHeaderLen(mapped) != 40 || PutIPHeader(b, v4a, mapped, ProtoTCP, 0, 1) != 40 {
		t.Fatalf("IPv4-mapped destination: want an IPv6 header")
	}
	// Mixed families and zero Addrs do not panic.
	PutIPHeader(b, v6a, v4b, ProtoTCP, 0, 1)
	if got := IPv4(b).Src(); got != netip.IPv4Unspecified() {
		t.Fatalf("IPv6 src in IPv4 header = %v", got)
	}
	PutIPHeader(b, mapped, v4b, ProtoTCP, 0, 1)
	if got := IPv4(b).Src(); got != v4b {
		t.Fatalf("mapped src in IPv4 header = %v", got)
	}
	PutIPHeader(b, netip.Addr{}, netip.Addr{}, ProtoTCP, 0, 1)
}

func TestParseIPv4(t *testing.T) {
	payload := []byte("0123456789abcdefghij")
	flags := func(v uint16) func([]byte) {
		return func(b []byte) { binary.BigEndian.PutUint16(b[ipv4FlagsFrag:], v) }
	}
	for _, tc := range []struct {
		name    string
		pkt     []byte
		err     error
		payload int // expected payload length when err == nil
	}{
		{"ok", v4Packet(payload, nil, false), nil, 20},
		{"empty", nil, ErrTruncated, 0},
		{"19 bytes", v4Packet(payload, nil, false)[:19], ErrTruncated, 0},
		{"version 5", v4Packet(payload, func(b []byte) { b[0] = 0x55 }, false), ErrUnsupported, 0},
		{"ihl 4", v4Packet(payload, func(b []byte) { b[0] = 0x44 }, true), ErrMalformed, 0},
		{"ihl 0", v4Packet(payload, func(b []byte) { b[0] = 0x40 }, true), ErrMalformed, 0},
		{"ihl past end", v4Packet(nil, func(b []byte) { b[0] = 0x46 }, true), ErrTruncated, 0},
		{"total < header", v4Packet(payload, func(b []byte) { binary.BigEndian.PutUint16(b[2:], 19) }, false), ErrMalformed, 0},
		{"total 0", v4Packet(payload, func(b []byte) { binary.BigEndian.PutUint16(b[2:], 0) }, false), ErrMalformed, 0},
		{"total > buffer", v4Packet(payload, func(b []byte) { binary.BigEndian.PutUint16(b[2:], 41) }, false), ErrTruncated, 0},
		{"total < buffer: trailer ignored", v4Packet(payload, func(b []byte) { binary.BigEndian.PutUint16(b[2:], 30) }, false), nil, 10},
		{"bad checksum", v4Packet(payload, func(b []byte) { b[ipv4TTL]-- }, true), ErrChecksum, 0},
		{"MF", v4Packet(payload, flags(0x2000), false), ErrFragment, 0},
		{"offset", v4Packet(payload, flags(0x0001), false), ErrFragment, 0},
		{"last fragment", v4Packet(payload, flags(0x4000|0x1fff), false), ErrFragment, 0},
		{"no DF", v4Packet(payload, flags(0), false), nil, 20},
		{"reserved flag", v4Packet(payload, flags(0x8000), false), nil, 20},
		{"options skipped", v4Packet(payload, func(b []byte) {
			// Router Alert (RFC 2113) in a 24-byte header; the payload
			// shrinks by 4.
			b[0] = 0x46
			copy(b[20:], []byte{0x94, 0x04, 0, 0})
		}, false), nil, 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p IPPacket
			err := ParseIP(tc.pkt, &p)
			if !errors.Is(err, tc.err) {
				t.Fatalf("ParseIP = %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if p.Src != v4a || p.Dst != v4b || p.Protocol != ProtoTCP || len(p.Payload) != tc.payload {
				t.Fatalf("got %v -> %v proto %d payload %d", p.Src, p.Dst, p.Protocol, len(p.Payload))
			}
			hl := IPv4(tc.pkt).HeaderLen()
			if !bytes.Equal(p.Payload, tc.pkt[hl:hl+tc.payload]) {
				t.Fatalf("payload %q", p.Payload)
			}
		})
	}
}

func TestIPv4CheckVersion(t *testing.T) {
	b := v4Packet(nil, func(b []byte) { b[0] = 0x65 }, false)
	if err := IPv4(b).Check(); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Check of version 6 = %v, want ErrMalformed", err)
	}
}

// v6Packet returns an IPv6 packet whose fixed header has next header nh,
// followed by rest.
func v6Packet(nh uint8, rest []byte) []byte {
	b := make([]byte, 40+len(rest))
	PutIPHeader(b, v6a, v6b, nh, len(rest), 64)
	copy(b[40:], rest)
	return b
}

func TestParseIPv6(t *testing.T) {
	tcp := []byte("TCP header and data.")
	ext := func(nh uint8, units int) []byte { // an extension header of (units+1)*8 bytes
		e := make([]byte, (units+1)*8)
		e[0], e[1] = nh, byte(units)
		return e
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	frag := func(nh uint8, off int, more bool) []byte {
		h := IPv6FragmentHeader{NextHeader: nh, Offset: off, More: more, ID: 0x01020304}
		b := make([]byte, 8)
		h.Emit(b)
		return b
	}
	for _, tc := range []struct {
		name  string
		pkt   []byte
		err   error
		proto uint8
		want  []byte
	}{
		{"tcp", v6Packet(ProtoTCP, tcp), nil, ProtoTCP, tcp},
		{"trailer ignored", append(v6Packet(ProtoTCP, tcp), "link padding"...), nil, ProtoTCP, tcp},
		{"empty payload", v6Packet(ProtoTCP, nil), nil, ProtoTCP, nil},
		{"39 bytes", v6Packet(ProtoTCP, nil)[:39], ErrTruncated, 0, nil},
		{"payload len past end", v6Packet(ProtoTCP, tcp)[:59], ErrTruncated, 0, nil},
		{"hop-by-hop", v6Packet(ipv6HopByHop, cat(ext(ProtoTCP, 0), tcp)), nil, ProtoTCP, tcp},
		{"hbh, routing, dstopts", v6Packet(ipv6HopByHop, cat(ext(ipv6Routing, 1), ext(ipv6DestOpts, 2), ext(ProtoTCP, 0), tcp)), nil, ProtoTCP, tcp},
		{"dstopts", v6Packet(ipv6DestOpts, cat(ext(ProtoICMPv6, 0), tcp)), nil, ProtoICMPv6, tcp},
		{"hop-by-hop not first", v6Packet(ipv6DestOpts, cat(ext(ipv6HopByHop, 0), ext(ProtoTCP, 0), tcp)), ErrMalformed, 0, nil},
		{"atomic fragment", v6Packet(ipv6Fragment, cat(frag(ProtoTCP, 0, false), tcp)), nil, ProtoTCP, tcp},
		{"atomic fragment after hbh", v6Packet(ipv6HopByHop, cat(ext(ipv6Fragment, 0), frag(ProtoTCP, 0, false), tcp)), nil, ProtoTCP, tcp},
		{"first fragment", v6Packet(ipv6Fragment, cat(frag(ProtoTCP, 0, true), tcp)), ErrFragment, 0, nil},
		{"last fragment after hbh", v6Packet(ipv6HopByHop, cat(ext(ipv6Fragment, 0), frag(ProtoTCP, 8, false), tcp)), ErrFragment, 0, nil},
		{"fragment header cut short", v6Packet(ipv6Fragment, frag(ProtoTCP, 8, false)[:7]), ErrMalformed, 0, nil},
		{"ext past payload", v6Packet(ipv6Routing, ext(ProtoTCP, 1)[:12]), ErrMalformed, 0, nil},
		{"ext len past payload", v6Packet(ipv6Routing, cat(ext(ProtoTCP, 0)[:1], []byte{3}, make([]byte, 14))), ErrMalformed, 0, nil},
		{"ext cut short", v6Packet(ipv6DestOpts, []byte{6, 0, 0}), ErrMalformed, 0, nil},
		{"ext ends the payload", v6Packet(ipv6HopByHop, ext(ProtoTCP, 0)), nil, ProtoTCP, nil},
		{"no next header", v6Packet(59, ext(0, 0)), nil, 59, ext(0, 0)},
		{"udp", v6Packet(ProtoUDP, tcp), nil, ProtoUDP, tcp},
		{"unknown", v6Packet(253, tcp), nil, 253, tcp},
		{"ah ends the walk", v6Packet(51, tcp), nil, 51, tcp},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p IPPacket
			err := ParseIP(tc.pkt, &p)
			if !errors.Is(err, tc.err) {
				t.Fatalf("ParseIP = %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if p.Src != v6a || p.Dst != v6b || p.Protocol != tc.proto || !bytes.Equal(p.Payload, tc.want) {
				t.Fatalf("got %v -> %v proto %d payload %q", p.Src, p.Dst, p.Protocol, p.Payload)
			}
		})
	}
}

func TestIPv6CheckVersion(t *testing.T) {
	b := v6Packet(ProtoTCP, nil)
	b[0] = 0x40
	if err := IPv6(b).Check(); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Check of version 4 = %v, want ErrMalformed", err)
	}
	b[0] = 0x6a // traffic class 0xa0, flow label 0x12345
	b[1], b[2], b[3] = 0x01, 0x23, 0x45
	if h := IPv6(b); h.TrafficClass() != 0xa0 || h.FlowLabel() != 0x12345 {
		t.Fatalf("TrafficClass %#x FlowLabel %#x", h.TrafficClass(), h.FlowLabel())
	}
}

func TestParseIPRoundTrip(t *testing.T) {
	r := newRand(6)
	for i := range 500 {
		src, dst := randAddrs(r, i%2 == 1)
		s := randSegment(r, 200)
		pkt := buildPacket(src, dst, &s, uint8(r.Uint32()))
		var p IPPacket
		if err := ParseIP(pkt, &p); err != nil {
			t.Fatal(err)
		}
		if p.Src != src || p.Dst != dst || p.Protocol != ProtoTCP || !TCP(p.Payload).VerifyChecksum(p.Src, p.Dst) {
			t.Fatalf("got %+v", p)
		}
		var back TCPSegment
		if err := back.Parse(TCP(p.Payload)); err != nil {
			t.Fatal(err)
		}
		want := s
		want.Options = normalized(s.Options)
		if d := segDiff(&back, &want); d != "" {
			t.Fatal(d)
		}
	}
}
