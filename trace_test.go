package synack

import (
	"errors"
	"io"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/synack-go/synack/link/pipe"
	"github.com/synack-go/synack/tcp"
	"github.com/synack-go/synack/trace"
	"github.com/synack-go/synack/wire"
)

// The tracer sees every segment each way, the state changes and the drops,
// stamped with the stack's name and the connection's endpoints.
func TestTracer(t *testing.T) {
	var crec, srec trace.Recorder
	client, server := pairOpts(t, pipe.Config{}, Options{Tracer: &crec}, Options{Tracer: &srec})
	c, s := connected(t, client, server, "10.0.0.2:80")
	c.Write([]byte("hello"))
	s.Read(make([]byte, 5))
	c.Close()
	if _, err := s.Read(make([]byte, 1)); err != io.EOF {
		t.Fatal(err)
	}
	s.Close()
	waitFor(t, "close", func() bool { return state(s) == tcp.StateClosed })

	count := func(evs []trace.Event, k trace.Kind) int {
		n := 0
		for _, e := range evs {
			if e.Kind == k {
				n++
			}
		}
		return n
	}
	cev, sev := crec.Events(), srec.Events()
	var first *trace.Event
	for i := range cev {
		if cev[i].Kind == trace.SegmentOut {
			first = &cev[i]
			break
		}
	}
	if first == nil || first.Seg.Flags != wire.SYN || first.Stack != "client" || first.Remote.String() != "10.0.0.2:80" ||
		first.Local != c.key.local {
		t.Fatalf("first segment out: %+v", first)
	}
	if count(cev, trace.SegmentOut) != count(sev, trace.SegmentIn) || count(sev, trace.SegmentOut) != count(cev, trace.SegmentIn) {
		t.Fatal("segments out of one stack and into the other differ")
	}
	var states []string
	for _, e := range sev {
		if e.Kind == trace.StateChange && e.Local == s.key.local {
			states = append(states, e.To)
		}
		if e.Stack != "server" {
			t.Fatalf("server event with stack %q", e.Stack)
		}
	}
	want := []string{"LISTEN", "SYN_RECV", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED"}
	if len(states) != len(want) {
		t.Fatalf("server states %v, want %v", states, want)
	}
	for i := range want {
		if states[i] != want[i] {
			t.Fatalf("server states %v, want %v", states, want)
		}
	}
	// A drop is traced with its reason.
	srec.Reset()
	client.Dial("tcp", "10.0.0.2:99")
	found := false
	for _, e := range srec.Events() {
		found = found || e.Kind == trace.Drop && e.Why == "no-socket"
	}
	if !found {
		t.Fatal("no Drop event for a SYN to a closed port")
	}
}

// Keepalive probes an idle peer and, when nine go unanswered, ends the
// connection with ETIMEDOUT.
func TestKeepAliveTimeout(t *testing.T) {
	a, b := pipe.New(pipe.Config{})
	client, err := NewStack(b, Options{Addrs: []netip.Prefix{clientAddr}, KeepAlive: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	peer := newRawPeer(t, a)
	type res struct {
		c   *Conn
		err error
	}
	done := make(chan res, 1)
	go func() {
		c, err := client.Dial("tcp", "10.0.0.2:80")
		cc, _ := c.(*Conn)
		done <- res{cc, err}
	}()
	_, syn := peer.recv()
	server := netip.MustParseAddrPort("10.0.0.2:80")
	peer.sendSeg(server, netip.AddrPortFrom(clientAddr.Addr(), syn.SrcPort),
		wire.TCPSegment{Seq: 5000, Ack: syn.Seq + 1, Flags: wire.SYN | wire.ACK, Window: 65535})
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	start := time.Now()
	_, err = r.c.Read(make([]byte, 1))
	if !errors.Is(err, syscall.ETIMEDOUT) {
		t.Fatalf("read on a dead peer: %v, want ETIMEDOUT", err)
	}
	probes := 0
	for {
		_, seg, ok := peer.recvWithin(10 * time.Millisecond)
		if !ok {
			break
		}
		if seg.Flags == wire.ACK && len(seg.Payload) == 0 && seg.Seq == syn.Seq {
			probes++ // SND.UNA - 1: RFC 9293 §3.8.4
		}
	}
	if probes != 9 {
		t.Fatalf("%d keepalive probes, want 9", probes)
	}
	t.Logf("ETIMEDOUT after %v", time.Since(start).Round(time.Millisecond))
}
