package wire

// Cross-checks against gopacket, an independent decoder and encoder: packets
// built here must decode there with the same meaning and valid checksums, and
// packets built there must parse here.

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

func flagsOf(l *layers.TCP) TCPFlags {
	var f TCPFlags
	for _, b := range []struct {
		on bool
		f  TCPFlags
	}{{l.FIN, FIN}, {l.SYN, SYN}, {l.RST, RST}, {l.PSH, PSH}, {l.ACK, ACK}, {l.URG, URG}, {l.ECE, ECE}, {l.CWR, CWR}} {
		if b.on {
			f |= b.f
		}
	}
	return f
}

func setFlags(l *layers.TCP, f TCPFlags) {
	l.FIN, l.SYN, l.RST, l.PSH = f&FIN != 0, f&SYN != 0, f&RST != 0, f&PSH != 0
	l.ACK, l.URG, l.ECE, l.CWR = f&ACK != 0, f&URG != 0, f&ECE != 0, f&CWR != 0
}

// optionsOf interprets gopacket's decoded option list on its own, without
// this package's parser. Only NOP and the five known kinds are expected.
func optionsOf(t *testing.T, opts []layers.TCPOption) TCPOptions {
	t.Helper()
	var o TCPOptions
	for _, op := range opts {
		d := op.OptionData
		switch op.OptionType {
		case layers.TCPOptionKindNop:
		case layers.TCPOptionKindMSS:
			o.MSS = binary.BigEndian.Uint16(d)
		case layers.TCPOptionKindWindowScale:
			o.HasWScale, o.WScale = true, d[0]
		case layers.TCPOptionKindSACKPermitted:
			o.SACKPermitted = true
		case layers.TCPOptionKindTimestamps:
			o.HasTS, o.TSVal, o.TSEcr = true, binary.BigEndian.Uint32(d), binary.BigEndian.Uint32(d[4:])
		case layers.TCPOptionKindSACK:
			o.NumSACK = len(d) / 8
			for i := range o.NumSACK {
				o.SACK[i] = SACKBlock{Seq(binary.BigEndian.Uint32(d[8*i:])), Seq(binary.BigEndian.Uint32(d[8*i+4:]))}
			}
		default:
			t.Fatalf("unexpected option %v", op)
		}
	}
	return o
}

func TestGopacketDecodesWire(t *testing.T) {
	r := newRand(7)
	for i := range 400 {
		v6 := i%2 == 1
		src, dst := randAddrs(r, v6)
		s := randSegment(r, 300)
		ttl := uint8(r.Uint32())
		pkt := buildPacket(src, dst, &s, ttl)
		hl := IPHeaderLen(dst)

		first := layers.LayerTypeIPv4
		if v6 {
			first = layers.LayerTypeIPv6
		}
		p := gopacket.NewPacket(pkt, first, gopacket.DecodeOptions{NoCopy: true})
		if el := p.ErrorLayer(); el != nil {
			t.Fatalf("gopacket: %v", el.Error())
		}
		var nl gopacket.NetworkLayer
		if v6 {
			ip := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
			if ip.Version != 6 || ip.TrafficClass != 0 || ip.FlowLabel != 0 || int(ip.Length) != s.Len() ||
				ip.NextHeader != layers.IPProtocolTCP || ip.HopLimit != ttl ||
				!ip.SrcIP.Equal(src.AsSlice()) || !ip.DstIP.Equal(dst.AsSlice()) {
				t.Fatalf("IPv6 header as gopacket sees it: %+v", ip)
			}
			nl = ip
		} else {
			ip := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
			if ip.Version != 4 || ip.IHL != 5 || ip.TOS != 0 || int(ip.Length) != len(pkt) || ip.Id != 0 ||
				ip.Flags != layers.IPv4DontFragment || ip.FragOffset != 0 || ip.TTL != ttl ||
				ip.Protocol != layers.IPProtocolTCP || !ip.SrcIP.Equal(src.AsSlice()) || !ip.DstIP.Equal(dst.AsSlice()) {
				t.Fatalf("IPv4 header as gopacket sees it: %+v", ip)
			}
			// gopacket recomputes the header checksum: same bytes.
			cp := *ip
			buf := gopacket.NewSerializeBuffer()
			if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true}, &cp, gopacket.Payload(ip.Payload)); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), pkt) {
				t.Fatalf("gopacket's IPv4 serialization differs:\n% x\n% x", buf.Bytes()[:20], pkt[:20])
			}
			nl = ip
		}

		tl := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if uint16(tl.SrcPort) != s.SrcPort || uint16(tl.DstPort) != s.DstPort || Seq(tl.Seq) != s.Seq ||
			Seq(tl.Ack) != s.Ack || flagsOf(tl) != s.Flags || tl.NS || tl.Window != s.Window || tl.Urgent != s.Urgent ||
			int(tl.DataOffset)*4 != s.HeaderLen() || len(tl.Padding) != 0 || !bytes.Equal(tl.Payload, s.Payload) {
			t.Fatalf("TCP header as gopacket sees it: %+v\nwant %+v", tl, s)
		}
		if got, want := optionsOf(t, tl.Options), normalized(s.Options); got != want {
			t.Fatalf("options as gopacket sees them: %v\ngot  %+v\nwant %+v", tl.Options, got, want)
		}
		// gopacket recomputes the TCP checksum over its pseudo-header: same
		// bytes, checksum included.
		cp := *tl
		if err := cp.SetNetworkLayerForChecksum(nl); err != nil {
			t.Fatal(err)
		}
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true}, &cp, gopacket.Payload(tl.Payload)); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), pkt[hl:]) {
			t.Fatalf("gopacket's TCP serialization differs (checksum %#04x, ours %#04x):\n% x\n% x",
				cp.Checksum, TCP(pkt[hl:]).Checksum(), buf.Bytes(), pkt[hl:])
		}
	}
}

// randGopacketOptions returns a random option list in random order, with
// NOPs and an unknown option sprinkled in, of at most 40 bytes, and what it
// means.
func randGopacketOptions(r *rand.Rand) ([]layers.TCPOption, TCPOptions) {
	for {
		var opts []layers.TCPOption
		var want TCPOptions
		add := func(kind layers.TCPOptionKind, data []byte) {
			opts = append(opts, layers.TCPOption{OptionType: kind, OptionLength: uint8(2 + len(data)), OptionData: data})
		}
		if r.IntN(2) == 0 {
			want.MSS = uint16(1 + r.IntN(65535))
			add(layers.TCPOptionKindMSS, binary.BigEndian.AppendUint16(nil, want.MSS))
		}
		if r.IntN(2) == 0 {
			want.HasWScale, want.WScale = true, uint8(r.IntN(15))
			add(layers.TCPOptionKindWindowScale, []byte{want.WScale})
		}
		if r.IntN(2) == 0 {
			want.SACKPermitted = true
			add(layers.TCPOptionKindSACKPermitted, nil)
		}
		if r.IntN(2) == 0 {
			want.HasTS, want.TSVal, want.TSEcr = true, r.Uint32(), r.Uint32()
			add(layers.TCPOptionKindTimestamps, binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, want.TSVal), want.TSEcr))
		}
		if r.IntN(2) == 0 {
			want.NumSACK = 1 + r.IntN(4)
			var d []byte
			for i := range want.NumSACK {
				want.SACK[i] = SACKBlock{Seq(r.Uint32()), Seq(r.Uint32())}
				d = binary.BigEndian.AppendUint32(d, uint32(want.SACK[i].Left))
				d = binary.BigEndian.AppendUint32(d, uint32(want.SACK[i].Right))
			}
			add(layers.TCPOptionKindSACK, d)
		}
		if r.IntN(3) == 0 {
			add(253, []byte{0xab, 0xcd}) // RFC 6994 experimental: skipped
		}
		for range r.IntN(4) {
			opts = append(opts, layers.TCPOption{OptionType: layers.TCPOptionKindNop, OptionLength: 1})
		}
		r.Shuffle(len(opts), func(i, j int) { opts[i], opts[j] = opts[j], opts[i] })
		n := 0
		for _, o := range opts {
			n += int(o.OptionLength)
		}
		if n <= TCPMaxOptionsLen {
			return opts, want
		}
	}
}

func TestWireParsesGopacket(t *testing.T) {
	r := newRand(8)
	for i := range 400 {
		v6 := i%2 == 1
		src, dst := randAddrs(r, v6)
		want := TCPSegment{
			SrcPort: uint16(r.Uint32()), DstPort: uint16(r.Uint32()),
			Seq: Seq(r.Uint32()), Ack: Seq(r.Uint32()), Flags: TCPFlags(r.Uint32()),
			Window: uint16(r.Uint32()), Urgent: uint16(r.Uint32()),
			Payload: make([]byte, r.IntN(300)),
		}
		for j := range want.Payload {
			want.Payload[j] = byte(r.Uint32())
		}
		tl := &layers.TCP{
			SrcPort: layers.TCPPort(want.SrcPort), DstPort: layers.TCPPort(want.DstPort),
			Seq: uint32(want.Seq), Ack: uint32(want.Ack), Window: want.Window, Urgent: want.Urgent,
		}
		setFlags(tl, want.Flags)
		tl.Options, want.Options = randGopacketOptions(r)

		ttl := uint8(r.Uint32())
		var ipl interface {
			gopacket.NetworkLayer
			gopacket.SerializableLayer
		}
		if v6 {
			ip := &layers.IPv6{Version: 6, HopLimit: ttl, NextHeader: layers.IPProtocolTCP,
				SrcIP: net.IP(src.AsSlice()), DstIP: net.IP(dst.AsSlice())}
			if i%4 == 1 {
				// A Hop-by-Hop header with Router Alert (RFC 2711), skipped.
				ip.NextHeader = layers.IPProtocolIPv6HopByHop
				ip.HopByHop = &layers.IPv6HopByHop{Options: []*layers.IPv6HopByHopOption{
					{OptionType: 5, OptionLength: 2, OptionData: []byte{0, 0}},
					{OptionType: 1, OptionLength: 0}, // PadN to 8 bytes
				}}
				ip.HopByHop.NextHeader = layers.IPProtocolTCP
			}
			ipl = ip
		} else {
			ip := &layers.IPv4{Version: 4, TTL: ttl, Protocol: layers.IPProtocolTCP, Id: uint16(r.Uint32()),
				SrcIP: net.IP(src.AsSlice()), DstIP: net.IP(dst.AsSlice())}
			if r.IntN(2) == 0 {
				ip.Flags = layers.IPv4DontFragment
			}
			if i%4 == 0 {
				// Router Alert (RFC 2113), skipped.
				ip.Options = []layers.IPv4Option{{OptionType: 0x94, OptionLength: 4, OptionData: []byte{0, 0}}}
			}
			ipl = ip
		}
		if err := tl.SetNetworkLayerForChecksum(ipl); err != nil {
			t.Fatal(err)
		}
		buf := gopacket.NewSerializeBuffer()
		opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
		if err := gopacket.SerializeLayers(buf, opts, ipl, tl, gopacket.Payload(want.Payload)); err != nil {
			t.Fatal(err)
		}
		pkt := buf.Bytes()
		if v6 && i%4 == 1 && IPv6(pkt).NextHeader() != ipv6HopByHop {
			t.Fatalf("gopacket left out the Hop-by-Hop header")
		}
		if !v6 && i%4 == 0 && IPv4(pkt).HeaderLen() != 24 {
			t.Fatalf("gopacket left out the IPv4 option")
		}

		var p IPPacket
		if err := ParseIP(pkt, &p); err != nil {
			t.Fatalf("ParseIP(% x): %v", pkt, err)
		}
		if p.Src != src || p.Dst != dst || p.Protocol != ProtoTCP {
			t.Fatalf("ParseIP: %v -> %v proto %d, want %v -> %v", p.Src, p.Dst, p.Protocol, src, dst)
		}
		if !TCP(p.Payload).VerifyChecksum(p.Src, p.Dst) {
			t.Fatalf("gopacket's TCP checksum %#04x does not verify", tl.Checksum)
		}
		var got TCPSegment
		if err := got.Parse(TCP(p.Payload)); err != nil {
			t.Fatalf("Parse(% x): %v", p.Payload, err)
		}
		if d := segDiff(&got, &want); d != "" {
			t.Fatalf("%s\noptions on the wire: % x", d, TCP(p.Payload).Options())
		}
	}
}

func TestGopacketChecksumEdgeCases(t *testing.T) {
	// Odd payload lengths and all-ones headers and payloads, verified by
	// gopacket's own checksum code, for both families.
	for n := range 140 {
		src, dst := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("198.51.100.7")
		first := layers.LayerTypeIPv4
		if n >= 70 {
			src, dst = netip.MustParseAddr("2001:db8::ffff:ffff"), netip.MustParseAddr("fe80::1")
			first = layers.LayerTypeIPv6
		}
		s := TCPSegment{SrcPort: 0xffff, DstPort: 0xffff, Seq: 0xffffffff, Ack: 0xffffffff, Flags: 0xff,
			Window: 0xffff, Urgent: 0xffff, Payload: bytes.Repeat([]byte{0xff}, n%70)}
		pkt := buildPacket(src, dst, &s, 255)
		p := gopacket.NewPacket(pkt, first, gopacket.Default)
		tl := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if err := tl.SetNetworkLayerForChecksum(p.NetworkLayer()); err != nil {
			t.Fatal(err)
		}
		// gopacket sums the segment as it is, our checksum field included:
		// 0 means the checksum verifies.
		sum, err := tl.ComputeChecksum()
		if err != nil {
			t.Fatal(err)
		}
		if sum != 0 {
			t.Fatalf("payload %d: our checksum %#04x does not verify in gopacket (%#04x)", n, tl.Checksum, sum)
		}
	}
}
