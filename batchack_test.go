package synack

import (
	"net/netip"
	"testing"
	"time"

	"github.com/synack-go/synack/link/pipe"
	"github.com/synack-go/synack/wire"
)

// With batched ACKs, segments that arrive in a quick-ACK episode (the
// connection's first data, tcp/quickack.go) are still acknowledged one by
// one, as Linux does: the sender's window grows by those ACKs. Past the
// episode a read batch's in-order data draws one stretch ACK. Before,
// the first flight of a connection on a batching link drew one ACK.
func TestBatchedACKsKeepQuickAcks(t *testing.T) {
	sm := newSim(t)
	a, b := sm.Pipe(pipe.Config{})
	server := newStack(t, sm, b, Options{Addrs: []netip.Prefix{serverAddr}, BatchACKs: BatchACKsOn})
	ln, err := server.Listen("tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer := newRawPeer(t, sm, a)
	src := netip.MustParseAddrPort("10.0.0.1:5000")
	dst := netip.MustParseAddrPort("10.0.0.2:80")
	peer.sendSeg(src, dst, wire.TCPSegment{Seq: 1000, Flags: wire.SYN, Window: 65535,
		Options: wire.TCPOptions{MSS: 1460}})
	_, synAck := peer.recv()
	if synAck.Flags != wire.SYN|wire.ACK {
		t.Fatalf("answer to the SYN: %+v", synAck)
	}
	seq, ack := wire.Seq(1001), synAck.Seq+1
	peer.sendSeg(src, dst, wire.TCPSegment{Seq: seq, Ack: ack, Flags: wire.ACK, Window: 65535})

	// flight sends n full segments in one write (one read batch at the
	// stack) and counts the ACKs that come back before a delayed ACK could.
	payload := make([]byte, 1460)
	flight := func(n int) (acks int) {
		pkts := make([][]byte, n)
		for i := range pkts {
			pkts[i] = packet(src, dst, &wire.TCPSegment{Seq: seq, Ack: ack, Flags: wire.ACK, Window: 65535, Payload: payload})
			seq += wire.Seq(len(payload))
		}
		peer.send(pkts...)
		for {
			_, seg, ok := peer.recvWithin(10 * time.Millisecond)
			if !ok {
				return acks
			}
			if seg.Flags&wire.ACK != 0 {
				acks++
			}
		}
	}
	if got := flight(6); got != 6 {
		t.Errorf("the connection's first 6 segments, in one read batch, drew %d ACKs, want 6 (quick-ACK mode)", got)
	}
	// The episode is 16 ACKs (the most, Linux's TCP_MAX_QUICKACKS): 10
	// are left, then one stretch ACK answers the rest of the batch.
	if got := flight(30); got != 11 {
		t.Errorf("the next 30 segments, in one read batch, drew %d ACKs, want 11", got)
	}
}
