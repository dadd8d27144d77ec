package synack

import (
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

// isTimeout checks a deadline error as package net reports it.
func isTimeout(t *testing.T, what string, err error) {
	t.Helper()
	var ne net.Error
	var oe *net.OpError
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() || !errors.As(err, &oe) {
		t.Fatalf("%s: %v, want an *net.OpError wrapping os.ErrDeadlineExceeded", what, err)
	}
}

func TestDialRefused(t *testing.T) {
	_, client, _ := pair(t, pipe.Config{})
	_, err := client.Dial("tcp", "10.0.0.2:81")
	var oe *net.OpError
	if !errors.Is(err, syscall.ECONNREFUSED) || !errors.As(err, &oe) || oe.Op != "dial" || oe.Net != "tcp" ||
		oe.Addr.String() != "10.0.0.2:81" || oe.Source == nil {
		t.Fatalf("dial to a closed port: %#v, want an OpError wrapping ECONNREFUSED", err)
	}
	if client.lookup(flowKey{oe.Source.(*net.TCPAddr).AddrPort(), oe.Addr.(*net.TCPAddr).AddrPort()}) != nil {
		t.Fatal("the refused connection is still in the flow table")
	}
}

// A dial that is never answered times out with ETIMEDOUT after the SYN
// retries: SynRetries 1 is the SYN at 0, once more at 1 s (the initial RTO,
// RFC 6298 §2.1), and the end at 3 s (backed off, §5.5); the default 6 is
// Linux's 127 s.
func TestDialTimeout(t *testing.T) {
	for _, c := range []struct {
		retries int
		want    time.Duration
	}{{1, 3 * time.Second}, {0, 127 * time.Second}} {
		sm, client, _ := pairOpts(t, pipe.Config{}, Options{TCP: tcp.Config{SynRetries: c.retries}}, Options{})
		if _, err := client.Dial("tcp", "10.0.0.9:80"); !errors.Is(err, syscall.ETIMEDOUT) {
			t.Fatalf("dial to nowhere: %v, want ETIMEDOUT", err)
		}
		if el := sm.Elapsed(); el != c.want {
			t.Errorf("SynRetries %d: ETIMEDOUT after %v, want %v", c.retries, el, c.want)
		}
	}
}

func TestDialContext(t *testing.T) {
	sm, client, _ := pair(t, pipe.Config{})
	ctx, cancel := sm.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err := client.DialContext(ctx, "tcp", "10.0.0.9:80")
	var ne net.Error
	if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() || sm.Elapsed() != 30*time.Millisecond {
		t.Fatalf("dial past the context deadline: %v at %v", err, sm.Elapsed())
	}
	ctx, cancel = context.WithCancel(context.Background())
	sm.AfterFunc(10*time.Millisecond, cancel)
	if _, err := client.DialContext(ctx, "tcp", "10.0.0.9:80"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled dial: %v", err)
	}
	if _, err := client.DialContext(ctx, "tcp", "10.0.0.9:80"); !errors.Is(err, context.Canceled) {
		t.Fatalf("dial with a done context: %v", err)
	}
	if n := len(client.flows.appendAll(nil)); n != 0 {
		t.Fatalf("abandoned dials left %d connections", n)
	}
}

func TestReadWriteDeadlines(t *testing.T) {
	sm, client, server := pair(t, pipe.Config{})
	c, s := connected(t, client, server, "10.0.0.2:80")

	// Read: a deadline in the future fires while blocked, exactly then.
	dl := sm.Now().Add(20 * time.Millisecond)
	c.SetReadDeadline(dl)
	_, err := c.Read(make([]byte, 1))
	isTimeout(t, "read past deadline", err)
	if !sm.Now().Equal(dl) {
		t.Fatalf("read timed out at %v, %v after its deadline", sm.Now(), sm.Now().Sub(dl))
	}
	// A past deadline fails at once, even with data ready.
	s.Write([]byte("x"))
	waitFor(t, sm, "data", func() bool { r, _ := c.tcbBuffered(); return r == 1 })
	_, err = c.Read(make([]byte, 1))
	isTimeout(t, "read with a past deadline", err)
	// Clearing it lets the data through.
	c.SetReadDeadline(time.Time{})
	if n, err := c.Read(make([]byte, 1)); n != 1 || err != nil {
		t.Fatalf("read after clearing the deadline: %d, %v", n, err)
	}
	// Setting a deadline wakes a blocked Read.
	read := startErr(sm, func() error { _, err := c.Read(make([]byte, 1)); return err })
	sm.RunFor(10 * time.Millisecond) // the Read blocks
	if read.done {
		t.Fatal("a Read with nothing to read returned")
	}
	c.SetReadDeadline(sm.Now().Add(-time.Second))
	_, err = read.get(t)
	isTimeout(t, "blocked read after SetReadDeadline", err)

	// Write: the peer reads nothing, so the windows and buffers fill.
	c.SetWriteDeadline(sm.Now().Add(50 * time.Millisecond))
	n, err := c.Write(make([]byte, 8<<20))
	isTimeout(t, "write past deadline", err)
	if n == 0 || n == 8<<20 {
		t.Fatalf("write wrote %d bytes before the deadline", n)
	}
	write := startErr(sm, func() error { _, err := c.Write(make([]byte, 1<<20)); return err })
	c.SetDeadline(time.Time{})
	sm.RunFor(10 * time.Millisecond) // the Write blocks
	if write.done {
		t.Fatal("a Write to a full buffer returned")
	}
	c.SetDeadline(sm.Now())
	_, err = write.get(t)
	isTimeout(t, "blocked write after SetDeadline", err)
}

// On the wall clock a connection's deadlines are the timer queue's
// (conn_deadline.go): a deadline moved later while a Read blocks holds
// until the new one, one in the past fails a Read at once even with data
// ready, and clearing it lets the data through.
func TestDeadlinesWall(t *testing.T) {
	defer wallBound(t, time.Minute)()
	client, server := wallPair(t, pipe.Config{})
	ln, err := server.Listen("tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, s := wallDialAccept(t, client, ln, "10.0.0.2:80")

	c.SetReadDeadline(time.Now().Add(time.Millisecond))
	later := time.Now().Add(30 * time.Millisecond)
	c.SetReadDeadline(later)
	_, err = c.Read(make([]byte, 1))
	isTimeout(t, "read past a moved deadline", err)
	if now := time.Now(); now.Before(later) {
		t.Fatalf("read timed out %v before its deadline", later.Sub(now))
	}

	s.Write([]byte("x"))
	c.SetReadDeadline(time.Now().Add(-time.Second))
	for {
		c.mu.Lock()
		r, _ := c.tcb.Buffered()
		c.mu.Unlock()
		if r == 1 {
			break
		}
		runtime.Gosched()
	}
	_, err = c.Read(make([]byte, 1))
	isTimeout(t, "read with a past deadline and data ready", err)
	c.SetReadDeadline(time.Time{})
	if n, err := c.Read(make([]byte, 1)); n != 1 || err != nil {
		t.Fatalf("read after clearing the deadline: %d, %v", n, err)
	}

	c.Close()
	s.Close()
}

func TestAcceptDeadline(t *testing.T) {
	sm, _, server := pair(t, pipe.Config{})
	ln, err := server.ListenAddrPort("tcp", netip.MustParseAddrPort("10.0.0.2:80"), 0)
	if err != nil {
		t.Fatal(err)
	}
	ln.SetDeadline(sm.Now().Add(20 * time.Millisecond))
	_, err = ln.Accept()
	isTimeout(t, "accept past deadline", err)
	if sm.Elapsed() != 20*time.Millisecond {
		t.Fatalf("accept timed out at %v, want 20ms", sm.Elapsed())
	}
	ln.SetDeadline(time.Time{})
	accept := startErr(sm, func() error { _, err := ln.Accept(); return err })
	sm.RunFor(10 * time.Millisecond)
	ln.SetDeadline(sm.Now())
	_, err = accept.get(t)
	isTimeout(t, "blocked accept after SetDeadline", err)
	ln.SetDeadline(time.Time{}) // before Accept: the deadline set above has passed
	accept = startErr(sm, func() error { _, err := ln.Accept(); return err })
	sm.RunFor(10 * time.Millisecond)
	if accept.done {
		t.Fatal("Accept returned with nothing to accept")
	}
	ln.Close()
	if _, err := accept.get(t); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("accept after Close: %v, want net.ErrClosed", err)
	}
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("accept after Close: %v, want net.ErrClosed", err)
	}
	if err := ln.Close(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second Close: %v, want net.ErrClosed", err)
	}
}

// After Close every call returns net.ErrClosed; before it, Read after the
// peer's FIN returns a bare io.EOF.
func TestClosedConnErrors(t *testing.T) {
	_, client, server := pair(t, pipe.Config{})
	c, s := connected(t, client, server, "10.0.0.2:80")
	s.Close()
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read after FIN: %v, want io.EOF itself", err)
	}
	c.Close()
	for what, err := range map[string]error{
		"read":       second(c.Read(make([]byte, 1))),
		"write":      second(c.Write([]byte("x"))),
		"close":      c.Close(),
		"closewrite": c.CloseWrite(),
		"closeread":  c.CloseRead(),
	} {
		var oe *net.OpError
		if !errors.Is(err, net.ErrClosed) || !errors.As(err, &oe) {
			t.Errorf("%s after Close: %v, want an OpError wrapping net.ErrClosed", what, err)
		}
	}
}

func second(_ int, err error) error { return err }
