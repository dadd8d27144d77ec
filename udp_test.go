package synack

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/synack-go/synack/link/pipe"
)

// readWithin reads one datagram from c, failing the test after a few
// seconds (of the stack's clock) instead of hanging.
func readWithin(t *testing.T, c *UDPConn, b []byte) (int, netip.AddrPort) {
	t.Helper()
	c.SetReadDeadline(c.s.timeNow().Add(5 * time.Second))
	n, from, err := c.ReadFromUDPAddrPort(b)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return n, from
}

func TestUDPEcho(t *testing.T) {
	_, client, server := pair(t, pipe.Config{})
	for _, tc := range []struct{ network, listen, dial string }{
		{"udp", ":7", "10.0.0.2:7"},
		{"udp", ":8", "[fd00::2]:8"},
		{"udp4", "10.0.0.2:9", "10.0.0.2:9"},
		{"udp6", "[fd00::2]:10", "[fd00::2]:10"},
	} {
		pc, err := server.ListenPacket(tc.network, tc.listen)
		if err != nil {
			t.Fatal(err)
		}
		srv := pc.(*UDPConn)
		nc, err := client.Dial(tc.network, tc.dial)
		if err != nil {
			t.Fatal(err)
		}
		cl := nc.(*UDPConn)
		for i := range 3 {
			msg := []byte{byte(i), 'p', 'i', 'n', 'g'}
			if n, err := cl.Write(msg); err != nil || n != len(msg) {
				t.Fatalf("Write = %d, %v", n, err)
			}
			buf := make([]byte, 100)
			n, from := readWithin(t, srv, buf)
			if !bytes.Equal(buf[:n], msg) || from != udpAddrPort(cl.LocalAddr().(*net.UDPAddr)) {
				t.Fatalf("server got %q from %v; client is %v", buf[:n], from, cl.LocalAddr())
			}
			if _, err := srv.WriteToUDPAddrPort(buf[:n], from); err != nil {
				t.Fatal(err)
			}
			n, reply := readWithin(t, cl, buf)
			if !bytes.Equal(buf[:n], msg) || reply.String() != tc.dial {
				t.Fatalf("client got %q from %v", buf[:n], reply)
			}
		}
		if cl.RemoteAddr().String() != tc.dial || srv.RemoteAddr() != nil {
			t.Fatalf("RemoteAddr: %v, %v", cl.RemoteAddr(), srv.RemoteAddr())
		}
		cl.Close()
		srv.Close()
	}
	if st := server.Stats().UDP; st.DatagramsIn != 12 || st.DatagramsOut != 12 || st.NoPort != 0 {
		t.Fatalf("server stats %+v", st)
	}
}

// TestUDPFragmented sends datagrams larger than the MTU both ways, in both
// families: the sender fragments, the receiver reassembles.
func TestUDPFragmented(t *testing.T) {
	_, client, server := pair(t, pipe.Config{})
	for _, tc := range []struct{ addr string }{{"10.0.0.2:4000"}, {"[fd00::2]:4000"}} {
		srv, err := server.ListenPacket("udp", tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		nc, err := client.Dial("udp", tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		cl := nc.(*UDPConn)
		max := 65507
		if tc.addr[0] == '[' {
			max = 65527
		}
		for _, size := range []int{1473, 4000, 20000, max} {
			msg := make([]byte, size)
			for i := range msg {
				msg[i] = byte(i*31 + size)
			}
			if _, err := cl.Write(msg); err != nil {
				t.Fatalf("Write(%d): %v", size, err)
			}
			buf := make([]byte, 70000)
			n, from := readWithin(t, srv.(*UDPConn), buf)
			if !bytes.Equal(buf[:n], msg) {
				t.Fatalf("%s: %d-byte datagram arrived as %d bytes, different", tc.addr, size, n)
			}
			srv.(*UDPConn).WriteToUDPAddrPort(msg, from)
			if n, _ := readWithin(t, cl, buf); !bytes.Equal(buf[:n], msg) {
				t.Fatalf("%s: %d-byte reply differs", tc.addr, size)
			}
		}
		if _, err := cl.Write(make([]byte, max+1)); !errors.Is(err, syscall.EMSGSIZE) {
			t.Fatalf("Write(%d) = %v, want EMSGSIZE", max+1, err)
		}
		cl.Close()
		srv.Close()
	}
	cst, sst := client.Stats(), server.Stats()
	cs, ss := cst.UDP, sst.UDP
	if cs.FragmentedOut != 8 || sst.Network.Reassembly.Reassembled != 8 || sst.Network.Reassembly.Drops != cst.Network.Reassembly.Drops {
		t.Fatalf("client %+v\nserver %+v", cs, ss)
	}
}

// TestUDPPortUnreachable: a datagram to a closed port is answered with ICMP
// port unreachable, which a connected socket reports once as
// ECONNREFUSED, as on Linux.
func TestUDPPortUnreachable(t *testing.T) {
	sm, client, server := pair(t, pipe.Config{})
	for _, addr := range []string{"10.0.0.2:9", "[fd00::2]:9"} {
		nc, err := client.Dial("udp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c := nc.(*UDPConn)
		if _, err := c.Write([]byte("anyone?")); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(sm.Now().Add(5 * time.Second))
		_, err = c.Read(make([]byte, 10))
		var oe *net.OpError
		if !errors.Is(err, syscall.ECONNREFUSED) || !errors.As(err, &oe) || oe.Op != "read" || oe.Net != "udp" {
			t.Fatalf("%s: Read = %v, want ECONNREFUSED", addr, err)
		}
		// Reported once: the next read waits (and times out).
		c.SetReadDeadline(sm.Now().Add(20 * time.Millisecond))
		if _, err := c.Read(make([]byte, 10)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("second Read = %v", err)
		}
		c.Close()
	}
	if st := server.Stats(); st.UDP.NoPort != 2 || st.Network.ICMPErrors != 2 {
		t.Fatalf("server %+v", st)
	}
	if st := client.Stats().UDP; st.ICMPErrors != 2 {
		t.Fatalf("client %+v", st)
	}
}

func TestUDPErrors(t *testing.T) {
	sm, client, server := pair(t, pipe.Config{})
	pc, err := server.ListenPacket("udp", ":53")
	if err != nil {
		t.Fatal(err)
	}
	srv := pc.(*UDPConn)
	if _, err := server.ListenPacket("udp4", "10.0.0.2:53"); err != nil {
		t.Fatalf("a specific address beside a wildcard: %v", err)
	}
	for _, tc := range []struct {
		network, addr string
		want          error
	}{
		{"udp", ":53", syscall.EADDRINUSE},
		{"udp", "10.0.0.9:1", syscall.EADDRNOTAVAIL},
		{"udp4", "[fd00::2]:1", nil},
		{"udp9", ":1", nil},
	} {
		_, err := server.ListenPacket(tc.network, tc.addr)
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("ListenPacket(%s, %s) = %v, want %v", tc.network, tc.addr, err, tc.want)
		}
	}
	// Reads: deadline, a deadline moved while blocked, Close.
	srv.SetReadDeadline(sm.Now().Add(10 * time.Millisecond))
	_, _, err = srv.ReadFrom(make([]byte, 1))
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() || sm.Elapsed() != 10*time.Millisecond {
		t.Fatalf("ReadFrom at the deadline = %v at %v", err, sm.Elapsed())
	}
	srv.SetReadDeadline(time.Time{})
	readFrom := func() error { _, _, err := srv.ReadFrom(make([]byte, 1)); return err }
	read := startErr(sm, readFrom)
	sm.RunFor(time.Millisecond)                     // the read blocks
	srv.SetReadDeadline(sm.Now().Add(-time.Second)) // wakes the blocked read
	if _, err := read.get(t); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("ReadFrom after a past deadline = %v", err)
	}
	srv.SetReadDeadline(time.Time{})
	read = startErr(sm, readFrom)
	sm.RunFor(time.Millisecond)
	srv.Close()
	if _, err := read.get(t); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("ReadFrom after Close = %v", err)
	}
	if err := srv.Close(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second Close = %v", err)
	}
	if _, err := srv.WriteTo([]byte("x"), &net.UDPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 1}); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("WriteTo after Close = %v", err)
	}
	if _, err := server.ListenPacket("udp", ":53"); err != nil {
		t.Fatalf("the port is not free after Close: %v", err)
	}
	// Writes on the wrong kind of socket.
	conn, err := client.DialUDP("udp", nil, &net.UDPAddr{IP: net.IPv4(10, 0, 0, 2), Port: 53})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.WriteTo([]byte("x"), &net.UDPAddr{IP: net.IPv4(10, 0, 0, 2), Port: 54}); !errors.Is(err, net.ErrWriteToConnected) {
		t.Fatalf("WriteTo on a connected socket = %v", err)
	}
	unconn, err := client.ListenUDP("udp", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unconn.Write([]byte("x")); !errors.Is(err, syscall.EDESTADDRREQ) {
		t.Fatalf("Write on an unconnected socket = %v", err)
	}
	if _, err := unconn.WriteTo([]byte("x"), &net.TCPAddr{}); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("WriteTo with a TCP address = %v", err)
	}
	conn.SetWriteDeadline(sm.Now().Add(-time.Second))
	if _, err := conn.Write([]byte("x")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Write past the deadline = %v", err)
	}
	if _, err := client.DialUDP("udp", nil, nil); err == nil {
		t.Fatal("DialUDP to nil")
	}
	client.Close()
	if _, err := conn.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read after Stack.Close = %v", err)
	}
}

// TestUDPQueueBound: a socket nobody reads keeps at most its read buffer;
// the rest is dropped and counted.
func TestUDPQueueBound(t *testing.T) {
	sm, client, server := pair(t, pipe.Config{QueueLen: 512})
	pc, _ := server.ListenPacket("udp", ":5")
	srv := pc.(*UDPConn)
	srv.SetReadBuffer(8 << 10)
	nc, _ := client.Dial("udp", "10.0.0.2:5")
	for range 100 {
		nc.Write(make([]byte, 1000))
	}
	// A marker datagram after the flood tells the read loop is through:
	// sent on another socket, it lands in another queue.
	mark, _ := server.ListenPacket("udp", ":6")
	nc2, _ := client.Dial("udp", "10.0.0.2:6")
	nc2.Write([]byte("m"))
	readWithin(t, mark.(*UDPConn), make([]byte, 10))
	st := server.Stats().UDP
	got := 0
	for {
		srv.SetReadDeadline(sm.Now().Add(10 * time.Millisecond))
		if _, err := srv.Read(make([]byte, 2000)); err != nil {
			break
		}
		got++
	}
	if got == 0 || got > 8 || st.QueueDrops == 0 || int(st.QueueDrops)+got != 100 {
		t.Fatalf("read %d datagrams, %d dropped", got, st.QueueDrops)
	}
}

// TestUDPForwarder: flows to any address reach the handler with the
// original destination as their local address; replies come from it; idle
// flows close; MaxFlows bounds them.
func TestUDPForwarder(t *testing.T) {
	sm, client, server := pair(t, pipe.Config{})
	var conns []*UDPConn
	handle := func(c *UDPConn) { conns = append(conns, c) } // on a goroutine of the simulation
	f, err := server.ForwardUDP(UDPForwardOptions{AnyAddress: true, IdleTimeout: 300 * time.Millisecond,
		StreamTimeout: 600 * time.Millisecond}, handle)
	if err != nil {
		t.Fatal(err)
	}
	next := func() *UDPConn {
		t.Helper()
		waitFor(t, sm, "a flow reaching the handler", func() bool { return len(conns) > 0 })
		c := conns[0]
		conns = conns[1:]
		return c
	}
	for _, dst := range []string{"203.0.113.5:53", "[2001:db8::5]:443"} {
		nc, err := client.Dial("udp", dst)
		if err != nil {
			t.Fatal(err)
		}
		cl := nc.(*UDPConn)
		cl.Write([]byte("query"))
		fc := next()
		if fc.LocalAddr().String() != dst || fc.RemoteAddr().String() != cl.LocalAddr().String() {
			t.Fatalf("flow %v -> %v, client %v -> %v", fc.RemoteAddr(), fc.LocalAddr(), cl.LocalAddr(), dst)
		}
		buf := make([]byte, 100)
		n, _ := readWithin(t, fc, buf)
		if string(buf[:n]) != "query" {
			t.Fatalf("flow read %q", buf[:n])
		}
		fc.Write([]byte("answer"))
		if n, from := readWithin(t, cl, buf); string(buf[:n]) != "answer" || from.String() != dst {
			t.Fatalf("client read %q from %v", buf[:n], from)
		}
		cl.Write([]byte("again")) // the same flow: no new handler call
		if n, _ := readWithin(t, fc, buf); string(buf[:n]) != "again" {
			t.Fatalf("flow read %q", buf[:n])
		}
		// Idle: the stack closes the flow, and the blocked read returns,
		// after the stream timeout (600 ms) since the last datagram: the
		// flow carried traffic both ways.
		last := sm.Now()
		fc.SetReadDeadline(sm.Now().Add(5 * time.Second))
		if _, err := fc.Read(buf); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read on an idle flow = %v", err)
		}
		if idle := sm.Now().Sub(last); idle != 600*time.Millisecond {
			t.Fatalf("%s: the idle flow closed after %v, want the stream timeout, 600ms", dst, idle)
		}
		cl.Close()
	}
	// MaxFlows: the third concurrent flow is refused. A second forwarder,
	// with the default timeouts, takes over new flows.
	if _, err := server.ForwardUDP(UDPForwardOptions{AnyAddress: true, MaxFlows: 2}, handle); err != nil {
		t.Fatal(err)
	}
	var first, firstFlow *UDPConn
	for i := range 3 {
		nc, _ := client.Dial("udp", netip.AddrPortFrom(netip.MustParseAddr("198.51.100.7"), uint16(100+i)).String())
		nc.Write([]byte("x"))
		defer nc.Close()
		if i < 2 {
			fc := next()
			defer fc.Close()
			if i == 0 {
				first, firstFlow = nc.(*UDPConn), fc
				readWithin(t, fc, make([]byte, 10))
			}
		}
	}
	// The read loop takes packets in order: once a later datagram of the
	// first flow arrives, the third flow's was dealt with.
	first.Write([]byte("mark"))
	readWithin(t, firstFlow, make([]byte, 10))
	if st := server.Stats().UDP; st.ForwardDrops != 1 || st.ForwardedFlows != 4 || st.IdleExpired != 2 {
		t.Fatalf("stats %+v", st)
	}
	f.Close()
	if err := f.Close(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second Close = %v", err)
	}
}

// TestUDPForwarderLocalOnly: without AnyAddress, only flows to the stack's
// own addresses are forwarded, and others are not for us.
func TestUDPForwarderLocalOnly(t *testing.T) {
	sm, client, server := pair(t, pipe.Config{})
	var conns []*UDPConn
	if _, err := server.ForwardUDP(UDPForwardOptions{}, func(c *UDPConn) { conns = append(conns, c) }); err != nil {
		t.Fatal(err)
	}
	foreign, _ := client.Dial("udp", "203.0.113.5:53")
	foreign.Write([]byte("x"))
	local, _ := client.Dial("udp", "10.0.0.2:53")
	local.Write([]byte("y"))
	waitFor(t, sm, "the local flow forwarded", func() bool { return len(conns) > 0 })
	if c := conns[0]; len(conns) != 1 || c.LocalAddr().String() != "10.0.0.2:53" {
		t.Fatalf("forwarded %d flows, the first to %v", len(conns), c.LocalAddr())
	}
	conns[0].Close()
	if st := server.Stats().UDP; st.NotForUs != 1 || st.ForwardedFlows != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// BenchmarkUDPRoundTrip sends a 1200-byte datagram and reads its echo:
// the steady state allocates nothing.
func BenchmarkUDPRoundTrip(b *testing.B) {
	client, server := wallPair(b, pipe.Config{})
	pc, err := server.ListenPacket("udp", ":7")
	if err != nil {
		b.Fatal(err)
	}
	srv := pc.(*UDPConn)
	go func() {
		buf := make([]byte, 2000)
		for {
			n, from, err := srv.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			srv.WriteToUDPAddrPort(buf[:n], from)
		}
	}()
	nc, _ := client.Dial("udp", "10.0.0.2:7")
	c := nc.(*UDPConn)
	msg, buf := make([]byte, 1200), make([]byte, 2000)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		c.Write(msg)
		if _, err := c.Read(buf); err != nil {
			b.Fatal(err)
		}
	}
}
