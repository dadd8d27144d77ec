package synack

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/synack-go/synack/link/pipe"
	"github.com/synack-go/synack/trace"
)

// Two stacks dial each other from fixed ports at the same time, with no
// listener: the SYNs cross, both ends pass through SYN_RECV and meet in
// ESTABLISHED (RFC 9293 §3.5, Figure 8), and the connection carries data
// both ways. The link's delay makes both SYNs leave before either arrives.
func TestDialTCPSimultaneousOpen(t *testing.T) {
	states := map[string][]string{}
	tr := trace.Func(func(e *trace.Event) {
		if e.Kind == trace.StateChange {
			states[e.Stack] = append(states[e.Stack], e.To)
		}
	})
	sm, a, b := pairOpts(t, pipe.Config{Delay: 20 * time.Millisecond}, Options{Tracer: tr}, Options{Tracer: tr})
	ap := netip.AddrPortFrom(clientAddr.Addr(), 5000)
	bp := netip.AddrPortFrom(serverAddr.Addr(), 6000)
	dialB := start(sm, func() (*Conn, error) { return b.DialAddrPort(context.Background(), bp, ap) })
	ca, err := a.DialAddrPort(context.Background(), ap, bp)
	if err != nil {
		t.Fatalf("dial from a: %v", err)
	}
	cb, err := dialB.get(t)
	if err != nil {
		t.Fatalf("dial from b: %v", err)
	}
	// Each SYN crosses in 20 ms, each SYN-ACK too: no retransmission.
	if el := sm.Elapsed(); el != 40*time.Millisecond {
		t.Errorf("the simultaneous open took %v, want 40ms", el)
	}
	want := []string{"SYN_SENT", "SYN_RECV", "ESTABLISHED"}
	for _, name := range []string{"client", "server"} {
		if got := states[name]; !slices.Equal(got, want) {
			t.Errorf("%s went through %v, want %v", name, got, want)
		}
	}
	sm.Go(func() {
		ca.Write([]byte("from a"))
		ca.CloseWrite()
	})
	got, err := io.ReadAll(cb)
	if err != nil || string(got) != "from a" {
		t.Fatalf("read %q, %v", got, err)
	}
}

// DialAddrPort's address errors are package net's.
func TestDialTCPAddressErrors(t *testing.T) {
	sm, a, b := pair(t, pipe.Config{})
	ln, err := b.Listen("tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	sm.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	})
	server := netip.MustParseAddrPort("10.0.0.2:80")
	if _, err := a.DialAddrPort(context.Background(), netip.MustParseAddrPort("10.0.0.9:5000"), server); !errors.Is(err, syscall.EADDRNOTAVAIL) {
		t.Errorf("dial from a foreign address: %v, want EADDRNOTAVAIL", err)
	}
	from := netip.MustParseAddrPort("10.0.0.1:5000")
	c, err := a.DialAddrPort(context.Background(), from, server)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.LocalAddr().String() != from.String() {
		t.Errorf("local address %v, want %v", c.LocalAddr(), from)
	}
	if _, err := a.DialAddrPort(context.Background(), from, server); !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("second dial of the same 4-tuple: %v, want EADDRINUSE", err)
	}
	c2, err := a.DialAddrPort(context.Background(), netip.AddrPort{}, server)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if p := c2.LocalAddr().(interface{ AddrPort() netip.AddrPort }).AddrPort().Port(); p < ephemeralMin || p > ephemeralMax {
		t.Errorf("zero laddr took port %d, want an ephemeral one", p)
	}
}
