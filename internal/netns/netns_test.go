//go:build linux

package netns

import (
	"errors"
	"net"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// netnsID returns the inode of the calling thread's network namespace.
func netnsID(t *testing.T) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func TestDoEntersAndLeaves(t *testing.T) {
	ns := New(t)
	var inside uint64
	if err := ns.Do(func() error {
		inside = netnsID(t)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	host := netnsID(t)
	if inside == host {
		t.Fatal("Do ran fn in the test's own namespace")
	}
	// A second namespace is a different one.
	other := New(t)
	var second uint64
	other.Do(func() error { second = netnsID(t); return nil })
	if second == inside || second == host {
		t.Fatalf("namespaces %d, %d and host %d are not distinct", inside, second, host)
	}
	if !strings.HasPrefix(ns.Name(), "synack-") || ns.Name() == other.Name() {
		t.Fatalf("names %q and %q", ns.Name(), other.Name())
	}
}

func TestDoReturnsErrorAndPanic(t *testing.T) {
	ns := New(t)
	want := errors.New("from fn")
	if err := ns.Do(func() error { return want }); err != want {
		t.Fatalf("Do = %v, want fn's error", err)
	}
	if err := ns.Do(func() error { runtime.Goexit(); return nil }); err != errGoexit {
		t.Fatalf("Do after Goexit = %v, want errGoexit", err)
	}
	defer func() {
		if r := recover(); r != "boom" {
			t.Fatalf("recovered %v, want the panic of fn", r)
		}
	}()
	ns.Do(func() error { panic("boom") })
}

func TestSocketStaysInNamespace(t *testing.T) {
	ns := New(t)
	var ln net.Listener
	if err := ns.Do(func() (err error) {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Write([]byte("inside\n"))
			c.Close()
		}
	}()
	// The namespace's loopback is up: a dial from inside reaches it.
	var got []byte
	if err := ns.Do(func() error {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return err
		}
		defer c.Close()
		got = make([]byte, 7)
		_, err = c.Read(got)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if string(got) != "inside\n" {
		t.Fatalf("read %q", got)
	}
	// The host's loopback is another interface: there the port is closed,
	// unless some host process happens to listen on it.
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		c.Close()
	} else if !errors.Is(err, unix.ECONNREFUSED) {
		t.Fatalf("dial from the host: %v, want ECONNREFUSED", err)
	}
}

func TestCommandRunsInside(t *testing.T) {
	ns := New(t)
	out, err := ns.Run("ip", "-o", "link", "show")
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "lo:") || !strings.Contains(lines[0], "UP") {
		t.Fatalf("a new namespace should hold only lo, up; got:\n%s", out)
	}
}
