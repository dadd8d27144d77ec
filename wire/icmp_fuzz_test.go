package wire

import (
	"bytes"
	"testing"
)

// icmpSeeds returns real ICMP messages to start the fuzzers from: echoes,
// errors quoting a TCP segment, and broken ones.
func icmpSeeds(v6 bool) [][]byte {
	syn := TCPSegment{SrcPort: 40000, DstPort: 80, Seq: 1000, Flags: SYN, Options: TCPOptions{MSS: 1460}}
	var msgs []ICMPMessage
	if v6 {
		q := quoteV6(syn, 0, nil, -1)
		msgs = []ICMPMessage{
			{Type: ICMPv6EchoRequest, Ident: 1, SeqNum: 2, Body: []byte("abcdefgh")},
			{Type: ICMPv6EchoReply, Ident: 1, SeqNum: 2},
			{Type: ICMPv6PacketTooBig, MTU: 1280, Body: q},
			{Type: ICMPv6DestUnreachable, Code: ICMPv6AddrUnreachable, Body: q[:48]},
			{Type: ICMPv6TimeExceeded, Body: q},
		}
	} else {
		q := quoteV4(syn, -1, nil)
		msgs = []ICMPMessage{
			{Type: ICMPv4EchoRequest, Ident: 1, SeqNum: 2, Body: []byte("abcdefgh")},
			{Type: ICMPv4EchoReply, Ident: 1, SeqNum: 2},
			{Type: ICMPv4DestUnreachable, Code: ICMPv4FragmentationNeeded, MTU: 576, Body: q},
			{Type: ICMPv4DestUnreachable, Code: ICMPv4HostUnreachable, Body: q[:28]},
			{Type: ICMPv4TimeExceeded, Body: q},
		}
	}
	var seeds [][]byte
	for i := range msgs {
		b := make([]byte, msgs[i].Len())
		if v6 {
			msgs[i].EmitV6(b, v6a, v6b)
		} else {
			msgs[i].EmitV4(b)
		}
		seeds = append(seeds, b)
	}
	return append(seeds, []byte{3, 1, 0}, make([]byte, 8), bytes.Repeat([]byte{0xff}, 40))
}

// fuzzICMP checks one parsed message: the accessors agree with the meaning,
// and emitting the meaning parses back to it with a valid checksum.
func fuzzICMP(t *testing.T, data []byte, v6 bool) {
	var m ICMPMessage
	var err error
	if v6 {
		err = m.ParseV6(ICMPv6(data))
	} else {
		err = m.ParseV4(ICMPv4(data))
	}
	if err != nil {
		return
	}
	if m.Type != data[0] || m.Code != data[1] || m.Len() != len(data) || !bytes.Equal(m.Body, data[8:]) {
		t.Fatalf("parse of % x: %+v", data, m)
	}
	out := make([]byte, m.Len())
	var back ICMPMessage
	if v6 {
		if n := m.EmitV6(out, v6a, v6b); n != len(out) || !ICMPv6(out).VerifyChecksum(v6a, v6b) {
			t.Fatalf("EmitV6 = %d or bad checksum: % x", n, out)
		}
		err = back.ParseV6(ICMPv6(out))
		_ = ICMPv6(data).VerifyChecksum(v6a, v6b)
		_ = ICMPv6(data).MTU()
	} else {
		if n := m.EmitV4(out); n != len(out) || !ICMPv4(out).VerifyChecksum() {
			t.Fatalf("EmitV4 = %d or bad checksum: % x", n, out)
		}
		err = back.ParseV4(ICMPv4(out))
		_ = ICMPv4(data).VerifyChecksum()
		_ = ICMPv4(data).NextHopMTU()
	}
	if err != nil || back.Type != m.Type || back.Code != m.Code || back.Ident != m.Ident || back.SeqNum != m.SeqNum ||
		back.MTU != m.MTU || !bytes.Equal(back.Body, m.Body) {
		t.Fatalf("round trip of % x: %+v (%v), want %+v", data, back, err, m)
	}
	// An error message's body is a quote; its parser never panics.
	var p ICMPInvoking
	_ = p.Parse(m.Body)
}

func FuzzICMPv4(f *testing.F) {
	for _, s := range icmpSeeds(false) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzICMP(t, data, false) })
}

func FuzzICMPv6(f *testing.F) {
	for _, s := range icmpSeeds(true) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzICMP(t, data, true) })
}

func FuzzICMPInvoking(f *testing.F) {
	for _, v6 := range []bool{false, true} {
		for _, s := range icmpSeeds(v6) {
			if len(s) > 8 {
				f.Add(s[8:])
			}
		}
	}
	f.Add([]byte{0x60, 0, 0, 0, 0, 16, ipv6Fragment, 64})
	f.Fuzz(func(t *testing.T, data []byte) {
		var p ICMPInvoking
		if err := p.Parse(data); err != nil {
			return
		}
		if len(p.Transport) < 8 || !contains(data, p.Transport) || !p.Src.IsValid() || p.Src.Is4() != p.Dst.Is4() {
			t.Fatalf("Parse(% x) = %+v", data, p)
		}
		if p.Src.Is4() != (data[0]>>4 == 4) {
			t.Fatalf("family of % x: %v", data, p.Src)
		}
		_, _, _ = p.SrcPort(), p.DstPort(), p.TCPSeq()
	})
}
