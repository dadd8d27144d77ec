package synack

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/synack-go/synack/link/pipe"
	"github.com/synack-go/synack/sim"
	"github.com/synack-go/synack/wire"
)

// forwardPair returns two stacks on a simulated link, the server with a
// TCP forwarder for any address whose handler decides with decide (on a
// goroutine of the simulation), and a pointer to the number of requests
// the handler saw.
func forwardPair(t *testing.T, opts TCPForwardOptions, decide func(*TCPRequest)) (sm *sim.Sim, client, server *Stack, calls *int) {
	t.Helper()
	sm, client, server = pair(t, pipe.Config{})
	n := 0
	if _, err := server.ForwardTCP(opts, func(r *TCPRequest) { n++; decide(r) }); err != nil {
		t.Fatal(err)
	}
	return sm, client, server, &n
}

// An accepted request is a connection from the address the client dialled,
// whatever it is: data flows both ways, and the client's later packets
// find it.
func TestForwardTCPAccept(t *testing.T) {
	var accepted []*Conn
	sm, client, server, calls := forwardPair(t, TCPForwardOptions{AnyAddress: true}, func(r *TCPRequest) {
		c, err := r.Accept(context.Background())
		if err != nil {
			t.Errorf("Accept: %v", err)
			return
		}
		accepted = append(accepted, c)
		io.Copy(c, c)
		c.Close()
	})
	for _, dst := range []string{"203.0.113.5:80", "[2001:db8::5]:443", "10.0.0.2:22"} {
		nc, err := client.Dial("tcp", dst)
		if err != nil {
			t.Fatalf("%s: %v", dst, err)
		}
		c := nc.(*Conn)
		msg := make([]byte, 100<<10)
		for i := range msg {
			msg[i] = byte(i * 7)
		}
		sm.Go(func() {
			c.Write(msg)
			c.CloseWrite()
		})
		got, err := io.ReadAll(c)
		if err != nil || string(got) != string(msg) {
			t.Fatalf("%s: echoed %d of %d bytes, %v", dst, len(got), len(msg), err)
		}
		fc := accepted[len(accepted)-1]
		if fc.LocalAddr().String() != dst || fc.RemoteAddr().String() != c.LocalAddr().String() {
			t.Fatalf("forwarded %v <- %v, client %v -> %v", fc.LocalAddr(), fc.RemoteAddr(), c.LocalAddr(), dst)
		}
		c.Close()
	}
	st := server.Stats()
	if *calls != 3 || st.Forwarded.Requests != 3 || st.Forwarded.Accepted != 3 || st.Drops.NotForUs != 0 {
		t.Fatalf("%d calls, %+v, drops %+v", *calls, st.Forwarded, st.Drops)
	}
}

// Refuse, Unreachable and Ignore answer the client as the destination, or
// a router on the way, would have: ECONNREFUSED at once from a RST or a
// port unreachable, EACCES at once from an IPv6 administrative
// prohibition (a hard error), EHOSTUNREACH when the SYN retries run out
// after host unreachable (a soft error, RFC 1122 §4.2.3.9; each of the
// client's seven SYNs is asked about), and a timeout from silence, during
// which the client's retransmitted SYNs do not call the handler again.
func TestForwardTCPRefusals(t *testing.T) {
	for _, tc := range []struct {
		name, dst string
		decide    func(*TCPRequest)
		want      error
		at        time.Duration // how long the client's Dial took, at most
	}{
		{"refuse", "198.51.100.1:80", (*TCPRequest).Refuse, syscall.ECONNREFUSED, time.Second},
		{"port", "198.51.100.1:81", func(r *TCPRequest) { r.Unreachable(UnreachPort) }, syscall.ECONNREFUSED, time.Second},
		{"prohibited6", "[2001:db8::1]:80", func(r *TCPRequest) { r.Unreachable(UnreachProhibited) }, syscall.EACCES, time.Second},
		{"host", "198.51.100.1:82", func(r *TCPRequest) { r.Unreachable(UnreachHost) }, syscall.EHOSTUNREACH, 200 * time.Second},
		{"ignore", "198.51.100.1:83", (*TCPRequest).Ignore, context.DeadlineExceeded, 31 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sm, client, server, calls := forwardPair(t, TCPForwardOptions{AnyAddress: true}, tc.decide)
			ctx, cancel := sm.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if tc.name == "host" {
				ctx = context.Background()
			}
			t0 := sm.Now()
			_, err := client.DialContext(ctx, "tcp", tc.dst)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Dial = %v, want %v", err, tc.want)
			}
			if took := sm.Now().Sub(t0); took > tc.at {
				t.Fatalf("Dial failed after %v, want within %v", took, tc.at)
			}
			// A soft error leaves the client retrying; each SYN is a new
			// request, as a router answers each packet. The others end
			// the attempt, or their SYNs are absorbed.
			if want := 1; *calls != want && !(tc.name == "host" && *calls == 7) {
				t.Fatalf("the handler was called %d times", *calls)
			}
			if st := server.Stats(); st.ConnsEstablished != 0 {
				t.Fatalf("a connection was established: %+v", st.Forwarded)
			}
		})
	}
}

// Without AnyAddress the forwarder takes SYNs to the stack's own addresses
// that no listener owns; others are not for us, and a listener still wins
// for its port.
func TestForwardTCPLocalOnly(t *testing.T) {
	sm, client, server, calls := forwardPair(t, TCPForwardOptions{}, (*TCPRequest).Refuse)
	ln, err := server.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := start(sm, ln.Accept)
	if _, err := client.Dial("tcp", "10.0.0.2:80"); err != nil {
		t.Fatal(err)
	}
	if _, err := accepted.get(t); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Dial("tcp", "10.0.0.2:81"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("Dial to a port no listener has = %v", err)
	}
	ctx, cancel := sm.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := client.DialContext(ctx, "tcp", "203.0.113.9:80"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial to a foreign address = %v", err)
	}
	if st := server.Stats(); *calls != 1 || st.Drops.NotForUs == 0 {
		t.Fatalf("%d calls, %d not for us", *calls, st.Drops.NotForUs)
	}
}

// Past MaxPending, SYNs get a SYN cookie: the client's handshake completes
// at once, and the handler gets the connection when the cookie comes back,
// already established.
func TestForwardTCPCookies(t *testing.T) {
	var held []*TCPRequest
	sm, client, server, calls := forwardPair(t, TCPForwardOptions{AnyAddress: true, MaxPending: 1}, func(r *TCPRequest) {
		held = append(held, r)
	})
	first := start(sm, func() (net.Conn, error) { return client.Dial("tcp", "203.0.113.1:80") })
	waitFor(t, sm, "the first request", func() bool { return len(held) == 1 })
	second, err := client.Dial("tcp", "203.0.113.2:80") // answered with a cookie
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, sm, "the cookie's request", func() bool { return len(held) == 2 })
	c2, err := held[1].Accept(context.Background())
	if err != nil || c2.LocalAddr().String() != "203.0.113.2:80" {
		t.Fatalf("cookie Accept = %v, %v", c2, err)
	}
	second.Write([]byte("hi"))
	buf := make([]byte, 2)
	if _, err := io.ReadFull(c2, buf); err != nil || string(buf) != "hi" {
		t.Fatalf("read %q, %v", buf, err)
	}
	if _, err := held[0].Accept(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := first.get(t); err != nil {
		t.Fatal(err)
	}
	if _, err := held[0].Accept(context.Background()); err == nil {
		t.Fatal("a second decision succeeded")
	}
	if st := server.Stats().Forwarded; *calls != 2 || st.Cookies != 1 || st.Accepted != 2 {
		t.Fatalf("%d calls, %+v", *calls, st)
	}
}

// Refuse quotes nothing and Unreachable quotes the client's own SYN, from
// the address it dialled: a raw client checks the packets.
func TestForwardTCPUnreachableQuote(t *testing.T) {
	sm := newSim(t)
	a, b := sm.Pipe(pipe.Config{})
	s := newStack(t, sm, b, Options{Addrs: []netip.Prefix{serverAddr}})
	peer := newRawPeer(t, sm, a)
	if _, err := s.ForwardTCP(TCPForwardOptions{AnyAddress: true}, func(r *TCPRequest) { r.Unreachable(UnreachNet) }); err != nil {
		t.Fatal(err)
	}
	src, dst := netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("192.0.2.7:443")
	syn := packet(src, dst, &wire.TCPSegment{SrcPort: src.Port(), DstPort: dst.Port(), Seq: 1000, Flags: wire.SYN, Window: 65535})
	peer.send(syn)
	ip, m, ok := peer.recvICMP(time.Second)
	if !ok {
		t.Fatal("no ICMP error")
	}
	if ip.Src != dst.Addr() || ip.Dst != src.Addr() || m.Type != wire.ICMPv4DestUnreachable || m.Code != wire.ICMPv4NetUnreachable {
		t.Fatalf("ICMP %v -> %v type %d code %d", ip.Src, ip.Dst, m.Type, m.Code)
	}
	if string(m.Body) != string(syn) {
		t.Fatalf("the quote is not the client's SYN:\n%x\n%x", m.Body, syn)
	}
}

// WaitRead returns once a Read would not block: data, then the peer's FIN;
// at the read deadline and after Close it fails as Read does.
func TestWaitRead(t *testing.T) {
	sm, client, server := pair(t, pipe.Config{})
	c, s := connected(t, client, server, "10.0.0.2:80")
	waited := startErr(sm, s.WaitRead)
	sm.Go(func() { c.Write([]byte("x")) })
	if _, err := waited.get(t); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1)
	if n, err := s.Read(buf); n != 1 || err != nil {
		t.Fatalf("Read = %d, %v", n, err)
	}
	s.SetReadDeadline(sm.Now().Add(time.Second))
	if err := s.WaitRead(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("WaitRead at the deadline = %v", err)
	}
	s.SetReadDeadline(time.Time{})
	c.CloseWrite()
	if err := s.WaitRead(); err != nil {
		t.Fatalf("WaitRead after the FIN = %v", err)
	}
	if _, err := s.Read(buf); err != io.EOF {
		t.Fatalf("Read after the FIN = %v", err)
	}
	s.Close()
	if err := s.WaitRead(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("WaitRead after Close = %v", err)
	}
}

// A forwarded UDP flow's Unreachable reaches the client's connected socket
// as the error a closed port would give it: ECONNREFUSED, once.
func TestUDPForwardUnreachable(t *testing.T) {
	sm, client, server := pair(t, pipe.Config{})
	var flows []*UDPConn
	if _, err := server.ForwardUDP(UDPForwardOptions{AnyAddress: true}, func(c *UDPConn) { flows = append(flows, c) }); err != nil {
		t.Fatal(err)
	}
	for _, dst := range []string{"203.0.113.5:53", "[2001:db8::5]:53"} {
		nc, err := client.Dial("udp", dst)
		if err != nil {
			t.Fatal(err)
		}
		nc.Write([]byte("q"))
		waitFor(t, sm, "the flow", func() bool { return len(flows) > 0 })
		fc := flows[0]
		flows = flows[1:]
		if err := fc.Unreachable(UnreachPort); err != nil {
			t.Fatal(err)
		}
		nc.SetReadDeadline(sm.Now().Add(time.Second))
		if _, err := nc.Read(make([]byte, 10)); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("%s: Read = %v, want ECONNREFUSED", dst, err)
		}
		fc.Close()
		if err := fc.Unreachable(UnreachPort); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Unreachable after Close = %v", err)
		}
		nc.Close()
	}
}

// A forwarded connection that closes first keeps TIME_WAIT under its
// original destination, whatever the address; a new SYN from the same
// client port with newer timestamps ends it (RFC 6191) and is forwarded
// again.
func TestForwardTCPTimeWait(t *testing.T) {
	var accepted []*Conn
	sm, client, server, calls := forwardPair(t, TCPForwardOptions{AnyAddress: true}, func(r *TCPRequest) {
		c, err := r.Accept(context.Background())
		if err != nil {
			t.Errorf("Accept: %v", err)
			return
		}
		accepted = append(accepted, c)
		c.Close() // the forwarded side closes first
	})
	local := netip.MustParseAddrPort("10.0.0.1:40001")
	dst := netip.MustParseAddrPort("203.0.113.9:80")
	for round := range 2 {
		c, err := client.DialAddrPort(context.Background(), local, dst)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if _, err := io.ReadAll(c); err != nil {
			t.Fatal(err)
		}
		c.Close()
		waitFor(t, sm, "TIME_WAIT on the forwarding side", func() bool { return server.Stats().TimeWait == 1 })
		cs := server.Connections()
		if len(cs) != 1 || cs[0].Local != dst || cs[0].Remote != local {
			t.Fatalf("round %d: connections %+v", round, cs)
		}
		waitFor(t, sm, "the client's side to close", func() bool { return len(client.Connections()) == 0 })
		sm.RunFor(10 * time.Millisecond) // the next SYN's timestamp is newer

	}
	if st := server.Stats(); *calls != 2 || st.TimeWaitReused != 1 || st.TimeWaitOverflow != 0 {
		t.Fatalf("%d calls, %d reused, %d overflow", *calls, st.TimeWaitReused, st.TimeWaitOverflow)
	}
}
