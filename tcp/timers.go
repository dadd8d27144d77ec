package tcp

import "time"

// rexmitKind says what the exclusive retransmission timer is doing: the
// retransmission timer (RFC 6298), the persist timer (RFC 9293 §3.8.6.1)
// and the loss probe timer (RFC 8985 §7) never run at the same time, so
// they share one deadline.
type rexmitKind uint8

const (
	rexmitOff rexmitKind = iota
	rexmitRTO
	rexmitPersist
)

// earlyKind says what the loss-detection timer that runs ahead of the
// retransmission timer is doing: RACK's reordering timer (RFC 8985 §6.2)
// or the tail loss probe's timeout (§7.2). They never run at once; the
// RTO keeps running behind either (RFC 8985 §8).
type earlyKind uint8

const (
	earlyOff earlyKind = iota
	earlyReorder
	earlyProbe
)

// timers holds every deadline of a TCB as plain data (zero = unarmed). The
// event hooks below decide what each event arms; Poll fires what is due.
type timers struct {
	at        time.Duration // retransmission or persist deadline
	early     time.Duration // RACK reordering or loss probe deadline (0: off)
	rexStart  time.Duration // first timeout of the current episode (0: none yet)
	delack    time.Duration
	keep      time.Duration
	close     time.Duration // TIME_WAIT expiry, or the orphaned FIN_WAIT2 limit
	keepIdle  time.Duration
	keepIntvl time.Duration
	backoffs  int32 // consecutive expirations of at
	keepSent  int32
	keepCount int32
	kind      rexmitKind
	earlyKind earlyKind
	noDelay   bool
}

func (tm *timers) reset() {
	noDelay, idle, intvl, count := tm.noDelay, tm.keepIdle, tm.keepIntvl, tm.keepCount
	*tm = timers{noDelay: noDelay, keepIdle: idle, keepIntvl: intvl, keepCount: count}
}

// Deadline returns when Poll must next run, or NoDeadline.
func (t *TCB) Deadline() time.Duration {
	if t.rstNow {
		return 0
	}
	if t.state == StateClosed {
		return NoDeadline
	}
	if t.synNow || t.ackNow || t.probeNow || t.tlpNow {
		return 0
	}
	// The stack asks after every event: straight-line, and the user
	// timeout (a call) only while a retransmission or persist timer runs.
	d := earlier(NoDeadline, t.tmr.at)
	d = earlier(d, t.tmr.early)
	d = earlier(d, t.tmr.delack)
	d = earlier(d, t.tmr.keep)
	d = earlier(d, t.tmr.close)
	if t.tmr.kind != rexmitOff {
		d = earlier(d, t.userTimeoutAt())
	}
	if t.xs != nil {
		d = earlier(d, t.xs.paceAt) // the pacer holds data that is ready to go (pacing.go)
	}
	return d
}

// earlier returns at if it is set (not zero) and before d, else d.
func earlier(d, at time.Duration) time.Duration {
	if at != 0 && at < d {
		return at
	}
	return d
}

// armEarlyTimer arms the reordering or probe timer at at, if it is earlier
// than the RTO.
func (t *TCB) armEarlyTimer(k earlyKind, at time.Duration) {
	if t.tmr.kind == rexmitRTO && t.tmr.at != 0 && at >= t.tmr.at && k == earlyReorder {
		t.stopEarlyTimer(earlyReorder)
		return // the RTO comes first
	}
	t.tmr.earlyKind, t.tmr.early = k, at
}

// stopEarlyTimer stops the early timer if it is of kind k.
func (t *TCB) stopEarlyTimer(k earlyKind) {
	if t.tmr.earlyKind == k {
		t.tmr.earlyKind, t.tmr.early = earlyOff, 0
	}
}

// onDataSent arms the retransmission timer if it is not running: RFC 6298
// §5.1. (A zero-window probe's persist timer gives way to it.)
func (t *TCB) onDataSent(now time.Duration) {
	if t.tmr.kind != rexmitRTO {
		t.tmr.kind = rexmitRTO
		t.tmr.at = now + t.rtt.rto
	}
}

// onNewDataSent runs after a segment of new data (or our FIN) went out for
// the first time: the loss probe is armed again (RFC 8985 §7.2).
func (t *TCB) onNewDataSent(now time.Duration) {
	t.armPTO(now)
}

// onAckAdvanced restarts or stops the retransmission timer: RFC 6298 §5.2
// and §5.3.
func (t *TCB) onAckAdvanced(now time.Duration) {
	t.forgetSoftError() // something got through: an old ICMP error explains nothing
	t.tmr.backoffs = 0
	t.tmr.rexStart = 0
	if t.snd.una == t.snd.max {
		t.tmr.kind, t.tmr.at = rexmitOff, 0
		t.tmr.earlyKind, t.tmr.early = earlyOff, 0
		return
	}
	t.rtt.rto = t.rtt.baseRTO()
	t.tmr.kind = rexmitRTO
	t.tmr.at = now + t.rtt.rto
}

// armPersist starts the persist timer when the peer's window is closed with
// data waiting and nothing in flight: RFC 9293 §3.8.6.1.
func (t *TCB) armPersist(now time.Duration) {
	if t.tmr.kind != rexmitOff {
		return
	}
	t.tmr.kind = rexmitPersist
	d := t.rtt.baseRTO() << min(t.tmr.backoffs, 10)
	t.tmr.at = now + min(d, maxPersistBackoff)
}

// armDelayedAck schedules an ACK no later than the delayed-ACK limit:
// RFC 9293 §3.8.6.3.
func (t *TCB) armDelayedAck(now time.Duration) {
	d := t.cfg.delayedAck()
	if d == 0 {
		t.ackNow = true
		return
	}
	if t.tmr.delack == 0 {
		t.tmr.delack = now + d
	}
}

// armKeepalive restarts the idle clock of RFC 9293 §3.8.4.
func (t *TCB) armKeepalive(now time.Duration) {
	t.tmr.keepSent = 0
	if t.tmr.keepIdle <= 0 || !t.state.synchronized() || t.state == StateTimeWait {
		t.tmr.keep = 0
		return
	}
	t.tmr.keep = now + t.tmr.keepIdle
}

// enterTimeWait starts the 2*MSL wait: RFC 9293 §3.10.7.4, eighth step.
func (t *TCB) enterTimeWait(now time.Duration, why string) {
	t.setState(StateTimeWait, why)
	t.tmr.kind, t.tmr.at, t.tmr.keep, t.tmr.delack = rexmitOff, 0, 0, 0
	t.tmr.earlyKind, t.tmr.early = earlyOff, 0
	t.tmr.close = now + t.cfg.timeWait()
}

// fireTimers runs every timer that is due at now.
func (t *TCB) fireTimers(now time.Duration) {
	if t.tmr.close != 0 && now >= t.tmr.close {
		t.tmr.close = 0
		t.timerFired("time-wait")
		t.setState(StateClosed, "timeout")
		return
	}
	if at := t.userTimeoutAt(); at != 0 && now >= at {
		t.timerFired("user-timeout")
		if t.snd.wnd == 0 {
			t.fail(t.timeoutErr(), "zero-window probes exhausted")
		} else {
			t.fail(t.timeoutErr(), "retransmissions exhausted")
		}
		return
	}
	if t.tmr.early != 0 && now >= t.tmr.early {
		k := t.tmr.earlyKind
		t.tmr.earlyKind, t.tmr.early = earlyOff, 0
		switch k {
		case earlyReorder:
			t.onReorderTimeout(now)
		case earlyProbe:
			t.onPTO(now)
		}
	}
	if t.tmr.at != 0 && now >= t.tmr.at {
		t.tmr.at = 0
		t.tmr.earlyKind, t.tmr.early = earlyOff, 0
		switch t.tmr.kind {
		case rexmitRTO:
			t.tmr.kind = rexmitOff
			t.timerFired("retransmit")
			t.onRTO(now)
		case rexmitPersist:
			t.tmr.kind = rexmitOff
			t.timerFired("persist")
			if t.orphanProbesExhausted() {
				t.fail(t.timeoutErr(), "zero-window probes exhausted")
				return
			}
			t.tmr.backoffs++
			t.probeNow = true
		}
		if t.state == StateClosed {
			return
		}
	}
	if t.tmr.delack != 0 && now >= t.tmr.delack {
		t.tmr.delack = 0
		t.timerFired("delayed-ack")
		t.ackNow = true
		t.delayedAckAlone()
	}
	if t.tmr.keep != 0 && now >= t.tmr.keep {
		t.timerFired("keepalive")
		if t.tmr.keepSent >= t.tmr.keepCount {
			t.fail(t.timeoutErr(), "keepalive timeout")
			return
		}
		t.tmr.keepSent++
		t.probeNow = true
		t.tmr.keep = now + t.tmr.keepIntvl
	}
}

// onRTO handles a retransmission timeout: RFC 6298 §5.4–5.6, RFC 5681 §3.1.
func (t *TCB) onRTO(now time.Duration) {
	t.rare().RTOs++
	t.tlpNow = false
	if t.tmr.rexStart == 0 {
		t.tmr.rexStart = now // the user timeout's clock starts (userTimeoutAt)
	}
	t.tmr.backoffs++
	switch t.state {
	case StateSynSent, StateSynReceived:
		if int(t.tmr.backoffs) > t.synRetries() {
			t.fail(t.timeoutErr(), "SYN retries exhausted")
			return
		}
		t.synNow = true
	default:
		if t.snd.una == t.snd.iss {
			// Our SYN-ACK is still unacknowledged (we closed in SYN_RECEIVED).
			if int(t.tmr.backoffs) > t.synRetries() {
				t.fail(t.timeoutErr(), "SYN retries exhausted")
				return
			}
			t.synNow = true
			t.snd.nxt = t.snd.iss + 1
			break
		}
		// The user timeout is a deadline of its own (userTimeoutAt).
		switch {
		case t.snd.wnd == 0:
			if t.orphanProbesExhausted() {
				t.fail(t.timeoutErr(), "zero-window probes exhausted")
				return
			}
		case t.orphaned() && int(t.tmr.backoffs) > t.cfg.orphanRetries():
			t.fail(t.timeoutErr(), "orphan retries exhausted")
			return
		}
		// Everything outstanding is deemed lost and resent from SND.UNA
		// as the window allows (recovery.go); "recover" moves to SND.MAX
		// (RFC 6582 §3.2 step 4).
		t.enterLoss(now)
		if t.snd.wnd == 0 {
			// The peer's window is closed, so nothing can be resent: probe
			// it instead (RFC 9293 §3.8.6.1), or a lost window update would
			// leave both sides waiting for each other.
			t.probeNow = true
		}
	}
	t.rtt.backoff()
	t.tmr.kind = rexmitRTO
	t.tmr.at = now + t.rtt.rto
}

// userTimeout is how long sent data may go unacknowledged, or a closed
// window's probes unanswered: Config.DataRetryTimeout, which
// SetUserTimeout changes for one connection.
func (t *TCB) userTimeout() time.Duration { return t.cfg.dataRetryTimeout() }

// synRetries is how many times our SYN (or SYN-ACK) is sent again.
func (t *TCB) synRetries() int {
	if t.passive {
		return t.cfg.synAckRetries()
	}
	return t.cfg.synRetries()
}

// userTimeoutAt is when the user timeout ends the connection, or 0 while
// it does not run. It is a deadline of its own, not a check made when the
// retransmission timer fires, so it ends the connection exactly on time
// however far the RTO has backed off, and when the user shortens it
// midway (RFC 5482 §3; RFC 9293 §3.10.8's USER TIMEOUT). Its clock:
//   - data unacknowledged: from the first retransmission timeout of the
//     episode (rexStart, reset by an ACK that advances), as Linux counts
//     from its first retransmission;
//   - the peer's window closed while we have data: from when the peer was
//     last heard, since a peer that answers the probes is alive (RFC 1122
//     §4.2.2.17) and one silent for the user timeout is not.
//
// SYN retries are counted, not timed.
func (t *TCB) userTimeoutAt() time.Duration {
	if t.tmr.kind == rexmitOff || !t.state.synchronized() || t.snd.una == t.snd.iss {
		return 0
	}
	if t.snd.wnd == 0 {
		return t.lastHeard + t.userTimeout()
	}
	if t.tmr.kind != rexmitRTO || t.tmr.rexStart == 0 {
		return 0
	}
	return t.tmr.rexStart + t.userTimeout()
}

// orphaned reports whether the user has closed the connection: nobody
// will read or write it again, and only the stack keeps it going.
func (t *TCB) orphaned() bool { return t.userClosed && t.state.synchronized() }

// orphanProbesExhausted reports whether an orphan (orphaned) whose peer
// keeps its window closed must give up: after Config.OrphanRetries probes
// however they are answered. RFC 1122 §4.2.2.17 lets a sender probe for as
// long as the receiver answers; Linux deviation, as Linux: a connection
// nobody will use again must not let a peer that keeps answering "window
// 0" hold it, and its buffer, forever. (A peer silent for the user timeout
// is userTimeoutAt's.)
func (t *TCB) orphanProbesExhausted() bool {
	return t.orphaned() && int(t.tmr.backoffs) >= t.cfg.orphanRetries()
}

func (t *TCB) timerFired(name string) {
	if t.obs != nil {
		t.obs.TimerFired(name)
	}
}

// congestionChanged reports the congestion window when it has moved by a
// segment or more since the last report, or ssthresh changed: traces show
// the shape of cwnd without a line per ACK. why is the rule that moved it
// (cwndOnAck: found here, only when there is something to report).
func (t *TCB) congestionChanged(why CwndReason) {
	t.ccSync()
	if t.obs == nil || !t.negotiated() {
		return
	}
	var cwnd, ss uint32
	if t.xs != nil && t.cc != nil {
		// What SendRate would say: ccSync has just read the window.
		cwnd, ss = t.xs.cwnd, t.cc.Ssthresh()
	} else {
		cwnd, ss, _, _ = t.SendRate()
	}
	d := int64(cwnd) - int64(t.ccReported[0])
	if ss == t.ccReported[1] && d < int64(t.snd.mss) && -d < int64(t.snd.mss) {
		return
	}
	t.ccReported = [2]uint32{cwnd, ss}
	if why == cwndOnAck {
		why = t.ackCwndReason()
	}
	t.obs.CongestionChanged(cwnd, ss, why)
}
