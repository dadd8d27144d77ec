package synack

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/synack-go/synack/inet"
	"github.com/synack-go/synack/link/pipe"
	"github.com/synack-go/synack/wire"
)

// Every packet the stack cannot use is counted by reason and never crashes
// it; segments for no connection are answered with RSTs (RFC 9293
// §3.10.7.1), except RSTs.
func TestDropsAndStrayRSTs(t *testing.T) {
	sm := newSim(t)
	a, b := sm.Pipe(pipe.Config{})
	server := newStack(t, sm, b, Options{Addrs: []netip.Prefix{serverAddr}})
	peer := newRawPeer(t, sm, a)
	src := netip.MustParseAddrPort("10.0.0.1:5000")
	dst := netip.MustParseAddrPort("10.0.0.2:80")

	badSum := packet(src, dst, &wire.TCPSegment{Seq: 1, Flags: wire.SYN})
	badSum[len(badSum)-1] ^= 0xff
	notUs := packet(src, netip.MustParseAddrPort("10.0.0.9:80"), &wire.TCPSegment{Flags: wire.SYN})
	gre := packet(src, dst, &wire.TCPSegment{Flags: wire.SYN})
	gre[9] = 47 // a protocol the stack does not speak
	fixIPv4Sum(gre)
	frag := packet(src, dst, &wire.TCPSegment{Flags: wire.SYN})
	frag[6] |= 0x20 // more fragments
	fixIPv4Sum(frag)
	// A TCP header whose data offset (60) runs past the packet, with a
	// correct checksum: it parses as malformed.
	mal := packet(src, dst, &wire.TCPSegment{Flags: wire.ACK})
	mal[20+12] = 15 << 4
	binary.BigEndian.PutUint16(mal[20+16:], 0)
	wire.TCP(mal[20:]).SetChecksum(src.Addr(), dst.Addr())
	garbage := []byte{0x45, 0, 0, 3}
	peer.send(badSum, notUs, gre, frag, mal, garbage)

	// A SYN to a closed port and an ACK to no connection get RSTs; a RST
	// gets nothing.
	peer.sendSeg(src, dst, wire.TCPSegment{Seq: 100, Flags: wire.SYN, Window: 1000})
	_, rst := peer.recv()
	if rst.Flags != wire.RST|wire.ACK || rst.Seq != 0 || rst.Ack != 101 || rst.DstPort != 5000 {
		t.Fatalf("answer to a SYN for a closed port: %+v, want <SEQ=0><ACK=101><CTL=RST,ACK>", rst)
	}
	peer.sendSeg(src, dst, wire.TCPSegment{Seq: 7, Ack: 5555, Flags: wire.ACK, Window: 1000, Payload: []byte("x")})
	if _, rst = peer.recv(); rst.Flags != wire.RST || rst.Seq != 5555 {
		t.Fatalf("answer to an ACK for no connection: %+v, want <SEQ=5555><CTL=RST>", rst)
	}
	peer.sendSeg(src, dst, wire.TCPSegment{Seq: 7, Flags: wire.RST})
	if _, seg, ok := peer.recvWithin(50 * time.Millisecond); ok {
		t.Fatalf("answer to a stray RST: %+v", seg)
	}
	st := server.Stats()
	d := st.Drops
	if d.Checksum != 1 || d.NotForUs != 1 || d.Protocol != 1 || d.Fragment != 1 || d.Malformed != 2 ||
		d.NoListener != 1 || d.NoConn != 2 || st.RSTsOut != 2 || st.RSTsIn != 1 || st.PacketsIn != 9 {
		t.Fatalf("stats %+v", st)
	}
	// The fragment carries 20 bytes with More Fragments set, not a
	// multiple of 8: reassembly drops it (RFC 791 §3.2).
	if r := server.Stats().Network.Reassembly; r.Fragments != 1 || r.Drops[inet.FragMalformed] != 1 {
		t.Fatalf("reassembly %+v", r)
	}
}

func fixIPv4Sum(p []byte) {
	binary.BigEndian.PutUint16(p[10:], 0)
	binary.BigEndian.PutUint16(p[10:], wire.Fold(wire.Sum(p[:20], 0)))
}
