package tcp

import (
	"testing"
	"time"
)

// Quick-ACK mode, as Linux: the first data segments of a connection are
// acknowledged at once (no 40 ms delayed ACK while the sender's window is
// small), up to maxQuickAcks of them with a large window; then delayed
// ACKs return; after the connection was idle for more than an RTO, a new
// episode starts. SetQuickAck(false) ends it, as TCP_QUICKACK 0.
func TestQuickAck(t *testing.T) {
	h := accepted(t, nil)
	next := peerISS + 1
	at := 10 * ms
	small := func(why string, immediate bool) {
		t.Helper()
		h.send(at, in(fPA, next, tcbISS+1).data(make([]byte, 100)))
		next = next.Add(100)
		if immediate {
			h.want(at, why, seg(fA, tcbISS+1, next))
		} else {
			h.wantIdle(at + 39*ms)
			h.want(at+40*ms, why, seg(fA, tcbISS+1, next))
		}
		h.read()
		at += 50 * ms
	}
	for range maxQuickAcks {
		small("a first segment of the connection: ACKed at once", true)
	}
	small("quick ACKs used up: the ACK is delayed 40 ms", false)
	small("still delayed", false)

	at += 10 * time.Second // idle for more than an RTO
	small("after idle: ACKed at once again", true)
	small("and the next", true)

	h.tcb.SetQuickAck(false)
	small("SetQuickAck(false): delayed, quick-ACK mode over", false)
	at += 10 * time.Second
	small("after idle too", false)
	h.wantIdle(time.Hour)
}

// A small receive window makes a short episode: one quick ACK per two
// segments the window holds, at least 2 (Linux's tcp_incr_quickack).
func TestQuickAckSmallWindow(t *testing.T) {
	cfg := testConfig()
	cfg.RecvBuf = minBufSize
	h := accepted(t, cfg)
	want := max(2, min(maxQuickAcks, int(h.tcb.rcvWindow()/(2*h.tcb.rcv.segMSS))))
	if want >= maxQuickAcks {
		t.Fatalf("the window %d does not limit the episode", h.tcb.rcvWindow())
	}
	next := peerISS + 1
	for i := range want + 1 {
		at := time.Duration(10+50*i) * ms
		h.send(at, in(fPA, next, tcbISS+1).data(make([]byte, 10)))
		next = next.Add(10)
		if i < want {
			h.want(at, "quick ACK", seg(fA, tcbISS+1, next))
		} else {
			h.want(at+40*ms, "episode over: delayed", seg(fA, tcbISS+1, next))
		}
		h.read()
	}
}
