package tcp

import (
	"testing"
	"time"

	"github.com/synack-go/synack/wire"
)

// RFC 9293 §3.8.6.3 (and RFC 5681 §4.2): an ACK may be delayed, here by
// 40 ms as Linux, but every second full-sized segment is acknowledged at
// once. (Quick-ACK mode is off, as with TCP_QUICKACK 0: TestQuickAck.)
func TestDelayedAck(t *testing.T) {
	h := accepted(t, nil)
	h.tcb.SetQuickAck(false)
	h.send(10*ms, in(fPA, peerISS+1, tcbISS+1).data(make([]byte, 100)))
	h.wantIdle(49 * ms)
	h.want(50*ms, "one small segment: the ACK waits 40 ms", seg(fA, tcbISS+1, peerISS+101))
	h.read()
	const full = 1448 // MSS less the timestamps
	h.send(60*ms, in(fA, peerISS+101, tcbISS+1).data(make([]byte, full)))
	h.wantIdle(60 * ms)
	h.send(60*ms, in(fA, peerISS+101+full, tcbISS+1).data(make([]byte, full)))
	h.want(60*ms, "the second full-sized segment: an ACK at once", seg(fA, tcbISS+1, peerISS+101+2*full))
	h.wantIdle(time.Hour)
}

// A peer behind a smaller path MTU never sends segments of our advertised
// MSS: the receiver measures what arrives (as Linux's tcp_measure_rcv_mss),
// so every second one of those segments is still acknowledged at once,
// not after the delayed-ACK timer: six segments, three immediate ACKs.
func TestDelayedAckMeasuresPeerSegments(t *testing.T) {
	h := accepted(t, nil)
	h.tcb.SetQuickAck(false)
	const small = 1200 - 40 - 12 // a 1200-byte path MTU, with timestamps
	next := peerISS + 1
	for i := range 6 {
		h.send(10*ms, in(fA, next, tcbISS+1).data(make([]byte, small)))
		next = next.Add(small)
		if i%2 == 0 {
			h.wantIdle(10 * ms)
			continue
		}
		h.want(10*ms, "every second segment of the measured size: an ACK at once", seg(fA, tcbISS+1, next))
	}
	if h.tcb.rcv.segMSS != small {
		t.Fatalf("segment size estimate %d, want %d", h.tcb.rcv.segMSS, small)
	}
	// A PSH segment of a new, smaller size (the end of a write) does not
	// lower the estimate.
	h.send(11*ms, in(fPA, next, tcbISS+1).data(make([]byte, 300)))
	if h.tcb.rcv.segMSS != small {
		t.Fatalf("a short PSH segment moved the estimate to %d", h.tcb.rcv.segMSS)
	}
	h.want(51*ms, "the short one waits for the timer", seg(fA, tcbISS+1, next+300))
}

// Nagle (RFC 896, RFC 9293 §3.7.4): with no-delay off, small writes wait
// while data is unacknowledged and then go out together; with no-delay on
// (Go's default) each goes at once.
func TestNagle(t *testing.T) {
	cfg := testConfig()
	cfg.NoDelay = false
	h := accepted(t, cfg)
	for range 5 {
		h.write([]byte("x"))
	}
	h.want(1*ms, "the first small write goes, the others wait for its ACK",
		seg(fPA, tcbISS+1, peerISS+1).payload([]byte("x")))
	h.wantIdle(10 * ms)
	h.send(11*ms, in(fA, peerISS+1, tcbISS+2))
	h.want(11*ms, "the ACK releases the rest in one segment",
		seg(fPA, tcbISS+2, peerISS+1).payload([]byte("xxxx")))
	h.send(12*ms, in(fA, peerISS+1, tcbISS+6))
	h.wantIdle(time.Hour)

	h = accepted(t, nil) // NoDelay on
	var segs []want
	for i := range 5 {
		h.write([]byte("x"))
		segs = append(segs, seg(fPA, tcbISS+1+Seq(i), peerISS+1).payload([]byte("x")))
	}
	h.want(1*ms, "no-delay: each write at once", segs...)
	h.send(2*ms, in(fA, peerISS+1, tcbISS+6))
	h.wantIdle(time.Hour)
}

// RFC 6093: urgent data is delivered inline; the byte stream is unchanged.
func TestUrgentInline(t *testing.T) {
	h := accepted(t, nil)
	p := in(fPA, peerISS+1, tcbISS+1).data([]byte("abc!def"))
	p.Flags |= 0x20 // URG
	p.Urgent = 4
	h.send(2*ms, p)
	if got := h.read(); string(got) != "abc!def" {
		t.Fatalf("read %q, want the urgent byte inline", got)
	}
	if !h.tcb.rcv.urgSeen || h.tcb.rcv.urgent != peerISS+1+4 {
		t.Fatalf("urgent pointer not noted")
	}
	h.want(2*ms, "reading a pushed segment whole sends its ACK at once (Linux's ICSK_ACK_PUSHED)",
		seg(fA, tcbISS+1, peerISS+8))
}

// RFC 5681 §4.2 and RFC 2018 §4: an out-of-order segment is acknowledged
// at once, a duplicate ACK whose SACK block names what arrived; the
// segment that fills the hole is acknowledged at once too, and the ACK
// covers everything.
func TestOutOfOrderSACK(t *testing.T) {
	h := accepted(t, nil)
	h.send(10*ms, in(fPA, peerISS+101, tcbISS+1).data(make([]byte, 100)))
	h.want(10*ms, "out of order: a duplicate ACK at once, SACKing the segment",
		seg(fA, tcbISS+1, peerISS+1).withSACK(wire.SACKBlock{Left: peerISS + 101, Right: peerISS + 201}))
	h.send(11*ms, in(fA, peerISS+1, tcbISS+1).data(make([]byte, 100)))
	h.want(11*ms, "the hole filled: an ACK of both at once, no SACK left",
		seg(fA, tcbISS+1, peerISS+201).withSACK())
	if got := h.read(); len(got) != 200 {
		t.Fatalf("read %d bytes, want 200", len(got))
	}
	h.wantIdle(time.Hour)
}

// An out-of-order segment that carries the FIN is SACKed with the FIN's
// sequence number, as Linux's receiver SACKs an out-of-order segment to
// its end_seq (tcp_data_queue_ofo), FIN included. A block that stopped at
// the data left the sender's FIN segment short of SACKed: RACK deemed it
// lost and it went again, a spurious retransmission at the end of every
// transfer whose last window lost a segment.
func TestOutOfOrderFINSACKed(t *testing.T) {
	h := accepted(t, nil)
	h.send(10*ms, in(fFA|wire.PSH, peerISS+101, tcbISS+1).data(make([]byte, 100)))
	h.want(10*ms, "out of order with the FIN: the SACK block covers the FIN",
		seg(fA, tcbISS+1, peerISS+1).withSACK(wire.SACKBlock{Left: peerISS + 101, Right: peerISS + 202}))
	h.send(11*ms, in(fA, peerISS+1, tcbISS+1).data(make([]byte, 100)))
	h.want(11*ms, "the hole filled: data and FIN acknowledged, no SACK left",
		seg(fA, tcbISS+1, peerISS+202).withSACK())
}

// A segment that a link coalesced (GRO), or a peer's TSO packet that was
// never cut, holds many full-sized segments' worth of data: it is
// acknowledged at once, as Linux does when more than one MSS arrived,
// instead of waiting for the delayed-ACK timer or a second such segment.
func TestCoalescedSegmentAckedAtOnce(t *testing.T) {
	h := accepted(t, nil)
	const full = 1448 // MSS less the timestamps
	h.send(10*ms, in(fA, peerISS+1, tcbISS+1).data(make([]byte, 20*full)))
	h.want(10*ms, "a 20-segment coalesced segment: an ACK at once", seg(fA, tcbISS+1, peerISS+1+20*full))
	h.wantIdle(time.Hour)
}

// A read sends a window update only when the window it frees is at least
// twice what is left of the advertised one, and that is at most half the
// buffer (Linux's tcp_cleanup_rbuf): a reader that keeps up with a fast
// sender leaves the window to the regular ACKs instead of answering every
// read with an ACK of its own.
func TestWindowUpdateOnlyWhenRaisedSignificantly(t *testing.T) {
	cfg := testConfig()
	cfg.RecvBuf = 64 << 10
	h := accepted(t, cfg)
	h.tcb.SetQuickAck(false)
	const full = 1448
	next := peerISS + 1
	for i := range 28 { // 40,544 bytes: about 24 KiB of the window left
		h.send(10*ms, in(fA, next, tcbISS+1).data(make([]byte, full)))
		next = next.Add(full)
		if i%2 == 1 {
			h.want(10*ms, "every second segment: an ACK", seg(fA, tcbISS+1, next))
		}
	}
	h.user(func(t *TCB, now time.Duration) { t.Read(make([]byte, 4096)) })
	h.wantIdle(10 * ms) // 4 KiB more window is not twice what is left
	h.read()
	h.want(10*ms, "the buffer emptied: a window update", seg(fA, tcbISS+1, next))
	h.wantIdle(time.Hour)
}
