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
	client, _ := pair(t, pipe.Config{})
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
// retries (here one retry: 1 s + 2 s of RTO).
func TestDialTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 3 s")
	}
	t.Parallel()
	client, _ := pairOpts(t, pipe.Config{}, Options{TCP: tcp.Config{SynRetries: 1}}, Options{})
	if _, err := client.Dial("tcp", "10.0.0.9:80"); !errors.Is(err, syscall.ETIMEDOUT) {
		t.Fatalf("dial to nowhere: %v, want ETIMEDOUT", err)
	}
}

func TestDialContext(t *testing.T) {
	client, _ := pair(t, pipe.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err := client.DialContext(ctx, "tcp", "10.0.0.9:80")
	var ne net.Error
	if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("dial past the context deadline: %v", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(10*time.Millisecond, cancel)
	if _, err := client.DialContext(ctx, "tcp", "10.0.0.9:80"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled dial: %v", err)
	}
	if _, err := client.DialContext(ctx, "tcp", "10.0.0.9:80"); !errors.Is(err, context.Canceled) {
		t.Fatalf("dial with a done context: %v", err)
	}
	waitFor(t, "abandoned dials forgotten", func() bool {
		client.mu.RLock()
		defer client.mu.RUnlock()
		return len(client.conns) == 0
	})
}

func TestReadWriteDeadlines(t *testing.T) {
	client, server := pair(t, pipe.Config{})
	c, s := connected(t, client, server, "10.0.0.2:80")

	// Read: a deadline in the future fires while blocked.
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err := c.Read(make([]byte, 1))
	isTimeout(t, "read past deadline", err)
	// A past deadline fails at once, even with data ready.
	s.Write([]byte("x"))
	waitFor(t, "data", func() bool { r, _ := c.tcbBuffered(); return r == 1 })
	_, err = c.Read(make([]byte, 1))
	isTimeout(t, "read with a past deadline", err)
	// Clearing it lets the data through.
	c.SetReadDeadline(time.Time{})
	if n, err := c.Read(make([]byte, 1)); n != 1 || err != nil {
		t.Fatalf("read after clearing the deadline: %d, %v", n, err)
	}
	// Setting a deadline wakes a blocked Read.
	done := make(chan error, 1)
	go func() { _, err := c.Read(make([]byte, 1)); done <- err }()
	time.Sleep(10 * time.Millisecond)
	c.SetReadDeadline(time.Now().Add(-time.Second))
	isTimeout(t, "blocked read after SetReadDeadline", <-done)

	// Write: the peer reads nothing, so the windows and buffers fill.
	c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	n, err := c.Write(make([]byte, 8<<20))
	isTimeout(t, "write past deadline", err)
	if n == 0 || n == 8<<20 {
		t.Fatalf("write wrote %d bytes before the deadline", n)
	}
	go func() { _, err := c.Write(make([]byte, 1<<20)); done <- err }()
	c.SetDeadline(time.Time{})
	time.Sleep(10 * time.Millisecond)
	c.SetDeadline(time.Now())
	isTimeout(t, "blocked write after SetDeadline", <-done)
}

func TestAcceptDeadline(t *testing.T) {
	_, server := pair(t, pipe.Config{})
	ln, err := server.ListenAddrPort("tcp", netip.MustParseAddrPort("10.0.0.2:80"), 0)
	if err != nil {
		t.Fatal(err)
	}
	ln.SetDeadline(time.Now().Add(20 * time.Millisecond))
	_, err = ln.Accept()
	isTimeout(t, "accept past deadline", err)
	done := make(chan error, 1)
	ln.SetDeadline(time.Time{})
	go func() { _, err := ln.Accept(); done <- err }()
	time.Sleep(10 * time.Millisecond)
	ln.SetDeadline(time.Now())
	isTimeout(t, "blocked accept after SetDeadline", <-done)
	ln.SetDeadline(time.Time{}) // before Accept: the deadline set above has passed
	go func() { _, err := ln.Accept(); done <- err }()
	time.Sleep(10 * time.Millisecond)
	ln.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
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
	client, server := pair(t, pipe.Config{})
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
