package wire

// Cross-checks of ICMP against gopacket: messages built here decode there
// with the same meaning and a checksum gopacket computes the same, quoted
// packets included; messages gopacket builds parse here.

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// randICMP returns a random message of a kind this package interprets, for
// family v6. Error messages quote a random TCP packet between src and dst
// (reversed, as the packet we sent), cut somewhere after its TCP header.
func randICMP(r *rand.Rand, v6 bool) ICMPMessage {
	src, dst := randAddrs(r, v6)
	seg := randSegment(r, 200)
	quote := buildPacket(dst, src, &seg, 64)
	quote = quote[:IPHeaderLen(src)+seg.HeaderLen()+r.IntN(len(seg.Payload)+1)]
	data := make([]byte, r.IntN(100))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	k := r.IntN(5)
	if v6 {
		return [...]ICMPMessage{
			{Type: ICMPv6EchoRequest, Ident: uint16(r.Uint32()), SeqNum: uint16(r.Uint32()), Body: data},
			{Type: ICMPv6EchoReply, Ident: uint16(r.Uint32()), SeqNum: uint16(r.Uint32()), Body: data},
			{Type: ICMPv6DestUnreachable, Code: uint8(r.IntN(7)), Body: quote},
			{Type: ICMPv6PacketTooBig, MTU: r.Uint32(), Body: quote},
			{Type: ICMPv6TimeExceeded, Code: uint8(r.IntN(2)), Body: quote},
		}[k]
	}
	return [...]ICMPMessage{
		{Type: ICMPv4EchoRequest, Ident: uint16(r.Uint32()), SeqNum: uint16(r.Uint32()), Body: data},
		{Type: ICMPv4EchoReply, Ident: uint16(r.Uint32()), SeqNum: uint16(r.Uint32()), Body: data},
		{Type: ICMPv4DestUnreachable, Code: uint8(r.IntN(16)), Body: quote},
		{Type: ICMPv4DestUnreachable, Code: ICMPv4FragmentationNeeded, MTU: uint32(uint16(r.Uint32())), Body: quote},
		{Type: ICMPv4TimeExceeded, Code: uint8(r.IntN(2)), Body: quote},
	}[k]
}

// checkQuoteGopacket decodes a quoted packet with gopacket and compares it
// with what ICMPInvoking.Parse reads.
func checkQuoteGopacket(t *testing.T, quote []byte, v6 bool) {
	t.Helper()
	first := layers.LayerTypeIPv4
	if v6 {
		first = layers.LayerTypeIPv6
	}
	gp := gopacket.NewPacket(quote, first, gopacket.DecodeOptions{NoCopy: true})
	tl, ok := gp.Layer(layers.LayerTypeTCP).(*layers.TCP)
	if !ok {
		t.Fatalf("gopacket finds no TCP header in the quote % x: %v", quote, gp.ErrorLayer())
	}
	var p ICMPInvoking
	if err := p.Parse(quote); err != nil {
		t.Fatalf("Parse(% x): %v", quote, err)
	}
	nl := gp.NetworkLayer().NetworkFlow()
	if p.Protocol != ProtoTCP || p.SrcPort() != uint16(tl.SrcPort) || p.DstPort() != uint16(tl.DstPort) ||
		uint32(p.TCPSeq()) != tl.Seq || !net.IP(p.Src.AsSlice()).Equal(nl.Src().Raw()) || !net.IP(p.Dst.AsSlice()).Equal(nl.Dst().Raw()) {
		t.Fatalf("quote as gopacket sees it: %v %v seq %d; Parse: %+v", nl, tl.TransportFlow(), tl.Seq, p)
	}
}

func TestGopacketDecodesICMP(t *testing.T) {
	r := newRand(9)
	for i := range 400 {
		v6 := i%2 == 1
		m := randICMP(r, v6)
		src, dst := randAddrs(r, v6)
		proto := uint8(ProtoICMPv4)
		if v6 {
			proto = ProtoICMPv6
		}
		hl := IPHeaderLen(dst)
		pkt := make([]byte, hl+m.Len())
		PutIPHeader(pkt, src, dst, proto, m.Len(), 64)
		if v6 {
			m.EmitV6(pkt[hl:], src, dst)
		} else {
			m.EmitV4(pkt[hl:])
		}
		first := layers.LayerTypeIPv4
		if v6 {
			first = layers.LayerTypeIPv6
		}
		gp := gopacket.NewPacket(pkt, first, gopacket.DecodeOptions{NoCopy: true})
		if v6 {
			l, ok := gp.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
			if !ok {
				t.Fatalf("no ICMPv6 layer in % x: %v", pkt, gp.ErrorLayer())
			}
			if l.TypeCode != layers.CreateICMPv6TypeCode(m.Type, m.Code) {
				t.Fatalf("gopacket reads type %v, want %d/%d", l.TypeCode, m.Type, m.Code)
			}
			switch m.Type {
			case ICMPv6EchoRequest, ICMPv6EchoReply:
				e := gp.Layer(layers.LayerTypeICMPv6Echo).(*layers.ICMPv6Echo)
				// gopacket's ICMPv6Echo keeps no payload: the data follows
				// the identifier and sequence number in the ICMPv6 layer's.
				if e.Identifier != m.Ident || e.SeqNumber != m.SeqNum || !bytes.Equal(l.Payload[4:], m.Body) {
					t.Fatalf("echo as gopacket sees it: %+v, want %+v", e, m)
				}
			case ICMPv6PacketTooBig:
				if got := binary.BigEndian.Uint32(l.Payload); got != m.MTU {
					t.Fatalf("gopacket's MTU bytes say %d, want %d", got, m.MTU)
				}
			}
			// gopacket recomputes the checksum over the pseudo-header.
			cp := *l
			if err := cp.SetNetworkLayerForChecksum(gp.NetworkLayer()); err != nil {
				t.Fatal(err)
			}
			buf := gopacket.NewSerializeBuffer()
			if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true}, &cp, gopacket.Payload(l.Payload)); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), pkt[hl:]) {
				t.Fatalf("gopacket's ICMPv6 serialization differs:\n% x\n% x", buf.Bytes(), pkt[hl:])
			}
		} else {
			l, ok := gp.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
			if !ok {
				t.Fatalf("no ICMPv4 layer in % x: %v", pkt, gp.ErrorLayer())
			}
			wantID, wantSeq := m.Ident, m.SeqNum
			if m.MTU != 0 {
				wantSeq = uint16(m.MTU) // gopacket reads the RFC 1191 MTU as "Seq"
			}
			if l.TypeCode != layers.CreateICMPv4TypeCode(m.Type, m.Code) || l.Id != wantID || l.Seq != wantSeq || !bytes.Equal(l.Payload, m.Body) {
				t.Fatalf("ICMPv4 as gopacket sees it: %v id %d seq %d, want %+v", l.TypeCode, l.Id, l.Seq, m)
			}
			cp := *l
			buf := gopacket.NewSerializeBuffer()
			if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true}, &cp, gopacket.Payload(l.Payload)); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), pkt[hl:]) {
				t.Fatalf("gopacket's ICMPv4 serialization differs:\n% x\n% x", buf.Bytes(), pkt[hl:])
			}
		}
		if isErr := m.Type == ICMPv4DestUnreachable || m.Type == ICMPv4TimeExceeded; (v6 && m.Type < 128) || (!v6 && isErr) {
			checkQuoteGopacket(t, m.Body, v6)
		}
	}
}

func TestWireParsesGopacketICMP(t *testing.T) {
	r := newRand(10)
	for i := range 400 {
		v6 := i%2 == 1
		src, dst := randAddrs(r, v6)
		// A quoted packet gopacket builds: IP and a TCP header, cut after
		// 8 bytes of TCP now and then (the RFC 792 minimum).
		qs := randSegment(r, 50)
		qtcp := &layers.TCP{SrcPort: layers.TCPPort(qs.SrcPort), DstPort: layers.TCPPort(qs.DstPort), Seq: uint32(qs.Seq), SYN: true}
		var qip gopacket.NetworkLayer
		if v6 {
			qip = &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: net.IP(dst.AsSlice()), DstIP: net.IP(src.AsSlice())}
		} else {
			qip = &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.IP(dst.AsSlice()), DstIP: net.IP(src.AsSlice())}
		}
		if err := qtcp.SetNetworkLayerForChecksum(qip); err != nil {
			t.Fatal(err)
		}
		qb := gopacket.NewSerializeBuffer()
		opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
		if err := gopacket.SerializeLayers(qb, opts, qip.(gopacket.SerializableLayer), qtcp, gopacket.Payload(qs.Payload)); err != nil {
			t.Fatal(err)
		}
		quote := qb.Bytes()
		if r.IntN(2) == 0 {
			quote = quote[:IPHeaderLen(src)+8]
		}

		var want ICMPMessage
		var ls []gopacket.SerializableLayer
		if v6 {
			ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolICMPv6, SrcIP: net.IP(src.AsSlice()), DstIP: net.IP(dst.AsSlice())}
			ic := &layers.ICMPv6{}
			if err := ic.SetNetworkLayerForChecksum(ip); err != nil {
				t.Fatal(err)
			}
			switch i % 3 {
			case 0:
				want = ICMPMessage{Type: ICMPv6EchoRequest, Ident: uint16(r.Uint32()), SeqNum: uint16(r.Uint32()), Body: []byte("ping -6")}
				ic.TypeCode = layers.CreateICMPv6TypeCode(want.Type, 0)
				ls = []gopacket.SerializableLayer{ip, ic, &layers.ICMPv6Echo{Identifier: want.Ident, SeqNumber: want.SeqNum}, gopacket.Payload(want.Body)}
			case 1:
				want = ICMPMessage{Type: ICMPv6PacketTooBig, MTU: 1280 + r.Uint32N(8000), Body: quote}
				ic.TypeCode = layers.CreateICMPv6TypeCode(want.Type, 0)
				ls = []gopacket.SerializableLayer{ip, ic, gopacket.Payload(append(binary.BigEndian.AppendUint32(nil, want.MTU), quote...))}
			default:
				want = ICMPMessage{Type: ICMPv6DestUnreachable, Code: ICMPv6PortUnreachable, Body: quote}
				ic.TypeCode = layers.CreateICMPv6TypeCode(want.Type, want.Code)
				ls = []gopacket.SerializableLayer{ip, ic, gopacket.Payload(append(make([]byte, 4), quote...))}
			}
		} else {
			ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: net.IP(src.AsSlice()), DstIP: net.IP(dst.AsSlice())}
			ic := &layers.ICMPv4{}
			switch i % 3 {
			case 0:
				want = ICMPMessage{Type: ICMPv4EchoReply, Ident: uint16(r.Uint32()), SeqNum: uint16(r.Uint32()), Body: []byte("ping")}
				ic.Id, ic.Seq = want.Ident, want.SeqNum
			case 1:
				want = ICMPMessage{Type: ICMPv4DestUnreachable, Code: ICMPv4FragmentationNeeded, MTU: uint32(576 + r.IntN(1000)), Body: quote}
				ic.Seq = uint16(want.MTU)
			default:
				want = ICMPMessage{Type: ICMPv4DestUnreachable, Code: ICMPv4HostUnreachable, Body: quote}
			}
			ic.TypeCode = layers.CreateICMPv4TypeCode(want.Type, want.Code)
			ls = []gopacket.SerializableLayer{ip, ic, gopacket.Payload(want.Body)}
		}
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
			t.Fatal(err)
		}
		var p IPPacket
		if err := ParseIP(buf.Bytes(), &p); err != nil {
			t.Fatalf("ParseIP(% x): %v", buf.Bytes(), err)
		}
		var got ICMPMessage
		var err error
		if v6 {
			if p.Protocol != ProtoICMPv6 || !ICMPv6(p.Payload).VerifyChecksum(p.Src, p.Dst) {
				t.Fatalf("protocol %d, or gopacket's ICMPv6 checksum does not verify: % x", p.Protocol, p.Payload)
			}
			err = got.ParseV6(ICMPv6(p.Payload))
		} else {
			if p.Protocol != ProtoICMPv4 || !ICMPv4(p.Payload).VerifyChecksum() {
				t.Fatalf("protocol %d, or gopacket's ICMPv4 checksum does not verify: % x", p.Protocol, p.Payload)
			}
			err = got.ParseV4(ICMPv4(p.Payload))
		}
		if err != nil || got.Type != want.Type || got.Code != want.Code || got.Ident != want.Ident ||
			got.SeqNum != want.SeqNum || got.MTU != want.MTU || !bytes.Equal(got.Body, want.Body) {
			t.Fatalf("parsed %+v (%v), want %+v", got, err, want)
		}
		if want.Ident == 0 {
			var inv ICMPInvoking
			if err := inv.Parse(got.Body); err != nil || inv.Src != dst || inv.Dst != src || inv.Protocol != ProtoTCP ||
				inv.SrcPort() != qs.SrcPort || inv.DstPort() != qs.DstPort || inv.TCPSeq() != qs.Seq {
				t.Fatalf("quote of gopacket's packet: %+v (%v), want %v:%d > %v:%d seq %d", inv, err, dst, qs.SrcPort, src, qs.DstPort, qs.Seq)
			}
		}
	}
}
