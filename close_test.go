package synack

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/synack-go/synack/link/pipe"
	"github.com/synack-go/synack/tcp"
)

// Each side half-closes in turn: the peer reads io.EOF and still writes
// back; then the four-way close leaves the side that closed first in
// TIME_WAIT and the other CLOSED.
func TestHalfCloseBothWays(t *testing.T) {
	for _, clientFirst := range []bool{true, false} {
		client, server := pair(t, pipe.Config{Delay: time.Millisecond})
		c, s := connected(t, client, server, "10.0.0.2:80")
		first, second := c, s
		if !clientFirst {
			first, second = s, c
		}
		if _, err := first.Write([]byte("request")); err != nil {
			t.Fatal(err)
		}
		if err := first.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		if req, err := io.ReadAll(second); err != nil || string(req) != "request" {
			t.Fatalf("read %q, %v; want the request and EOF", req, err)
		}
		if _, err := first.Write([]byte("more")); !errors.Is(err, syscall.EPIPE) {
			t.Fatalf("write after CloseWrite: %v, want EPIPE", err)
		}
		if _, err := second.Write([]byte("response")); err != nil {
			t.Fatalf("write to a half-closed peer: %v", err)
		}
		if err := second.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		if resp, err := io.ReadAll(first); err != nil || string(resp) != "response" {
			t.Fatalf("read %q, %v; want the response and EOF", resp, err)
		}
		first.Close()
		second.Close()
		waitFor(t, "first closer in TIME_WAIT, other CLOSED", func() bool {
			return state(first) == tcp.StateTimeWait && state(second) == tcp.StateClosed
		})
		if first.Stats().RSTsOut+second.Stats().RSTsOut != 0 {
			t.Fatal("a RST was sent during an orderly close")
		}
	}
}

// The four-way close with Close on both sides, the classic order.
func TestFourWayClose(t *testing.T) {
	client, server := pair(t, pipe.Config{Delay: time.Millisecond})
	c, s := connected(t, client, server, "10.0.0.2:80")
	c.Close()
	if _, err := s.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read after the peer's FIN: %v, want io.EOF", err)
	}
	if st := state(s); st != tcp.StateCloseWait {
		t.Fatalf("server in %v, want CLOSE_WAIT", st)
	}
	s.Close()
	waitFor(t, "TIME_WAIT and CLOSED", func() bool {
		return state(c) == tcp.StateTimeWait && state(s) == tcp.StateClosed
	})
	// The server's side is gone from its table; the client's stays for
	// TIME_WAIT.
	if server.lookup(s.key) != nil || client.lookup(c.key) != c {
		t.Fatal("flow tables: the closed conn should be gone, the TIME_WAIT one kept")
	}
}

// TIME_WAIT ends after tcp.Config.TimeWait and frees the 4-tuple.
func TestTimeWaitExpires(t *testing.T) {
	client, server := pairOpts(t, pipe.Config{}, Options{TCP: tcp.Config{TimeWait: 50 * time.Millisecond}}, Options{})
	c, s := connected(t, client, server, "10.0.0.2:80")
	c.Close()
	s.Close()
	waitFor(t, "TIME_WAIT over", func() bool { return state(c) == tcp.StateClosed && client.lookup(c.key) == nil })
}

// A SYN for a 4-tuple in TIME_WAIT with a newer timestamp opens a new
// connection at once (RFC 6191), with an ISS above the old one's.
func TestTimeWaitReuse(t *testing.T) {
	client, server := pair(t, pipe.Config{})
	ln, err := server.Listen("tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, s := dialAccept(t, client, ln, "10.0.0.2:80")
	s.Close() // the server closes first: its side enters TIME_WAIT
	io.ReadAll(c)
	c.Close()
	waitFor(t, "server TIME_WAIT", func() bool { return state(s) == tcp.StateTimeWait && state(c) == tcp.StateClosed })
	time.Sleep(2 * time.Millisecond) // the new SYN's timestamp must be newer
	client.mu.Lock()
	client.portNext-- // RFC 6056 algorithm 3 then picks the same port again
	client.mu.Unlock()
	start := time.Now()
	c2, s2 := dialAccept(t, client, ln, "10.0.0.2:80")
	if c2.LocalAddr().String() != c.LocalAddr().String() {
		t.Fatalf("redial from %v, want %v", c2.LocalAddr(), c.LocalAddr())
	}
	if server.Stats().TimeWaitReused != 1 || state(s) != tcp.StateClosed || state(s2) != tcp.StateEstablished {
		t.Fatalf("TIME_WAIT not reused: %+v", server.Stats())
	}
	if el := time.Since(start); el > 500*time.Millisecond {
		t.Logf("reconnect took %v: the SYN was not accepted at once", el)
	}
}

// SetLinger(0) then Close resets: the peer's Read sees ECONNRESET once,
// then io.EOF; its Writes see EPIPE.
func TestLingerZeroResets(t *testing.T) {
	client, server := pair(t, pipe.Config{})
	c, s := connected(t, client, server, "10.0.0.2:80")
	s.SetLinger(0)
	s.Close()
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read after RST: %v, want ECONNRESET", err)
	}
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("second read after RST: %v, want io.EOF (as Linux)", err)
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("write after RST: %v, want EPIPE", err)
	}
	if server.Stats().RSTsOut != 1 || client.Stats().RSTsIn != 1 {
		t.Fatalf("RSTs out %d, in %d", server.Stats().RSTsOut, client.Stats().RSTsIn)
	}
}

// After the peer's reset, a Write is the first to see ECONNRESET; the next
// sees EPIPE.
func TestWriteAfterReset(t *testing.T) {
	client, server := pair(t, pipe.Config{})
	c, s := connected(t, client, server, "10.0.0.2:80")
	s.SetLinger(0)
	s.Close()
	waitFor(t, "reset", func() bool { return state(c) == tcp.StateClosed })
	if _, err := c.Write([]byte("x")); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("first write after RST: %v, want ECONNRESET", err)
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("second write after RST: %v, want EPIPE", err)
	}
}

// Close with received data unread resets the connection, as Linux does.
func TestCloseWithUnreadDataResets(t *testing.T) {
	client, server := pair(t, pipe.Config{})
	c, s := connected(t, client, server, "10.0.0.2:80")
	c.Write([]byte("unread"))
	waitFor(t, "data arrived", func() bool { r, _ := s.tcbBuffered(); return r > 0 })
	s.Close()
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read: %v, want ECONNRESET", err)
	}
}

func (c *Conn) tcbBuffered() (int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tcb.Buffered()
}

// Stack.Close resets every connection, wakes every blocked call with
// net.ErrClosed, and ends every goroutine it started.
func TestStackClose(t *testing.T) {
	before := runtime.NumGoroutine()
	a, b := pipe.New(pipe.Config{})
	client, _ := NewStack(a, Options{Addrs: []netip.Prefix{clientAddr}})
	server, _ := NewStack(b, Options{Addrs: []netip.Prefix{serverAddr}})
	ln, err := server.Listen("tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	c, s := dialAccept(t, client, ln, "10.0.0.2:80")
	errs := make(chan error, 4)
	go func() { _, err := c.Read(make([]byte, 1)); errs <- err }()
	go func() { _, err := ln.Accept(); errs <- err }()
	go func() {
		// Fill s's window and c's send buffer until the Write blocks.
		buf := make([]byte, 1<<20)
		for {
			if _, err := c.Write(buf); err != nil {
				errs <- err
				return
			}
		}
	}()
	time.Sleep(20 * time.Millisecond)
	if err := server.Close(); err != nil {
		t.Fatal(err)
	}
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := <-errs; !errors.Is(err, net.ErrClosed) {
			t.Errorf("blocked call after Stack.Close: %v, want net.ErrClosed", err)
		}
	}
	if _, err := client.Dial("tcp", "10.0.0.2:80"); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Dial after Close: %v", err)
	}
	if _, err := server.Listen("tcp", ":81"); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Listen after Close: %v", err)
	}
	if client.Close() != nil {
		t.Error("second Close failed")
	}
	if _, err := s.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Read after Stack.Close: %v", err)
	}
	waitFor(t, "goroutines back to baseline", func() bool { return runtime.NumGoroutine() <= before })
}
