package sim_test

import (
	"bytes"
	"crypto/sha256"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/synack-go/synack"
	"github.com/synack-go/synack/link"
	"github.com/synack-go/synack/link/pcap"
	"github.com/synack-go/synack/link/pipe"
	"github.com/synack-go/synack/sim"
)

// A run replays from its seed: the capture of both ends, virtual
// timestamps included, is the same byte for byte; another seed gives
// another capture.
func TestReplay(t *testing.T) {
	first := capture(t, 7)
	if again := capture(t, 7); !bytes.Equal(first, again) {
		t.Fatalf("two runs with seed 7 captured different packets (%d and %d bytes)", len(first), len(again))
	}
	if other := capture(t, 8); bytes.Equal(first, other) {
		t.Fatal("seeds 7 and 8 captured the same packets")
	}
}

// capture runs three connections with data both ways, half-closes, a
// reset and Stack.Close over an impaired link, and returns the pcap of
// what the client's end saw.
func capture(t *testing.T, seed int64) []byte {
	s := sim.New(sim.Config{Seed: seed})
	defer s.Close()
	a, b := s.Pipe(pipe.Config{Loss: 0.03, Reorder: 0.03, Duplicate: 0.01, Corrupt: 0.01,
		Delay: 5 * time.Millisecond, Jitter: time.Millisecond, RateBitsPerSec: 50e6})
	var pc bytes.Buffer
	ep, err := pcap.Wrap(a, &pc, pcap.Config{Now: s.Now, Nanosecond: true})
	if err != nil {
		t.Fatal(err)
	}
	client := newStack(t, s, ep, "10.0.0.1/24")
	server := newStack(t, s, b, "10.0.0.2/24")
	ln, err := server.Listen("tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	const conns = 3
	done := 0
	s.Go(func() {
		for range conns {
			c, err := ln.Accept()
			if err != nil {
				t.Error(err)
				return
			}
			s.Go(func() {
				defer func() { done++ }()
				h := sha256.New()
				io.Copy(h, c)
				c.Write(h.Sum(nil))
				c.Close()
			})
		}
	})
	for i := range conns {
		s.Go(func() {
			defer func() { done++ }()
			c, err := client.Dial("tcp", "10.0.0.2:80")
			if err != nil {
				t.Error(err)
				return
			}
			msg := bytes.Repeat([]byte{byte(i)}, (i+1)<<18)
			c.Write(msg)
			c.(*synack.Conn).CloseWrite()
			sum, _ := io.ReadAll(c)
			if want := sha256.Sum256(msg); !bytes.Equal(sum, want[:]) {
				t.Errorf("conn %d: the server hashed other bytes", i)
			}
			if i == conns-1 {
				c.(*synack.Conn).SetLinger(0) // ends with a RST
			}
			c.Close()
		})
	}
	if err := s.Wait(func() bool { return done == 2*conns }, time.Time{}); err != nil {
		t.Fatal(err)
	}
	// Connections still in TIME_WAIT are reset by Stack.Close.
	client.Close()
	server.Close()
	return pc.Bytes()
}

func newStack(t *testing.T, s *sim.Sim, ep link.Endpoint, addr string) *synack.Stack {
	st, err := synack.NewStack(ep, synack.Options{Clock: s, Rand: s.Rand(),
		Addrs: []netip.Prefix{netip.MustParsePrefix(addr)}})
	if err != nil {
		t.Fatal(err)
	}
	return st
}
