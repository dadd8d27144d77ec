package synack

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/synack-go/synack/link"
	"github.com/synack-go/synack/link/pipe"
	"github.com/synack-go/synack/sim"
	"github.com/synack-go/synack/tcp"
)

var (
	clientAddr  = netip.MustParsePrefix("10.0.0.1/24")
	serverAddr  = netip.MustParsePrefix("10.0.0.2/24")
	clientAddr6 = netip.MustParsePrefix("fd00::1/64")
	serverAddr6 = netip.MustParsePrefix("fd00::2/64")
)

// newSim returns a simulation whose main goroutine is the test's own,
// closed at the end of the test, after the stacks made on it.
func newSim(t testing.TB) *sim.Sim {
	sm := sim.New(sim.Config{Seed: 1})
	t.Cleanup(sm.Close)
	return sm
}

// newStack returns a stack on sm over ep, closed at the end of the test.
func newStack(t testing.TB, sm *sim.Sim, ep link.Endpoint, opts Options) *Stack {
	t.Helper()
	opts.Clock, opts.Rand = sm, sm.Rand()
	s, err := NewStack(ep, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// pair returns a new simulation and two stacks on it joined by a simulated
// link, closed at the end of the test.
func pair(t testing.TB, cfg pipe.Config) (sm *sim.Sim, client, server *Stack) {
	t.Helper()
	return pairOpts(t, cfg, Options{}, Options{})
}

// pairOpts is pair with options; Addrs and Name are filled in.
func pairOpts(t testing.TB, cfg pipe.Config, copts, sopts Options) (sm *sim.Sim, client, server *Stack) {
	t.Helper()
	sm = newSim(t)
	a, b := sm.Pipe(cfg)
	copts.Name, copts.Addrs = "client", []netip.Prefix{clientAddr, clientAddr6}
	sopts.Name, sopts.Addrs = "server", []netip.Prefix{serverAddr, serverAddr6}
	return sm, newStack(t, sm, a, copts), newStack(t, sm, b, sopts)
}

// simOf returns the simulation a stack runs on.
func simOf(s *Stack) *sim.Sim { return s.clock.(*sim.Sim) }

// connected returns a dialled and an accepted conn between two stacks.
func connected(t testing.TB, client, server *Stack, addr string) (c, s *Conn) {
	t.Helper()
	ln, err := server.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return dialAccept(t, client, ln, addr)
}

// dialAccept dials addr and accepts the connection on ln.
func dialAccept(t testing.TB, client *Stack, ln net.Listener, addr string) (c, s *Conn) {
	t.Helper()
	if client.clock == nil {
		return wallDialAccept(t, client, ln, addr)
	}
	accepted := start(simOf(client), ln.Accept)
	cc, err := client.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := accepted.get(t)
	if err != nil {
		t.Fatal(err)
	}
	return cc.(*Conn), sc.(*Conn)
}

// wallPair returns two stacks on the wall clock joined by a link/pipe,
// closed at the end of the test: for benchmarks and for the tests of the
// wall clock's own path.
func wallPair(t testing.TB, cfg pipe.Config) (client, server *Stack) {
	t.Helper()
	a, b := pipe.New(cfg)
	var err error
	if client, err = NewStack(a, Options{Name: "client", Addrs: []netip.Prefix{clientAddr, clientAddr6}}); err != nil {
		t.Fatal(err)
	}
	if server, err = NewStack(b, Options{Name: "server", Addrs: []netip.Prefix{serverAddr, serverAddr6}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		client.Close()
		server.Close()
	})
	return client, server
}

// wallBound bounds a test on the wall clock, whose lost wake-up would
// otherwise hang until go test's -timeout (a simulation reports it as a
// deadlock): after limit, it ends the test binary with the test's name and
// every goroutine's stack. The caller defers the stop function it returns.
func wallBound(t testing.TB, limit time.Duration) (stop func()) {
	timer := time.AfterFunc(limit, func() {
		buf := make([]byte, 1<<20)
		panic(fmt.Sprintf("%s: not done after %v on the wall clock; a lost wake-up?\n\n%s",
			t.Name(), limit, buf[:runtime.Stack(buf, true)]))
	})
	return func() { timer.Stop() }
}

// wallDialAccept is dialAccept on the wall clock.
func wallDialAccept(t testing.TB, client *Stack, ln net.Listener, addr string) (c, s *Conn) {
	t.Helper()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		ch <- res{c, err}
	}()
	cc, err := client.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch // Dial returned: the handshake is done, Accept returns
	if r.err != nil {
		t.Fatal(r.err)
	}
	return cc.(*Conn), r.c.(*Conn)
}

// waitFor waits on the simulation until cond holds, and fails the test
// when it never can.
func waitFor(t testing.TB, sm *sim.Sim, what string, cond func() bool) {
	t.Helper()
	if err := sm.Wait(cond, time.Time{}); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// future is the result of a call running on a goroutine of a simulation.
type future[T any] struct {
	sm   *sim.Sim
	done bool
	val  T
	err  error
}

// start runs f on a new goroutine of sm.
func start[T any](sm *sim.Sim, f func() (T, error)) *future[T] {
	fu := &future[T]{sm: sm}
	sm.Go(func() {
		fu.val, fu.err = f()
		fu.done = true
	})
	return fu
}

// startErr runs f, which returns only an error, on a new goroutine of sm.
func startErr(sm *sim.Sim, f func() error) *future[struct{}] {
	return start(sm, func() (struct{}, error) { return struct{}{}, f() })
}

// get waits on the simulation for the result, and fails the test when it
// can never come.
func (fu *future[T]) get(t testing.TB) (T, error) {
	t.Helper()
	waitFor(t, fu.sm, "waiting for a call to return", func() bool { return fu.done })
	return fu.val, fu.err
}

func state(c *Conn) tcp.State { return c.Stats().State }

func TestEcho(t *testing.T) {
	for _, addr := range []string{"10.0.0.2:7", "[fd00::2]:7"} {
		sm, client, server := pair(t, pipe.Config{})
		c, s := connected(t, client, server, addr)
		sm.Go(func() {
			io.Copy(s, s)
			s.Close()
		})
		msg := bytes.Repeat([]byte("echo "), 100000)
		sm.Go(func() {
			c.Write(msg)
			c.CloseWrite()
		})
		got, err := io.ReadAll(c)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("%s: echoed %d of %d bytes, err %v", addr, len(got), len(msg), err)
		}
		c.Close()
		la, ra := c.LocalAddr().(*net.TCPAddr), c.RemoteAddr().(*net.TCPAddr)
		if la.Port < ephemeralMin || la.Port > ephemeralMax {
			t.Errorf("%s: ephemeral port %d outside %d-%d", addr, la.Port, ephemeralMin, ephemeralMax)
		}
		if ra.AddrPort().String() != addr || s.LocalAddr().String() != addr || s.RemoteAddr().String() != la.String() {
			t.Errorf("%s: addresses %v→%v, server %v←%v", addr, la, ra, s.LocalAddr(), s.RemoteAddr())
		}
	}
}

// A "tcp" listener on an unspecified address hears both families; "tcp4"
// hears only IPv4.
func TestWildcardListeners(t *testing.T) {
	_, client, server := pair(t, pipe.Config{})
	ln, err := server.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if got := ln.Addr().String(); got != "[::]:80" {
		t.Errorf("dual-stack listener Addr %s, want [::]:80", got)
	}
	for _, addr := range []string{"10.0.0.2:80", "[fd00::2]:80"} {
		c, s := dialAccept(t, client, ln, addr)
		if s.LocalAddr().String() != addr {
			t.Errorf("accepted on %v, want %s", s.LocalAddr(), addr)
		}
		c.Close()
		s.Close()
	}
	ln4, err := server.Listen("tcp4", ":81")
	if err != nil {
		t.Fatal(err)
	}
	defer ln4.Close()
	dialAccept(t, client, ln4, "10.0.0.2:81")
	if _, err := client.Dial("tcp", "[fd00::2]:81"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("IPv6 dial to a tcp4 listener: %v, want ECONNREFUSED", err)
	}
	// A listener on port 0 gets an ephemeral port.
	ln0, err := server.Listen("tcp6", "[fd00::2]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln0.Close()
	if p := ln0.Addr().(*net.TCPAddr).Port; p < ephemeralMin || p > ephemeralMax {
		t.Errorf("port 0 listener got port %d", p)
	}
	dialAccept(t, client, ln0, ln0.Addr().String())
}

func TestListenDialAddressErrors(t *testing.T) {
	_, client, server := pair(t, pipe.Config{})
	ln, err := server.Listen("tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, tc := range []struct {
		network, addr string
		want          error
	}{
		{"tcp", "10.0.0.2:80", syscall.EADDRINUSE},
		{"tcp", "10.0.0.3:80", syscall.EADDRNOTAVAIL},
		{"tcp4", "[fd00::2]:80", nil},
		{"udp", ":80", nil},
		{"tcp", "localhost:80", nil},
		{"tcp", "10.0.0.2", nil},
	} {
		_, err := server.Listen(tc.network, tc.addr)
		var oe *net.OpError
		if err == nil || !errors.As(err, &oe) || oe.Op != "listen" || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("Listen(%q, %q) = %v, want an OpError wrapping %v", tc.network, tc.addr, err, tc.want)
		}
	}
	for _, tc := range []struct{ network, addr string }{
		{"tcp", "example.com:80"}, {"tcp6", "10.0.0.2:80"}, {"tcp", "0.0.0.0:80"}, {"tcp", "10.0.0.2:0"}, {"ip", "10.0.0.2:80"},
	} {
		if _, err := client.Dial(tc.network, tc.addr); err == nil {
			t.Errorf("Dial(%q, %q) succeeded", tc.network, tc.addr)
		}
	}
}

// Dial picks the local address whose prefix holds the destination.
func TestDialPicksLocalAddress(t *testing.T) {
	sm := newSim(t)
	a, b := sm.Pipe(pipe.Config{})
	client := newStack(t, sm, a, Options{Addrs: []netip.Prefix{
		netip.MustParsePrefix("192.168.9.9/24"), clientAddr, clientAddr6}})
	server := newStack(t, sm, b, Options{Addrs: []netip.Prefix{serverAddr, netip.MustParsePrefix("172.16.0.2/16")}})
	for addr, want := range map[string]string{"10.0.0.2:80": "10.0.0.1", "172.16.0.2:80": "192.168.9.9"} {
		ln, err := server.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := dialAccept(t, client, ln, addr)
		if got := c.LocalAddr().(*net.TCPAddr).IP.String(); got != want {
			t.Errorf("dial %s from %s, want %s", addr, got, want)
		}
		ln.Close()
	}
}

// Concurrent Writes never interleave their bytes: each is written whole,
// as package net guarantees.
func TestConcurrentWrites(t *testing.T) {
	sm, client, server := pair(t, pipe.Config{})
	c, s := connected(t, client, server, "10.0.0.2:80")
	const writers, size = 4, 300 << 10
	done := 0
	for i := range writers {
		sm.Go(func() {
			defer func() { done++ }()
			if _, err := c.Write(bytes.Repeat([]byte{byte('a' + i)}, size)); err != nil {
				t.Error(err)
			}
		})
	}
	sm.Go(func() {
		waitFor(t, sm, "the writes", func() bool { return done == writers })
		c.CloseWrite()
	})
	got, err := io.ReadAll(s)
	if err != nil || len(got) != writers*size {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
	for i := 0; i < len(got); i += size {
		if bytes.Count(got[i:i+size], got[i:i+1]) != size {
			t.Fatalf("writes interleaved at offset %d", i)
		}
	}
}

func TestStats(t *testing.T) {
	_, client, server := pair(t, pipe.Config{})
	c, s := connected(t, client, server, "10.0.0.2:80")
	if _, err := c.Write(make([]byte, 100000)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(s, make([]byte, 100000)); err != nil {
		t.Fatal(err)
	}
	cs, ss := client.Stats(), server.Stats()
	if cs.ActiveOpens != 1 || ss.PassiveOpens != 1 || cs.ConnsEstablished != 1 || ss.ConnsEstablished != 1 {
		t.Errorf("opens: client %+v server %+v", cs, ss)
	}
	if cs.SegmentsOut < 70 || ss.SegmentsIn < 70 || cs.PacketsOut != cs.SegmentsOut || ss.PacketsIn != ss.SegmentsIn {
		t.Errorf("segments: client %+v server %+v", cs, ss)
	}
	st := c.Stats()
	if st.State != tcp.StateEstablished || st.BytesAcked == 0 && st.BytesSent < 100000 || st.RTO == 0 || st.Cwnd == 0 {
		t.Errorf("conn stats %+v", st)
	}
}
