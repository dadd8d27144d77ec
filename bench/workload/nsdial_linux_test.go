package workload

import (
	"context"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/synack-go/synack/internal/netns"
)

// TestNSDialer: connections dialed from any goroutine are made inside the
// namespace (its loopback answers, the host's is not the one dialed), one
// batch of sockets serves many dials, and the local ports come in turn.
func TestNSDialer(t *testing.T) {
	ns := netns.New(t)
	var ln net.Listener
	if err := ns.Do(func() (err error) {
		ln, err = net.Listen("tcp4", "127.0.0.1:0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte{1})
			c.Close()
		}
	}()
	d := newNSDialer(ns)
	defer d.close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	last := 0
	for i := range 2*nsSocketBatch + 3 {
		c, err := d.dial(ctx, "tcp", ln.Addr().String())
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		var b [1]byte
		if _, err := c.Read(b[:]); err != nil || b[0] != 1 {
			t.Fatalf("dial %d: read %v, %v", i, b, err)
		}
		port := localPort(t, c)
		if last != 0 && port != last+1 {
			t.Errorf("dial %d: local port %d after %d", i, port, last)
		}
		last = port
		c.Close()
	}
	// The host's namespace has no listener on that port: the dial above
	// reached the namespace's.
	if c, err := net.DialTimeout("tcp4", ln.Addr().String(), time.Second); err == nil {
		c.Close()
		t.Errorf("%v answers in the host's namespace too", ln.Addr())
	}
}

// localPort is c's local port as the kernel has it (a net.FileConn's
// LocalAddr is what the socket had when it was wrapped, before bind).
func localPort(t *testing.T, c net.Conn) int {
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	port := 0
	rc.Control(func(fd uintptr) {
		if sa, err := unix.Getsockname(int(fd)); err == nil {
			port = sa.(*unix.SockaddrInet4).Port
		}
	})
	return port
}
