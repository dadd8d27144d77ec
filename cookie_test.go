package synack

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/synack-go/synack/link/pipe"
	"github.com/synack-go/synack/tcp"
	"github.com/synack-go/synack/trace"
	"github.com/synack-go/synack/wire"
)

// A SYN flood fills the half-open queue (SynBacklog 2); SYN cookies then
// answer, and a real client still connects and moves data. With the
// accept queue full, further SYNs are dropped and counted.
func TestSynFloodCookies(t *testing.T) {
	sm := newSim(t)
	a, b := sm.Pipe(pipe.Config{})
	var rec trace.Recorder
	server := newStack(t, sm, b, Options{Addrs: []netip.Prefix{serverAddr}, SynBacklog: 2, Tracer: &rec})
	// The real client shares the flood's end of the link; the SYN-ACKs
	// to the flood's spoofed address reach it and are dropped as not its
	// own, so the flood's half-open connections stay half-open.
	client := newStack(t, sm, a, Options{Addrs: []netip.Prefix{clientAddr}})
	ln, err := server.ListenAddrPort("tcp", netip.MustParseAddrPort("10.0.0.2:80"), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	const flood = 20
	dst := netip.MustParseAddrPort("10.0.0.2:80")
	var pkts [][]byte
	for i := range flood {
		src := netip.AddrPortFrom(netip.MustParseAddr("10.0.0.66"), uint16(1000+i))
		pkts = append(pkts, packet(src, dst, &wire.TCPSegment{Seq: wire.Seq(i * 1000), Flags: wire.SYN, Window: 65535,
			Options: wire.TCPOptions{MSS: 1460, HasWScale: true, WScale: 9, SACKPermitted: true, HasTS: true, TSVal: 77}}))
	}
	if err := a.WriteBatch(pkts); err != nil {
		t.Fatal(err)
	}
	waitFor(t, sm, "flood answered", func() bool { return client.Stats().Drops.NotForUs >= flood })
	st := server.Stats()
	if st.PassiveOpens != 2 || st.SynCookiesSent != flood-2 {
		t.Fatalf("half-open %d, cookies %d; want 2 and %d", st.PassiveOpens, st.SynCookiesSent, flood-2)
	}
	// A cookie SYN-ACK carries the options the cookie encodes.
	for _, e := range rec.Events() {
		if e.Kind == trace.SegmentOut && e.Remote.Port() == 1000+flood-1 {
			o := e.Seg.Options
			if e.Seg.Flags != wire.SYN|wire.ACK || e.Seg.Ack != wire.Seq((flood-1)*1000+1) || o.MSS != 1460 ||
				!o.HasWScale || o.WScale != server.config(e.Remote.Addr()).WindowScale() || !o.SACKPermitted || !o.HasTS || o.TSEcr != 77 {
				t.Fatalf("cookie SYN-ACK %+v", e.Seg)
			}
		}
	}

	c, err := client.Dial("tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, sm, "the cookie ACK", func() bool { return server.Stats().SynCookiesValid == 1 })
	if st := server.Stats(); st.PassiveOpens != 2 {
		t.Fatalf("the dial took the SYN queue, not a cookie: %+v", st)
	}
	// The accept queue (backlog 1) now holds the cookie connection: the
	// next SYN is dropped.
	ctx, cancel := sm.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := client.DialContext(ctx, "tcp", "10.0.0.2:80"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("dial with the accept queue full: %v, want a context deadline", err)
	}
	if server.Stats().AcceptQueueDrops == 0 {
		t.Fatal("accept-queue overflow not counted")
	}
	s, err := ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	sm.Go(func() { s.Write([]byte("via cookie")) })
	buf := make([]byte, 32)
	n, _ := c.Read(buf)
	if string(buf[:n]) != "via cookie" {
		t.Fatalf("read %q", buf[:n])
	}
	// The cookie connection negotiated SACK, timestamps and window
	// scaling like any other: a bulk write needs them.
	if _, err := c.Write(make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.State != tcp.StateEstablished {
		t.Fatalf("cookie conn %+v", st)
	}
}

// When the accept queue fills between a SYN and its ACK, the ACK that
// completes the handshake is dropped and counted (Linux's
// tcp_abort_on_overflow = 0); once Accept makes room, the client's next
// ACK completes it.
func TestAcceptQueueFullDropsACK(t *testing.T) {
	sm := newSim(t)
	a, b := sm.Pipe(pipe.Config{})
	server := newStack(t, sm, b, Options{Addrs: []netip.Prefix{serverAddr}})
	peer := newRawPeer(t, sm, a)
	ln, err := server.ListenAddrPort("tcp4", netip.MustParseAddrPort("0.0.0.0:80"), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dst := netip.MustParseAddrPort("10.0.0.2:80")
	src1 := netip.MustParseAddrPort("10.0.0.1:1001")
	src2 := netip.MustParseAddrPort("10.0.0.1:1002")
	peer.sendSeg(src1, dst, wire.TCPSegment{Seq: 100, Flags: wire.SYN, Window: 65535})
	_, sa1 := peer.recv()
	peer.sendSeg(src2, dst, wire.TCPSegment{Seq: 200, Flags: wire.SYN, Window: 65535})
	_, sa2 := peer.recv()
	if sa1.Flags != wire.SYN|wire.ACK || sa2.Flags != wire.SYN|wire.ACK || sa1.DstPort != 1001 || sa2.DstPort != 1002 {
		t.Fatalf("SYN-ACKs %+v %+v", sa1, sa2)
	}
	peer.sendSeg(src1, dst, wire.TCPSegment{Seq: 101, Ack: sa1.Seq + 1, Flags: wire.ACK, Window: 65535})
	peer.sendSeg(src2, dst, wire.TCPSegment{Seq: 201, Ack: sa2.Seq + 1, Flags: wire.ACK, Window: 65535})
	waitFor(t, sm, "ACK dropped", func() bool { return server.Stats().AcceptQueueDrops == 1 })
	c1, err := ln.AcceptTCP()
	if err != nil || c1.RemoteAddr().String() != src1.String() {
		t.Fatalf("accepted %v, %v", c1, err)
	}
	peer.sendSeg(src2, dst, wire.TCPSegment{Seq: 201, Ack: sa2.Seq + 1, Flags: wire.ACK, Window: 65535})
	c2, err := ln.AcceptTCP()
	if err != nil || c2.RemoteAddr().String() != src2.String() {
		t.Fatalf("accepted %v, %v", c2, err)
	}
	if st := server.Stats(); st.ConnsEstablished != 2 || st.RSTsOut != 0 {
		t.Fatalf("stats %+v", st)
	}
}
