package wire

// Cross-checks of UDP and of IP fragment fields against gopacket, both ways.

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// buildUDP returns an IP packet from src to dst carrying d.
func buildUDP(src, dst netip.Addr, d *UDPDatagram) []byte {
	hl := IPHeaderLen(dst)
	pkt := make([]byte, hl+d.Len())
	PutIPHeader(pkt, src, dst, ProtoUDP, d.Len(), 64)
	d.Emit(pkt[hl:], src, dst)
	return pkt
}

func firstLayer(v6 bool) gopacket.LayerType {
	if v6 {
		return layers.LayerTypeIPv6
	}
	return layers.LayerTypeIPv4
}

func TestGopacketDecodesUDP(t *testing.T) {
	r := newRand(17)
	for i := range 400 {
		v6 := i%2 == 1
		src, dst := randAddrs(r, v6)
		d := UDPDatagram{SrcPort: uint16(r.Uint32()), DstPort: uint16(r.Uint32()), Payload: make([]byte, r.IntN(600))}
		for j := range d.Payload {
			d.Payload[j] = byte(r.Uint32())
		}
		pkt := buildUDP(src, dst, &d)
		p := gopacket.NewPacket(pkt, firstLayer(v6), gopacket.DecodeOptions{NoCopy: true})
		if el := p.ErrorLayer(); el != nil {
			t.Fatalf("gopacket: %v", el.Error())
		}
		u, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if !ok {
			t.Fatalf("no UDP layer in % x", pkt)
		}
		if uint16(u.SrcPort) != d.SrcPort || uint16(u.DstPort) != d.DstPort || int(u.Length) != d.Len() ||
			!bytes.Equal(u.Payload, d.Payload) {
			t.Fatalf("UDP as gopacket sees it: %+v", u)
		}
		// gopacket recomputes the checksum over its own pseudo-header.
		cp := *u
		if err := cp.SetNetworkLayerForChecksum(p.NetworkLayer()); err != nil {
			t.Fatal(err)
		}
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true}, &cp, gopacket.Payload(u.Payload)); err != nil {
			t.Fatal(err)
		}
		ours := UDP(pkt[IPHeaderLen(dst):]).Checksum()
		if cp.Checksum != ours && !(cp.Checksum == 0 && ours == 0xffff) { // gopacket sends a computed 0 as 0
			t.Fatalf("checksum: gopacket %#04x, ours %#04x", cp.Checksum, ours)
		}
	}
}

func TestWireParsesGopacketUDP(t *testing.T) {
	r := newRand(18)
	for i := range 400 {
		v6 := i%2 == 1
		src, dst := randAddrs(r, v6)
		payload := make([]byte, r.IntN(600))
		for j := range payload {
			payload[j] = byte(r.Uint32())
		}
		u := &layers.UDP{SrcPort: layers.UDPPort(r.Uint32()), DstPort: layers.UDPPort(r.Uint32())}
		var ip gopacket.SerializableLayer
		if v6 {
			l := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolUDP, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
			u.SetNetworkLayerForChecksum(l)
			ip = l
		} else {
			l := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
			u.SetNetworkLayerForChecksum(l)
			ip = l
		}
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ip, u, gopacket.Payload(payload)); err != nil {
			t.Fatal(err)
		}
		var p IPPacket
		if err := ParseIP(buf.Bytes(), &p); err != nil || p.Protocol != ProtoUDP {
			t.Fatalf("ParseIP = %v, protocol %d", err, p.Protocol)
		}
		if UDP(p.Payload).Checksum() != 0 && !UDP(p.Payload).VerifyChecksum(p.Src, p.Dst) {
			t.Fatal("gopacket's checksum does not verify")
		}
		var d UDPDatagram
		if err := d.Parse(UDP(p.Payload)); err != nil || d.SrcPort != uint16(u.SrcPort) || d.DstPort != uint16(u.DstPort) ||
			!bytes.Equal(d.Payload, payload) {
			t.Fatalf("Parse = %v, %+v", err, d)
		}
	}
}

// TestGopacketFragments checks the IPv4 fragment fields and the IPv6
// Fragment header both ways.
func TestGopacketFragments(t *testing.T) {
	r := newRand(19)
	for range 200 {
		id, off, more := uint16(r.Uint32()), r.IntN(8192)*8, r.IntN(2) == 0
		data := make([]byte, 8*(1+r.IntN(20)))

		// IPv4, ours to gopacket.
		pkt := make([]byte, 20+len(data))
		PutIPHeader(pkt, v4a, v4b, ProtoUDP, len(data), 64)
		IPv4(pkt).SetFragment(id, off, more)
		IPv4(pkt).SetChecksum()
		p := gopacket.NewPacket(pkt, layers.LayerTypeIPv4, gopacket.DecodeOptions{NoCopy: true})
		ip := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		wantFlags := layers.IPv4Flag(0)
		if more {
			wantFlags = layers.IPv4MoreFragments
		}
		if ip.Id != id || int(ip.FragOffset)*8 != off || ip.Flags != wantFlags {
			t.Fatalf("IPv4 as gopacket sees it: id %#x offset %d flags %v", ip.Id, ip.FragOffset, ip.Flags)
		}
		// gopacket recomputes the header checksum: same bytes.
		cp := *ip
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true}, &cp, gopacket.Payload(ip.Payload)); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes()[:20], pkt[:20]) {
			t.Fatalf("IPv4 header differs:\n% x\n% x", buf.Bytes()[:20], pkt[:20])
		}

		// IPv6, ours to gopacket.
		id6 := r.Uint32()
		pkt = make([]byte, 48+len(data))
		PutIPHeader(pkt, v6a, v6b, ProtoIPv6Fragment, 8+len(data), 64)
		h := IPv6FragmentHeader{NextHeader: ProtoUDP, Offset: off, More: more, ID: id6}
		h.Emit(pkt[40:])
		p = gopacket.NewPacket(pkt, layers.LayerTypeIPv6, gopacket.DecodeOptions{NoCopy: true})
		fl, ok := p.Layer(layers.LayerTypeIPv6Fragment).(*layers.IPv6Fragment)
		if !ok {
			t.Fatalf("no IPv6Fragment layer in % x", pkt[:48])
		}
		if fl.NextHeader != layers.IPProtocolUDP || int(fl.FragmentOffset)*8 != off || fl.MoreFragments != more || fl.Identification != id6 {
			t.Fatalf("Fragment header as gopacket sees it: %+v", fl)
		}

		// IPv4, gopacket to ours (gopacket cannot serialize an IPv6
		// Fragment header).
		l4 := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, Id: id, Flags: wantFlags,
			FragOffset: uint16(off / 8), SrcIP: v4a.AsSlice(), DstIP: v4b.AsSlice()}
		buf = gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, l4, gopacket.Payload(data)); err != nil {
			t.Fatal(err)
		}
		var ipp IPPacket
		err := ParseIP(buf.Bytes(), &ipp)
		if off == 0 && !more {
			if err != nil || ipp.Protocol != ProtoUDP || len(ipp.Payload) != len(data) {
				t.Fatalf("whole datagram: %v %+v", err, ipp)
			}
			continue
		}
		want := IPFragment{ID: uint32(id), Offset: off, More: more, HeaderLen: 20}
		if err != ErrFragment || ipp.Fragment != want || ipp.Protocol != ProtoUDP || !bytes.Equal(ipp.Payload, data) {
			t.Fatalf("ParseIP of gopacket's fragment = %v, %+v", err, ipp.Fragment)
		}
	}
}
