package tcp

import (
	"testing"
	"time"

	"github.com/synack-go/synack/wire"
)

// RFC 6675 §5 (and RFC 5681 §3.2): a lost segment is repaired by fast
// retransmit once three segments above it are SACKed, well before any RTO;
// only the hole is sent again, and the ACK of everything ends recovery.
func TestFastRetransmit(t *testing.T) {
	h := accepted(t, nil)
	const mss = 1448
	h.write(make([]byte, 10*mss))
	var segs []want
	for i := range 10 {
		segs = append(segs, seg(fA, tcbISS+1+Seq(i*mss), peerISS+1).length(mss))
	}
	segs[9].flags = fPA
	h.want(1*ms, "ten segments: the initial window (RFC 6928)", segs...)
	// The third is lost: its successors arrive and are SACKed.
	h.send(2*ms, in(fA, peerISS+1, tcbISS+1+mss))
	h.send(2*ms, in(fA, peerISS+1, tcbISS+1+2*mss))
	hole := wire.SACKBlock{Left: tcbISS + 1 + 3*mss}
	for i := 4; i <= 5; i++ {
		hole.Right = tcbISS + 1 + Seq(i*mss)
		h.send(2*ms, in(fA, peerISS+1, tcbISS+1+2*mss).sack(hole))
	}
	h.wantIdle(2 * ms)
	hole.Right = tcbISS + 1 + 6*mss
	h.send(2*ms, in(fA, peerISS+1, tcbISS+1+2*mss).sack(hole))
	h.want(2*ms, "the third duplicate ACK: the hole again", seg(fA, tcbISS+1+2*mss, peerISS+1).length(mss))
	for i := 7; i <= 10; i++ {
		hole.Right = tcbISS + 1 + Seq(i*mss)
		h.send(2*ms, in(fA, peerISS+1, tcbISS+1+2*mss).sack(hole))
	}
	h.send(3*ms, in(fA, peerISS+1, tcbISS+1+10*mss))
	h.wantIdle(time.Hour)
	st := h.tcb.Stats()
	if st.FastRecov != 1 || st.RTOs != 0 || st.Retransmits != 1 {
		t.Fatalf("fast recoveries %d, RTOs %d, retransmits %d; want 1, 0, 1", st.FastRecov, st.RTOs, st.Retransmits)
	}
}

// A window that closes while data is in flight, and whose update is lost,
// must not stall the connection: at the RTO the closed window is probed
// (an ACK at SND.UNA-1) instead of data being resent into it, and the
// probe's answer opens the window and restarts the data.
func TestRTOWithClosedWindow(t *testing.T) {
	h := accepted(t, nil)
	const mss = 1448
	h.write(make([]byte, 3*mss))
	h.want(1*ms, "three segments",
		seg(fA, tcbISS+1, peerISS+1).length(mss),
		seg(fA, tcbISS+1+mss, peerISS+1).length(mss),
		seg(fPA, tcbISS+1+2*mss, peerISS+1).length(mss))
	h.send(2*ms, in(fA, peerISS+1, tcbISS+1+mss).win(0)) // the update that follows is lost
	h.wantIdle(201 * ms)
	h.want(202*ms, "the RTO (200 ms) probes the closed window", seg(fA, tcbISS+mss, peerISS+1))
	h.send(203*ms, in(fA, peerISS+1, tcbISS+1+mss).win(100))
	h.want(203*ms, "the window open again: data from SND.UNA, one segment (a timeout leaves cwnd at one, RFC 5681 §3.1; Linux's tcp_enter_loss)",
		seg(fA, tcbISS+1+mss, peerISS+1).length(mss))
	h.send(204*ms, in(fA, peerISS+1, tcbISS+1+2*mss).win(100))
	h.want(204*ms, "its ACK lets the last one go", seg(fPA, tcbISS+1+2*mss, peerISS+1).length(mss))
	h.send(205*ms, in(fA, peerISS+1, tcbISS+1+3*mss))
	h.wantIdle(time.Hour)
}
