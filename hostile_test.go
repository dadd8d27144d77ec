package synack

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/synack-go/synack/link"
	"github.com/synack-go/synack/link/pipe"
	"github.com/synack-go/synack/wire"
)

// Attacks on a stack, each as an attacker would mount it: raw packets built
// with package wire, sent over link/pipe, and bounded in time.

// tap is a link endpoint that counts the packets its stack writes and
// remembers the last TCP segment among them, as an on-path observer would;
// inject sends a forged packet from the tap's side of the link, as if the
// stack had written it.
type tap struct {
	link.Endpoint
	written atomic.Uint64
	mu      sync.Mutex
	last    wire.TCPSegment // payload dropped
	lastLen int
}

func (t *tap) WriteBatch(pkts [][]byte) error {
	t.written.Add(uint64(len(pkts)))
	for _, p := range pkts {
		var ip wire.IPPacket
		var seg wire.TCPSegment
		if wire.ParseIP(p, &ip) != nil || ip.Protocol != wire.ProtoTCP || seg.Parse(wire.TCP(ip.Payload)) != nil {
			continue
		}
		t.mu.Lock()
		t.lastLen = len(seg.Payload)
		seg.Payload = nil
		t.last = seg
		t.mu.Unlock()
	}
	return t.Endpoint.WriteBatch(pkts)
}

// lastSeg returns the last TCP segment the stack wrote and its payload
// length.
func (t *tap) lastSeg() (wire.TCPSegment, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.last, t.lastLen
}

func (t *tap) inject(pkt []byte) error { return t.Endpoint.WriteBatch([][]byte{pkt}) }

// tapPair is pairOpts with a tap on each stack's end of the link.
func tapPair(t testing.TB, cfg pipe.Config, copts, sopts Options) (client, server *Stack, ct, st *tap) {
	t.Helper()
	a, b := pipe.New(cfg)
	ct, st = &tap{Endpoint: a}, &tap{Endpoint: b}
	copts.Name, copts.Addrs = "client", []netip.Prefix{clientAddr, clientAddr6}
	sopts.Name, sopts.Addrs = "server", []netip.Prefix{serverAddr, serverAddr6}
	var err error
	if client, err = NewStack(ct, copts); err != nil {
		t.Fatal(err)
	}
	if server, err = NewStack(st, sopts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		client.Close()
		server.Close()
	})
	return client, server, ct, st
}

// observe waits d and returns how many packets the two taps carried
// meanwhile.
func observe(d time.Duration, taps ...*tap) uint64 {
	var before uint64
	for _, t := range taps {
		before += t.written.Load()
	}
	<-time.After(d)
	var after uint64
	for _, t := range taps {
		after += t.written.Load()
	}
	return after - before
}

// One data byte forged in the client's name at the server's RCV.NXT puts
// the two stacks out of step: the server acknowledges a byte the client
// never sent, and the client's answer lies below the server's window. Each
// used to answer the other at once, forever: about 1.3 million ACKs a
// second between two idle ESTABLISHED connections, a core busy. Replies to
// unacceptable segments are now rate-limited per connection (one per
// 500 ms, Linux's tcp_invalid_ratelimit) and per stack (RFC 5961 §7).
func TestAckStormInjectedByte(t *testing.T) {
	client, server, ct, st := tapPair(t, pipe.Config{}, Options{}, Options{})
	c, s := connected(t, client, server, "10.0.0.2:80")
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := s.Read(buf); err != nil {
		t.Fatal(err)
	}
	observe(100*time.Millisecond, ct, st) // the delayed ACK goes out
	last, n := ct.lastSeg()
	forged := wire.TCPSegment{Seq: last.Seq.Add(uint32(n)), Ack: last.Ack, Flags: wire.ACK | wire.PSH,
		Window: last.Window, Payload: []byte("X")}
	if err := ct.inject(packet(c.key.local, c.key.remote, &forged)); err != nil {
		t.Fatal(err)
	}
	pkts := observe(2*time.Second, ct, st)
	t.Logf("%d packets in the 2 s after one injected byte", pkts)
	if pkts > 8 {
		t.Fatalf("%d packets in the 2 s after one injected byte: an ACK storm", pkts)
	}
	if state(c) != state(s) || client.Stats().RepliesLimited+server.Stats().RepliesLimited == 0 {
		t.Fatalf("states %v/%v, replies limited %d/%d", state(c), state(s),
			client.Stats().RepliesLimited, server.Stats().RepliesLimited)
	}
}
