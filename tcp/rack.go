package tcp

import (
	"time"

	"github.com/synack-go/synack/tcp/cc"
)

// RACK: the time-based loss detection of RFC 8985 §6. A segment is lost
// when a segment sent after it has been delivered and it has itself been
// out longer than the latest RTT plus a reordering window. Time works for
// retransmissions as for originals, and for the last segments of a flight
// as for the first, where counting duplicate ACKs does not.
// https://www.rfc-editor.org/rfc/rfc8985#section-6

// rackState is RFC 8985 §6.1's per-connection state.
type rackState struct {
	xmitTS        time.Duration // RACK.xmit_ts: latest send time of a delivered segment
	rtt           time.Duration // RACK.rtt: that segment's RTT
	endSeq        Seq           // RACK.end_seq
	fack          Seq           // RACK.fack: highest end of a delivered segment
	dsackRound    Seq           // RACK.dsack_round: SND.MAX when the last D-SACK grew the window
	reoWndMult    uint8         // RACK.reo_wnd_mult
	reoWndPersist uint8         // RACK.reo_wnd_persist
	reordSeen     bool          // RACK.reordering_seen
	dsackRoundOn  bool
	valid         bool // a segment was delivered: xmitTS, rtt and endSeq hold
}

// reoWndPersistRounds is RFC 8985 §6.2's count of recoveries without a
// D-SACK after which the reordering window shrinks back.
const reoWndPersistRounds = 16

// minReoRTT is the least min RTT the reordering window is computed from.
const minReoRTT = time.Millisecond

// sentAfter is RFC 8985's RACK_sent_after: t1/seq1 was sent after t2/seq2
// (the sequence breaks ties between segments sent at once).
func sentAfter(t1 time.Duration, seq1 Seq, t2 time.Duration, seq2 Seq) bool {
	return t1 > t2 || (t1 == t2 && seq1.Greater(seq2))
}

// rackUpdate is RFC 8985 §6.2 steps 2 and 3 for one newly delivered
// record: RACK's reference segment and RTT, and reordering detection.
func (t *TCB) rackUpdate(r *txRecord, a *ackInfo) {
	xs := t.xs
	rk := &xs.rack
	retrans := r.flags&txRetrans != 0
	sent := r.sentAt()
	rtt := a.now - sent
	switch {
	case !retrans:
		if rtt > 0 && (xs.rate.minRTT == 0 || rtt < xs.rate.minRTT) {
			xs.rate.minRTT = rtt // the connection's min RTT, Linux's tcp_min_rtt
		}
	case a.hasTS && a.tsecr != 0 && int32(a.tsecr-t.tsNow(sent)) < 0:
		// Step 2: the ACK echoes a timestamp older than the
		// retransmission: it answers an earlier transmission.
		return
	case rtt < xs.rate.minRTT:
		// Too soon to answer the retransmission: the original's ACK.
		return
	}
	if !rk.valid || sentAfter(sent, r.end, rk.xmitTS, rk.endSeq) {
		rk.rtt, rk.xmitTS, rk.endSeq, rk.valid = rtt, sent, r.end, true
	}
	// Step 3, in ascending order of the segments' ends as the RFC asks:
	// a segment below one delivered by an earlier ACK, never
	// retransmitted, arrived out of order.
	if r.end.Less(a.priorFack) && !retrans {
		t.reorderingSeen()
	}
	rk.fack = rk.fack.Max(r.end)
}

// reorderingSeen notes that the path reorders: from now on RACK's window
// alone decides what is lost (RFC 8985 §6.2 RACK.reordering_seen).
func (t *TCB) reorderingSeen() {
	xs := t.xs
	if !xs.rack.reordSeen {
		xs.rack.reordSeen = true
	}
	xs.reordSeen++
}

// rackOnDSACK is RFC 8985 §6.2 step 4: a round with a D-SACK grows the
// reordering window by a quarter of the min RTT, once per round trip, and
// keeps it for 16 recoveries. A D-SACK also says the path reorders (or
// duplicates): a retransmission was not needed.
func (t *TCB) rackOnDSACK() {
	xs := t.xs
	rk := &xs.rack
	if rk.dsackRoundOn && !t.snd.una.Less(rk.dsackRound) {
		rk.dsackRoundOn = false
	}
	if !rk.dsackRoundOn {
		rk.dsackRound, rk.dsackRoundOn = t.snd.max, true
		rk.reoWndMult = min(rk.reoWndMult+1, 255)
		rk.reoWndPersist = reoWndPersistRounds
	}
	t.reorderingSeen()
}

// rackOnRecoveryExit counts down the recoveries the grown window persists.
func (t *TCB) rackOnRecoveryExit() {
	rk := &t.xs.rack
	if rk.reoWndPersist > 0 {
		rk.reoWndPersist--
		if rk.reoWndPersist == 0 {
			rk.reoWndMult = 1
		}
	}
}

// reoWnd is RFC 8985 §6.2's reordering window: a quarter of the min RTT,
// times the D-SACK multiplier, at most SRTT. The min RTT counts as at
// least a millisecond (the window at least 250 µs): on a path of a few
// microseconds, segments a batch apart arrive "late" by more than that.
// Until reordering is seen, the window is zero in recovery (RFC 8985:
// every hole sent before a delivered segment is lost then).
//
// RFC 8985 also zeroes the window, before recovery, once DupThresh
// segments are SACKed. We use RFC 6675's IsLost for that rule instead
// (markIsLost): it starts recovery as early, but a hole that only one or
// two later segments overtook is not resent at recovery's start (issue
// 12, bug B); RACK's timer or the zero window of recovery takes it later.
func (t *TCB) reoWnd() time.Duration {
	xs := t.xs
	if !xs.rack.reordSeen && xs.ca >= caRecovery {
		return 0
	}
	w := time.Duration(xs.rack.reoWndMult) * max(xs.rate.minRTT, minReoRTT) / 4
	if t.rtt.hasRTT {
		w = min(w, t.rtt.srtt)
	}
	return w
}

// rackDetectLoss is RFC 8985 §6.2 step 5 (RACK_detect_loss): every segment
// in flight sent before RACK's reference is lost once it has been out for
// RACK.rtt plus the reordering window; for the others the reordering timer
// is armed. The time-ordered list holds only segments in flight, neither
// SACKed nor lost, oldest first, so the walk stops at the reference.
func (t *TCB) rackDetectLoss(now time.Duration) {
	xs := t.xs
	rk := &xs.rack
	if !rk.valid {
		return
	}
	q := &xs.q
	if q.tLen == 0 {
		// Nothing in flight unSACKed and unmarked: no loss to find, no
		// timer to arm (the common ACK that takes the whole flight).
		t.stopEarlyTimer(earlyReorder)
		return
	}
	reo := t.reoWnd()
	var timeout time.Duration
	id := q.tHead
	for left := q.tLen; left > 0; left-- {
		r := q.at(id)
		next := r.next
		if !sentAfter(rk.xmitTS, rk.endSeq, r.sentAt(), r.end) {
			break
		}
		if remaining := r.sentAt() + rk.rtt + reo - now; remaining <= 0 {
			t.markLost(id, now)
		} else {
			timeout = max(timeout, remaining)
		}
		id = next
	}
	if timeout > 0 {
		t.armEarlyTimer(earlyReorder, now+timeout)
	} else {
		t.stopEarlyTimer(earlyReorder)
	}
}

// onReorderTimeout fires the RACK reordering timer (RFC 8985 §6.2
// RACK_detect_loss_and_arm_timer): what is now overdue is lost, recovery
// begins if it had not, and the losses go out at the next Poll.
func (t *TCB) onReorderTimeout(now time.Duration) {
	xs := t.xs
	if xs == nil {
		return
	}
	t.timerFired("rack")
	lost := xs.lostOut
	t.rackDetectLoss(now)
	if xs.lostOut == lost {
		return
	}
	if xs.ca < caRecovery {
		t.enterRecovery(now, cc.RuleRACK)
	}
	if xs.ca == caRecovery && t.cc.UsesPRR() {
		// Linux's tcp_rack_reo_timeout: the timer stands for one segment
		// delivered, so that PRR lets the retransmission go.
		xs.prr.onAck(t.snd.mss, t.pipe(), t.cc.Ssthresh(), t.snd.mss)
	}
	t.congestionChanged(CwndRecovery)
}
