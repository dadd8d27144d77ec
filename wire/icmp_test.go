package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// An echo request checksummed by hand: 0800 + 1234 + 0001 + 6162 + 6364 =
// defb, so the checksum is ^defb = 2104.
func TestICMPv4EchoByHand(t *testing.T) {
	want := mustHex("0800 2104 1234 0001 61626364")
	m := ICMPMessage{Type: ICMPv4EchoRequest, Ident: 0x1234, SeqNum: 1, Body: []byte("abcd")}
	out := make([]byte, m.Len())
	if n := m.EmitV4(out); n != len(want) || !bytes.Equal(out, want) {
		t.Fatalf("EmitV4 = %d % x, want % x", n, out, want)
	}
	b := ICMPv4(want)
	if b.Check() != nil || !b.VerifyChecksum() || b.Checksum() != 0x2104 || b.Ident() != 0x1234 || b.SeqNum() != 1 {
		t.Fatalf("view of % x: check %v sum %v %#x ident %#x seq %d", want, b.Check(), b.VerifyChecksum(), b.Checksum(), b.Ident(), b.SeqNum())
	}
	var back ICMPMessage
	if err := back.ParseV4(b); err != nil || back.Type != m.Type || back.Code != 0 || back.Ident != m.Ident ||
		back.SeqNum != m.SeqNum || back.MTU != 0 || !bytes.Equal(back.Body, m.Body) {
		t.Fatalf("ParseV4: %+v %v", back, err)
	}
	want[9] ^= 1
	if ICMPv4(want).VerifyChecksum() {
		t.Fatal("a flipped bit verifies")
	}
}

// The four bytes after the checksum mean what the type says: identifier and
// sequence number, the RFC 1191 next-hop MTU, the RFC 4443 MTU, or nothing.
func TestICMPRestOfHeader(t *testing.T) {
	quote := bytes.Repeat([]byte{0xee}, 28)
	for _, c := range []struct {
		name string
		m    ICMPMessage
		v6   bool
		rest string
		back ICMPMessage // what parses back, when it differs from m
	}{
		{name: "v4 frag needed", m: ICMPMessage{Type: ICMPv4DestUnreachable, Code: ICMPv4FragmentationNeeded, MTU: 1280, Body: quote},
			rest: "0000 0500"},
		{name: "v4 frag needed keeps 16 bits", m: ICMPMessage{Type: ICMPv4DestUnreachable, Code: ICMPv4FragmentationNeeded, MTU: 0x10500},
			rest: "0000 0500", back: ICMPMessage{Type: ICMPv4DestUnreachable, Code: ICMPv4FragmentationNeeded, MTU: 0x500}},
		{name: "v4 host unreachable has no MTU", m: ICMPMessage{Type: ICMPv4DestUnreachable, Code: ICMPv4HostUnreachable, MTU: 1280, Ident: 9},
			rest: "0000 0000", back: ICMPMessage{Type: ICMPv4DestUnreachable, Code: ICMPv4HostUnreachable}},
		{name: "v4 time exceeded", m: ICMPMessage{Type: ICMPv4TimeExceeded, Body: quote}, rest: "0000 0000"},
		{name: "v4 echo reply", m: ICMPMessage{Type: ICMPv4EchoReply, Ident: 0xabcd, SeqNum: 0x0102}, rest: "abcd 0102"},
		{name: "v6 packet too big", v6: true, m: ICMPMessage{Type: ICMPv6PacketTooBig, MTU: 0x12345678, Body: quote}, rest: "1234 5678"},
		{name: "v6 echo request", v6: true, m: ICMPMessage{Type: ICMPv6EchoRequest, Ident: 7, SeqNum: 8, Body: []byte("hi")}, rest: "0007 0008"},
		{name: "v6 unreachable", v6: true, m: ICMPMessage{Type: ICMPv6DestUnreachable, Code: ICMPv6AddrUnreachable, SeqNum: 3},
			rest: "0000 0000", back: ICMPMessage{Type: ICMPv6DestUnreachable, Code: ICMPv6AddrUnreachable}},
	} {
		out := make([]byte, c.m.Len())
		var back ICMPMessage
		var err error
		if c.v6 {
			c.m.EmitV6(out, v6a, v6b)
			if !ICMPv6(out).VerifyChecksum(v6a, v6b) || ICMPv6(out).VerifyChecksum(v6b, v6b) {
				t.Errorf("%s: the pseudo-header checksum is wrong", c.name)
			}
			err = back.ParseV6(ICMPv6(out))
		} else {
			c.m.EmitV4(out)
			if !ICMPv4(out).VerifyChecksum() {
				t.Errorf("%s: bad checksum", c.name)
			}
			err = back.ParseV4(ICMPv4(out))
		}
		if got := out[4:8]; !bytes.Equal(got, mustHex(c.rest)) {
			t.Errorf("%s: bytes 4-7 % x, want %s", c.name, got, c.rest)
		}
		want := c.m
		if c.back.Type != 0 {
			want = c.back
			want.Body = c.m.Body
		}
		if err != nil || back.Type != want.Type || back.Code != want.Code || back.Ident != want.Ident ||
			back.SeqNum != want.SeqNum || back.MTU != want.MTU || !bytes.Equal(back.Body, want.Body) {
			t.Errorf("%s: parsed back %+v (%v), want %+v", c.name, back, err, want)
		}
	}
}

// An echo reply can be built in place over the request it answers.
func TestICMPEmitInPlace(t *testing.T) {
	req := ICMPMessage{Type: ICMPv6EchoRequest, Ident: 1, SeqNum: 2, Body: []byte("payload!")}
	buf := make([]byte, req.Len())
	req.EmitV6(buf, v6a, v6b)
	var m ICMPMessage
	if err := m.ParseV6(ICMPv6(buf)); err != nil {
		t.Fatal(err)
	}
	m.Type = ICMPv6EchoReply
	m.EmitV6(buf, v6b, v6a)
	if !ICMPv6(buf).VerifyChecksum(v6b, v6a) || ICMPv6(buf).Type() != ICMPv6EchoReply || string(ICMPv6(buf).Body()) != "payload!" {
		t.Fatalf("in-place reply % x", buf)
	}
}

func TestICMPTruncated(t *testing.T) {
	var m ICMPMessage
	for n := range 8 {
		b := make([]byte, n)
		if ICMPv4(b).Check() != ErrTruncated || ICMPv6(b).Check() != ErrTruncated ||
			m.ParseV4(ICMPv4(b)) != ErrTruncated || m.ParseV6(ICMPv6(b)) != ErrTruncated {
			t.Fatalf("%d bytes: not ErrTruncated", n)
		}
		_ = ICMPv4(b).VerifyChecksum() // needs no Check
		_ = ICMPv6(b).VerifyChecksum(v6a, v6b)
	}
}

// quoteV4 returns an IPv4 packet carrying seg, cut to n bytes (n < 0: whole).
func quoteV4(seg TCPSegment, n int, edit func([]byte)) []byte {
	pkt := buildPacket(v4a, v4b, &seg, 64)
	if edit != nil {
		edit(pkt)
	}
	if n >= 0 {
		pkt = pkt[:n]
	}
	return pkt
}

func TestICMPInvokingV4(t *testing.T) {
	syn := TCPSegment{SrcPort: 40000, DstPort: 443, Seq: 0xdeadbeef, Flags: SYN, Options: TCPOptions{MSS: 1460}}
	withOpt := func(b []byte) {
		// Insert a 4-byte option (IHL 6) after the fixed header.
		c := append(append(append([]byte(nil), b[:20]...), 0x94, 4, 0, 0), b[20:]...)
		c[0] = 0x46
		binary.BigEndian.PutUint16(c[2:], uint16(len(c)))
		copy(b, c) // b is long enough: callers cut it to n below
	}
	for _, c := range []struct {
		name  string
		body  []byte
		err   error
		trLen int
	}{
		{"header and 8 bytes (RFC 792)", quoteV4(syn, 28, nil), nil, 8},
		{"whole packet", quoteV4(syn, -1, nil), nil, 24},
		{"padding after the packet is cut", append(quoteV4(syn, -1, nil), 0, 0, 0, 0), nil, 24},
		{"with an IPv4 option", quoteV4(syn, 32, withOpt), nil, 8},
		{"first fragment", quoteV4(syn, 28, func(b []byte) { b[6] |= 0x20 }), nil, 8},
		{"later fragment", quoteV4(syn, 28, func(b []byte) { b[7] = 1 }), ErrFragment, 0},
		{"7 bytes of TCP", quoteV4(syn, 27, nil), ErrTruncated, 0},
		{"half a header", quoteV4(syn, 12, nil), ErrTruncated, 0},
		{"IHL 4", quoteV4(syn, 28, func(b []byte) { b[0] = 0x44 }), ErrMalformed, 0},
		{"IHL beyond the quote", quoteV4(syn, 28, func(b []byte) { b[0] = 0x4f }), ErrTruncated, 0},
		{"version 5", quoteV4(syn, 28, func(b []byte) { b[0] = 0x55 }), ErrMalformed, 0},
		{"empty", nil, ErrTruncated, 0},
	} {
		var p ICMPInvoking
		err := p.Parse(c.body)
		if !errors.Is(err, c.err) {
			t.Errorf("%s: %v, want %v", c.name, err, c.err)
			continue
		}
		if err != nil {
			continue
		}
		if p.Src != v4a || p.Dst != v4b || p.Protocol != ProtoTCP || p.SrcPort() != 40000 || p.DstPort() != 443 ||
			p.TCPSeq() != 0xdeadbeef || len(p.Transport) != c.trLen || p.TotalLen != IPv4(c.body).TotalLen() {
			t.Errorf("%s: %+v ports %d %d seq %#x", c.name, p, p.SrcPort(), p.DstPort(), p.TCPSeq())
		}
	}
}

// quoteV6 returns an IPv6 packet from v6a to v6b whose payload is ext (the
// extension headers, nh the first one) and then seg, cut to n bytes.
func quoteV6(seg TCPSegment, nh uint8, ext []byte, n int) []byte {
	if nh == 0 && ext == nil {
		nh = ProtoTCP
	}
	tcp := make([]byte, seg.Len())
	seg.Emit(tcp)
	payload := append(append([]byte(nil), ext...), tcp...)
	pkt := make([]byte, 40+len(payload))
	PutIPHeader(pkt, v6a, v6b, nh, len(payload), 64)
	copy(pkt[40:], payload)
	if n >= 0 {
		pkt = pkt[:n]
	}
	return pkt
}

func TestICMPInvokingV6(t *testing.T) {
	seg := TCPSegment{SrcPort: 1, DstPort: 2, Seq: 77, Flags: ACK, Payload: make([]byte, 1400)}
	hbh := []byte{ipv6DestOpts, 0, 1, 4, 0, 0, 0, 0}
	dst := []byte{ipv6Fragment, 0, 1, 4, 0, 0, 0, 0}
	frag0 := []byte{ProtoTCP, 0, 0, 0, 0, 0, 0, 9}       // offset 0, ID 9
	fragMF := []byte{ProtoTCP, 0, 0, 1, 0, 0, 0, 9}      // offset 0, more fragments
	frag8 := []byte{ProtoTCP, 0, 0, 8, 0, 0, 0, 9}       // offset 1
	hbhLate := []byte{ipv6HopByHop, 0, 1, 4, 0, 0, 0, 0} // a Destination Options header followed by Hop-by-Hop
	all := append(append(append([]byte(nil), hbh...), dst...), frag0...)
	for _, c := range []struct {
		name string
		body []byte
		err  error
	}{
		{"header and 8 bytes", quoteV6(seg, 0, nil, 48), nil},
		{"as much as fits in 1280 (RFC 4443 §2.4)", quoteV6(seg, 0, nil, 1280-48), nil},
		{"Hop-by-Hop, Destination, first Fragment", quoteV6(seg, ipv6HopByHop, all, 40+24+8), nil},
		{"first fragment with more to come", quoteV6(seg, ipv6Fragment, fragMF, 40+8+8), nil},
		{"later fragment", quoteV6(seg, ipv6Fragment, frag8, 40+8+8), ErrFragment},
		{"Hop-by-Hop out of place", quoteV6(seg, ipv6DestOpts, hbhLate, 40+8+8+8), ErrMalformed},
		{"extension header cut", quoteV6(seg, ipv6HopByHop, all, 40+12), ErrTruncated},
		{"7 bytes of TCP", quoteV6(seg, 0, nil, 47), ErrTruncated},
		{"half a header", quoteV6(seg, 0, nil, 30), ErrTruncated},
	} {
		var p ICMPInvoking
		err := p.Parse(c.body)
		if !errors.Is(err, c.err) {
			t.Errorf("%s: %v, want %v", c.name, err, c.err)
			continue
		}
		if err != nil {
			continue
		}
		if p.Src != v6a || p.Dst != v6b || p.Protocol != ProtoTCP || p.SrcPort() != 1 || p.DstPort() != 2 ||
			p.TCPSeq() != 77 || p.TotalLen != 40+IPv6(c.body).PayloadLen() {
			t.Errorf("%s: %+v", c.name, p)
		}
	}
}
