package wire_test

import (
	"fmt"
	"net/netip"

	"github.com/synack-go/synack/wire"
)

// Build a SYN as Linux sends it, then parse it back as a receiver would.
func Example() {
	src, dst := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	syn := wire.TCPSegment{
		SrcPort: 40000, DstPort: 80, Seq: 1000, Flags: wire.SYN, Window: 64240,
		Options: wire.TCPOptions{MSS: 1460, SACKPermitted: true, HasTS: true, TSVal: 1, HasWScale: true, WScale: 7},
	}
	hl := wire.IPHeaderLen(dst)
	pkt := make([]byte, hl+syn.Len())
	wire.PutIPHeader(pkt, src, dst, wire.ProtoTCP, syn.Len(), 64)
	syn.Emit(pkt[hl:])
	wire.TCP(pkt[hl:]).SetChecksum(src, dst)

	var ip wire.IPPacket
	var seg wire.TCPSegment
	if err := wire.ParseIP(pkt, &ip); err != nil {
		fmt.Println(err)
		return
	}
	if !wire.TCP(ip.Payload).VerifyChecksum(ip.Src, ip.Dst) {
		fmt.Println("bad checksum")
		return
	}
	if err := seg.Parse(wire.TCP(ip.Payload)); err != nil {
		fmt.Println(err)
		return
	}
	o := seg.Options
	fmt.Printf("%v.%d > %v.%d: Flags [%v], seq %d, win %d, options [mss %d,sackOK=%v,TS val %d ecr %d,wscale %d], length %d\n",
		ip.Src, seg.SrcPort, ip.Dst, seg.DstPort, seg.Flags, seg.Seq, seg.Window,
		o.MSS, o.SACKPermitted, o.TSVal, o.TSEcr, o.WScale, len(seg.Payload))
	// Output:
	// 10.0.0.1.40000 > 10.0.0.2.80: Flags [S], seq 1000, win 64240, options [mss 1460,sackOK=true,TS val 1 ecr 0,wscale 7], length 0
}
