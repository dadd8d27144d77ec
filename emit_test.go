package synack

import (
	"testing"

	"github.com/synack-go/synack/link/pipe"
	"github.com/synack-go/synack/wire"
)

// A TSO segment for a link without TSO (or too large for the packet the
// connection may send) is cut by the batch into segments of the size the
// TCB gave, each with its own sequence number, PSH and FIN on the last
// only, as the link would have cut it.
func TestEmitTSOCut(t *testing.T) {
	a, b := pipe.New(pipe.Config{})
	client, _ := stacksOn(t, a, b, Options{}, Options{})
	tx := newTxBatch(client, false)
	tx.to(clientAddr.Addr(), serverAddr.Addr())
	payload := make([]byte, 2*1000+10)
	for i := range payload {
		payload[i] = byte(i / 1000)
	}
	seg := wire.TCPSegment{SrcPort: 1, DstPort: 2, Seq: 100, Ack: 7, Flags: wire.ACK | wire.PSH | wire.FIN,
		Window: 9, Payload: payload}
	tx.EmitTSO(&seg, 1000)
	tx.seal()
	if len(tx.pkts) != 3 || tx.segs != 3 {
		t.Fatalf("%d packets, %d segments; want 3 segments of at most 1000 bytes", len(tx.pkts), tx.segs)
	}
	hl := wire.IPHeaderLen(serverAddr.Addr())
	for i, pkt := range tx.pkts {
		h := wire.TCP(pkt[client.lk.headroom+hl:])
		want := wire.ACK
		if i == 2 {
			want |= wire.PSH | wire.FIN
		}
		if h.Seq() != wire.Seq(100+1000*i) || h.Flags() != want || len(h.Payload()) != min(1000, len(payload)-1000*i) ||
			h.Payload()[0] != byte(i) {
			t.Errorf("packet %d: seq %d flags %v, %d bytes from %d; want seq %d flags %v", i, h.Seq(), h.Flags(),
				len(h.Payload()), h.Payload()[0], 100+1000*i, want)
		}
	}
	tx.drop()
}
