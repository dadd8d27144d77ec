package synack

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/synack-go/synack/link/pipe"
	"github.com/synack-go/synack/tcp"
)

// Each side half-closes in turn: the peer reads io.EOF and still writes
// back; then the four-way close leaves the side that closed first in
// TIME_WAIT (in its stack's table: its Conn is CLOSED) and the other
// CLOSED.
func TestHalfCloseBothWays(t *testing.T) {
	for _, clientFirst := range []bool{true, false} {
		sm, client, server := pair(t, pipe.Config{Delay: time.Millisecond})
		c, s := connected(t, client, server, "10.0.0.2:80")
		first, second := c, s
		firstStack := client
		if !clientFirst {
			first, second, firstStack = s, c, server
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
		waitFor(t, sm, "first closer in TIME_WAIT, other CLOSED", func() bool {
			return firstStack.Stats().TimeWait == 1 && state(first) == tcp.StateClosed && state(second) == tcp.StateClosed
		})
		if first.Stats().RSTsOut+second.Stats().RSTsOut != 0 {
			t.Fatal("a RST was sent during an orderly close")
		}
	}
}

// The four-way close with Close on both sides, the classic order.
func TestFourWayClose(t *testing.T) {
	sm, client, server := pair(t, pipe.Config{Delay: time.Millisecond})
	c, s := connected(t, client, server, "10.0.0.2:80")
	c.Close()
	if _, err := s.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read after the peer's FIN: %v, want io.EOF", err)
	}
	if st := state(s); st != tcp.StateCloseWait {
		t.Fatalf("server in %v, want CLOSE_WAIT", st)
	}
	s.Close()
	waitFor(t, sm, "TIME_WAIT and CLOSED", func() bool {
		return client.Stats().TimeWait == 1 && state(s) == tcp.StateClosed
	})
	// Both sides are gone from the flow tables; the client's 4-tuple stays
	// in its TIME_WAIT table, without its Conn.
	if server.lookup(s.key) != nil || client.lookup(c.key) != nil || !client.inTimeWait(c.key) || state(c) != tcp.StateClosed {
		t.Fatal("flow tables: both conns should be gone, the client's 4-tuple in TIME_WAIT")
	}
}

// TIME_WAIT lasts tcp.Config.TimeWait (60 s by default), then frees the
// 4-tuple.
func TestTimeWaitExpires(t *testing.T) {
	for _, tw := range []time.Duration{0, 50 * time.Millisecond} {
		sm, client, server := pairOpts(t, pipe.Config{}, Options{TCP: tcp.Config{TimeWait: tw}}, Options{})
		c, s := connected(t, client, server, "10.0.0.2:80")
		c.Close()
		s.Close()
		waitFor(t, sm, "TIME_WAIT", func() bool { return client.Stats().TimeWait == 1 })
		entered := sm.Now()
		if state(c) != tcp.StateClosed || client.lookup(c.key) != nil {
			t.Fatalf("in TIME_WAIT the connection keeps its Conn: %v", state(c))
		}
		waitFor(t, sm, "TIME_WAIT over", func() bool { return client.Stats().TimeWait == 0 })
		want := tw
		if want == 0 {
			want = 60 * time.Second
		}
		if got := sm.Now().Sub(entered); got != want {
			t.Errorf("TimeWait %v: TIME_WAIT lasted %v, want %v", tw, got, want)
		}
	}
}

// A SYN for a 4-tuple in TIME_WAIT with a newer timestamp opens a new
// connection at once (RFC 6191), with an ISS above the old one's.
func TestTimeWaitReuse(t *testing.T) {
	sm, client, server := pair(t, pipe.Config{Delay: time.Millisecond})
	ln, err := server.Listen("tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, s := dialAccept(t, client, ln, "10.0.0.2:80")
	s.Close() // the server closes first: its side enters TIME_WAIT
	io.ReadAll(c)
	c.Close()
	waitFor(t, sm, "server TIME_WAIT", func() bool { return server.Stats().TimeWait == 1 && state(c) == tcp.StateClosed })
	sm.Sleep(2 * time.Millisecond) // the new SYN's timestamp must be newer (1 ms clock)
	client.mu.Lock()
	client.portNext-- // RFC 6056 algorithm 3 then picks the same port again
	client.mu.Unlock()
	start := sm.Now()
	c2, s2 := dialAccept(t, client, ln, "10.0.0.2:80")
	if c2.LocalAddr().String() != c.LocalAddr().String() {
		t.Fatalf("redial from %v, want %v", c2.LocalAddr(), c.LocalAddr())
	}
	if st := server.Stats(); st.TimeWaitReused != 1 || st.TimeWait != 0 || state(s2) != tcp.StateEstablished {
		t.Fatalf("TIME_WAIT not reused: %+v", server.Stats())
	}
	// The SYN is taken at once: the handshake's three segments take 1 ms
	// each, with no retransmission after a RST or an ACK of the old
	// connection.
	if el := sm.Now().Sub(start); el != 3*time.Millisecond || c2.Stats().Retransmits != 0 {
		t.Fatalf("reconnect took %v and %d retransmissions: the SYN was not accepted at once", el, c2.Stats().Retransmits)
	}
}

// SetLinger(0) then Close resets: the peer's Read sees ECONNRESET once,
// then io.EOF; its Writes see EPIPE.
func TestLingerZeroResets(t *testing.T) {
	_, client, server := pair(t, pipe.Config{})
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
	sm, client, server := pair(t, pipe.Config{})
	c, s := connected(t, client, server, "10.0.0.2:80")
	s.SetLinger(0)
	s.Close()
	waitFor(t, sm, "reset", func() bool { return state(c) == tcp.StateClosed })
	if _, err := c.Write([]byte("x")); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("first write after RST: %v, want ECONNRESET", err)
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("second write after RST: %v, want EPIPE", err)
	}
}

// Close with received data unread resets the connection, as Linux does.
func TestCloseWithUnreadDataResets(t *testing.T) {
	sm, client, server := pair(t, pipe.Config{})
	c, s := connected(t, client, server, "10.0.0.2:80")
	c.Write([]byte("unread"))
	waitFor(t, sm, "data arrived", func() bool { r, _ := s.tcbBuffered(); return r > 0 })
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
	sm := newSim(t)
	a, b := sm.Pipe(pipe.Config{})
	client := newStack(t, sm, a, Options{Addrs: []netip.Prefix{clientAddr}})
	server := newStack(t, sm, b, Options{Addrs: []netip.Prefix{serverAddr}})
	ln, err := server.Listen("tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	c, s := dialAccept(t, client, ln, "10.0.0.2:80")
	read := startErr(sm, func() error { _, err := c.Read(make([]byte, 1)); return err })
	accept := startErr(sm, func() error { _, err := ln.Accept(); return err })
	write := startErr(sm, func() error {
		// Fill s's window and c's send buffer until the Write blocks.
		buf := make([]byte, 1<<20)
		for {
			if _, err := c.Write(buf); err != nil {
				return err
			}
		}
	})
	// Everything that can happen has happened: the three calls block.
	sm.RunFor(time.Second)
	if read.done || accept.done || write.done {
		t.Fatal("a call returned before Stack.Close")
	}
	if err := server.Close(); err != nil {
		t.Fatal(err)
	}
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	for what, fu := range map[string]*future[struct{}]{"read": read, "accept": accept, "write": write} {
		if _, err := fu.get(t); !errors.Is(err, net.ErrClosed) {
			t.Errorf("blocked %s after Stack.Close: %v, want net.ErrClosed", what, err)
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
	if n := client.live.Load() + server.live.Load(); n != 0 {
		t.Errorf("%d of the stacks' goroutines still run after Close", n)
	}
}

// On the wall clock too, Stack.Close wakes a blocked call and leaves no
// goroutine behind.
func TestStackCloseWallClock(t *testing.T) {
	client, server := wallPair(t, pipe.Config{})
	defer wallBound(t, time.Minute)()
	c, _ := connected(t, client, server, "10.0.0.2:80")
	errs := make(chan error, 1)
	go func() { _, err := c.Read(make([]byte, 1)); errs <- err }()
	// The reader's stack closes first: closed the other way round, the
	// server's RST can reach the reader before its own stack closes, and
	// the read rightly says ECONNRESET (CI saw it under -race).
	client.Close()
	server.Close()
	if err := <-errs; !errors.Is(err, net.ErrClosed) {
		t.Errorf("blocked read after Stack.Close: %v, want net.ErrClosed", err)
	}
	if n := client.live.Load() + server.live.Load(); n != 0 {
		t.Errorf("%d of the stacks' goroutines still run after Close", n)
	}
}
