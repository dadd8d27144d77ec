package synack

import (
	"net/netip"
	"testing"

	"github.com/synack-go/synack/link/pipe"
	"github.com/synack-go/synack/wire"
)

// rawSYN writes a hand-built SYN from a spoofed port through ep.
func rawSYN(t *testing.T, ep interface{ WriteBatch([][]byte) error }, src, dst netip.AddrPort, seq uint32) {
	seg := wire.TCPSegment{SrcPort: src.Port(), DstPort: dst.Port(), Seq: wire.Seq(seq), Flags: wire.SYN, Window: 65535,
		Options: wire.TCPOptions{MSS: 1460}}
	pkt := make([]byte, 20+seg.Len())
	wire.PutIPHeader(pkt, src.Addr(), dst.Addr(), wire.ProtoTCP, seg.Len(), 64)
	seg.Emit(pkt[20:])
	wire.TCP(pkt[20:]).SetChecksum(src.Addr(), dst.Addr())
	if err := ep.WriteBatch([][]byte{pkt}); err != nil {
		t.Fatal(err)
	}
}

// A SYN flood fills the half-open queue; SYN cookies still let a real client
// connect, and data flows on the cookie connection.
func TestSynFloodCookies(t *testing.T) {
	a, b := pipe.New(pipe.Config{})
	server, err := NewStack(b, Options{Addrs: []netip.Prefix{serverAddr}, SynBacklog: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	ln, err := server.Listen("tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	// The flood: SYNs from an address that never answers the SYN-ACKs.
	dst := netip.MustParseAddrPort("10.0.0.2:80")
	for i := range 20 {
		rawSYN(t, a, netip.AddrPortFrom(netip.MustParseAddr("10.0.0.66"), uint16(1000+i)), dst, uint32(i*1000))
	}
	waitFor(t, func() bool { return server.Stats().SynCookiesSent >= 16 })
	// A real client on the same link end; the SYN-ACKs to the flood's
	// address reach it and are dropped as not its own.
	client, err := NewStack(a, Options{Addrs: []netip.Prefix{clientAddr}})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Write([]byte("via cookie"))
			c.Close()
		}
	}()
	c, err := client.Dial("tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 32)
	n, _ := c.Read(buf)
	if string(buf[:n]) != "via cookie" {
		t.Fatalf("read %q", buf[:n])
	}
	st := server.Stats()
	if st.SynCookiesValid != 1 {
		t.Fatalf("cookie connections %d, want 1 (sent %d)", st.SynCookiesValid, st.SynCookiesSent)
	}
}
