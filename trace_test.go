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
	"github.com/synack-go/synack/trace"
	"github.com/synack-go/synack/wire"
)

// The tracer sees every segment each way, the state changes and the drops,
// stamped with the stack's name and the connection's endpoints.
func TestTracer(t *testing.T) {
	var crec, srec trace.Recorder
	sm, client, server := pairOpts(t, pipe.Config{}, Options{Tracer: &crec}, Options{Tracer: &srec})
	c, s := connected(t, client, server, "10.0.0.2:80")
	c.Write([]byte("hello"))
	s.Read(make([]byte, 5))
	c.Close()
	if _, err := s.Read(make([]byte, 1)); err != io.EOF {
		t.Fatal(err)
	}
	s.Close()
	waitFor(t, sm, "close", func() bool { return state(s) == tcp.StateClosed })

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
// connection with ETIMEDOUT: the first probe after KeepAlive of silence,
// the others KeepAlive apart (RFC 9293 §3.8.4; Linux's tcp_keepalive_*).
func TestKeepAliveTimeout(t *testing.T) {
	sm := newSim(t)
	a, b := sm.Pipe(pipe.Config{})
	const idle = 10 * time.Second
	client := newStack(t, sm, b, Options{Addrs: []netip.Prefix{clientAddr}, KeepAlive: idle})
	peer := newRawPeer(t, sm, a)
	dialed := start(sm, func() (net.Conn, error) { return client.Dial("tcp", "10.0.0.2:80") })
	_, syn := peer.recv()
	server := netip.MustParseAddrPort("10.0.0.2:80")
	peer.sendSeg(server, netip.AddrPortFrom(clientAddr.Addr(), syn.SrcPort),
		wire.TCPSegment{Seq: 5000, Ack: syn.Seq + 1, Flags: wire.SYN | wire.ACK, Window: 65535})
	c, err := dialed.get(t)
	if err != nil {
		t.Fatal(err)
	}
	if _, ack := peer.recv(); ack.Flags != wire.ACK {
		t.Fatalf("handshake ACK %+v", ack)
	}
	established := sm.Now()
	read := startErr(sm, func() error { _, err := c.Read(make([]byte, 1)); return err })
	var at []time.Duration
	for range 9 {
		_, seg, _ := peer.recvWithin(time.Hour)
		if seg.Flags != wire.ACK || len(seg.Payload) != 0 || seg.Seq != syn.Seq {
			t.Fatalf("segment %+v, want a keepalive probe at SND.UNA-1 (RFC 9293 §3.8.4)", seg)
		}
		at = append(at, sm.Now().Sub(established))
	}
	if _, err := read.get(t); !errors.Is(err, syscall.ETIMEDOUT) {
		t.Fatalf("read on a dead peer: %v, want ETIMEDOUT", err)
	}
	for i, d := range at {
		if want := time.Duration(i+1) * idle; d != want {
			t.Fatalf("probes at %v, want every %v from %v", at, idle, idle)
		}
	}
	if el := sm.Now().Sub(established); el != 10*idle {
		t.Fatalf("ETIMEDOUT %v after the last data, want %v: nine probes, then one more interval", el, 10*idle)
	}
	if _, seg, ok := peer.recvWithin(time.Minute); ok {
		t.Fatalf("segment after the connection timed out: %+v", seg)
	}
}
