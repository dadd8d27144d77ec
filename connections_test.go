package synack

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/synack-go/synack/tcp"
	"github.com/synack-go/synack/wire"
)

// recvTo returns the next segment the stack sends to port, skipping others.
func (r *rawPeer) recvTo(port uint16) wire.TCPSegment {
	r.t.Helper()
	for {
		if _, seg := r.recv(); seg.DstPort == port {
			return seg
		}
	}
}

// The listing holds every connection in the flow table, in any state, in
// order of local then remote address, and lists without allocating into a
// slice that has room.
func TestConnections(t *testing.T) {
	s, peer := icmpStack(t, Options{})
	me := clientAddr.Addr()
	them := netip.MustParseAddr("10.0.0.9")
	ln, err := s.Listen("tcp", "10.0.0.1:80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srv := netip.AddrPortFrom(me, 80)

	// SYN_RECV: a handshake the peer never finishes.
	half := netip.AddrPortFrom(them, 5000)
	peer.sendSeg(half, srv, wire.TCPSegment{Seq: 100, Flags: wire.SYN, Window: 65535, Options: wire.TCPOptions{MSS: 1460}})
	peer.recvTo(5000)

	// TIME_WAIT: a handshake, then our close and the peer's FIN.
	done := netip.AddrPortFrom(them, 5001)
	peer.sendSeg(done, srv, wire.TCPSegment{Seq: 200, Flags: wire.SYN, Window: 65535, Options: wire.TCPOptions{MSS: 1460}})
	synAck := peer.recvTo(5001)
	peer.sendSeg(done, srv, wire.TCPSegment{Seq: 201, Ack: synAck.Seq + 1, Flags: wire.ACK, Window: 65535})
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	fin := peer.recvTo(5001)
	if fin.Flags&wire.FIN == 0 {
		t.Fatalf("want our FIN, got %+v", fin)
	}
	peer.sendSeg(done, srv, wire.TCPSegment{Seq: 201, Ack: fin.Seq + 1, Flags: wire.FIN | wire.ACK, Window: 65535})
	peer.recvTo(5001) // the ACK of the peer's FIN

	// SYN_SENT: a dial nobody answers.
	ctx, cancel := context.WithCancel(context.Background())
	dialed := start(peer.sm, func() (net.Conn, error) { return s.DialContext(ctx, "tcp", "10.0.0.9:81") })
	syn := peer.recvTo(81)
	waitFor(t, peer.sm, "TIME_WAIT", func() bool { return s.Stats().TimeWait == 1 })

	want := []struct {
		local, remote netip.AddrPort
		state         tcp.State
	}{
		{srv, half, tcp.StateSynReceived},
		{srv, done, tcp.StateTimeWait},
		{netip.AddrPortFrom(me, syn.SrcPort), netip.AddrPortFrom(them, 81), tcp.StateSynSent},
	}
	list := s.AppendConnections(make([]ConnInfo, 0, 8))
	if len(list) != len(want) {
		t.Fatalf("%d connections listed, want %d: %+v", len(list), len(want), list)
	}
	for i, w := range want {
		if ci := list[i]; ci.Local != w.local || ci.Remote != w.remote || ci.Stats.State != w.state {
			t.Errorf("connection %d: %v > %v %v, want %v > %v %v", i, ci.Local, ci.Remote, ci.Stats.State, w.local, w.remote, w.state)
		}
	}
	if !list[1].Stats.Established {
		t.Errorf("TIME_WAIT connection's stats %+v", list[1].Stats)
	}
	if !raceEnabled {
		if n := testing.AllocsPerRun(20, func() { list = s.AppendConnections(list[:0]) }); n != 0 {
			t.Errorf("AppendConnections into a slice with room: %v allocations", n)
		}
	}
	if got := s.Connections(); len(got) != 3 || got[2].Stats.State != tcp.StateSynSent {
		t.Errorf("Connections: %+v", got)
	}

	cancel()
	if _, err := dialed.get(t); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled dial: %v", err)
	}
	s.Close()
	if got := s.Connections(); len(got) != 0 {
		t.Fatalf("after Close: %+v", got)
	}
}
