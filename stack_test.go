package synack

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/synack-go/synack/link/pipe"
	"github.com/synack-go/synack/tcp"
)

var (
	clientAddr = netip.MustParsePrefix("10.0.0.1/24")
	serverAddr = netip.MustParsePrefix("10.0.0.2/24")
)

// pair returns two stacks joined by an in-memory link, closed at the end of
// the test.
func pair(t testing.TB, cfg pipe.Config) (client, server *Stack) {
	t.Helper()
	a, b := pipe.New(cfg)
	var err error
	client, err = NewStack(a, Options{Name: "client", Addrs: []netip.Prefix{clientAddr, netip.MustParsePrefix("fd00::1/64")}})
	if err != nil {
		t.Fatal(err)
	}
	server, err = NewStack(b, Options{Name: "server", Addrs: []netip.Prefix{serverAddr, netip.MustParsePrefix("fd00::2/64")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		client.Close()
		server.Close()
	})
	return client, server
}

// connected returns a dialled and an accepted conn between two stacks.
func connected(t testing.TB, client, server *Stack, addr string) (c, s *Conn) {
	t.Helper()
	ln, err := server.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
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
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	return cc.(*Conn), r.c.(*Conn)
}

func TestEcho(t *testing.T) {
	for _, addr := range []string{"10.0.0.2:7", "[fd00::2]:7"} {
		client, server := pair(t, pipe.Config{})
		c, s := connected(t, client, server, addr)
		go func() {
			io.Copy(s, s)
			s.Close()
		}()
		msg := bytes.Repeat([]byte("echo "), 100000)
		go func() {
			c.Write(msg)
			c.CloseWrite()
		}()
		got, err := io.ReadAll(c)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("%s: echoed %d of %d bytes, err %v", addr, len(got), len(msg), err)
		}
		c.Close()
		lp := c.LocalAddr().(*net.TCPAddr).Port
		if lp < ephemeralMin || lp > ephemeralMax {
			t.Fatalf("ephemeral port %d outside %d-%d", lp, ephemeralMin, ephemeralMax)
		}
	}
}

// Half-close both ways, then the four-way close: the active closer ends in
// TIME_WAIT, the other side in CLOSED.
func TestHalfCloseAndFourWayClose(t *testing.T) {
	client, server := pair(t, pipe.Config{Delay: time.Millisecond})
	c, s := connected(t, client, server, "10.0.0.2:80")
	if _, err := c.Write([]byte("request")); err != nil {
		t.Fatal(err)
	}
	c.CloseWrite()
	req, err := io.ReadAll(s)
	if err != nil || string(req) != "request" {
		t.Fatalf("server read %q, %v", req, err)
	}
	if _, err := s.Write([]byte("response")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	resp, err := io.ReadAll(c)
	if err != nil || string(resp) != "response" {
		t.Fatalf("client read %q, %v", resp, err)
	}
	c.Close()
	waitFor(t, func() bool { return c.Stats().State == tcp.StateTimeWait && s.Stats().State == tcp.StateClosed })
	if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after Close: %v, want net.ErrClosed", err)
	}
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	for i := 0; i < 1000; i++ {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("condition not reached in 5 s")
}

func TestErrors(t *testing.T) {
	client, server := pair(t, pipe.Config{})
	// A closed port refuses.
	if _, err := client.Dial("tcp", "10.0.0.2:81"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial closed port: %v, want ECONNREFUSED", err)
	}
	// Linger 0: the peer's read fails with ECONNRESET, then writes EPIPE.
	c, s := connected(t, client, server, "10.0.0.2:80")
	s.SetLinger(0)
	s.Close()
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read after RST: %v, want ECONNRESET", err)
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("write after RST: %v, want EPIPE", err)
	}
	// Deadlines.
	c, s = connected(t, client, server, "10.0.0.2:82")
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read past deadline: %v", err)
	}
	// io.EOF after FIN.
	s.Close()
	c.SetReadDeadline(time.Time{})
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read after FIN: %v, want io.EOF", err)
	}
	c.Close()
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after Close: %v, want net.ErrClosed", err)
	}
	// A dial that is never answered ends with the context.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := client.DialContext(ctx, "tcp", "10.0.0.9:80"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("dial to nowhere: %v", err)
	}
}

// Stack.Close ends every goroutine it started.
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		a, b := pipe.New(pipe.Config{})
		client, _ := NewStack(a, Options{Addrs: []netip.Prefix{clientAddr}})
		server, _ := NewStack(b, Options{Addrs: []netip.Prefix{serverAddr}})
		c, s := connected(t, client, server, "10.0.0.2:80")
		c.Write([]byte("x"))
		s.Read(make([]byte, 1))
		client.Close()
		server.Close()
	}()
	waitFor(t, func() bool { return runtime.NumGoroutine() <= before })
}
