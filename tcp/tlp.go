package tcp

import "time"

// Tail loss probes: RFC 8985 §7. When the last segments of a flight, or
// the ACKs for them, are lost, nothing comes back to trigger a fast
// retransmit, and the sender would wait for its retransmission timer (at
// least 200 ms, and a collapse of cwnd to one segment). Instead, about two
// round trips after the last transmission, the sender sends one probe: a
// new segment if the windows allow one, else the last segment again. Its
// ACK (with SACK blocks) tells the sender what was lost, or that nothing
// was and only an ACK went missing.
// https://www.rfc-editor.org/rfc/rfc8985#section-7

const (
	// wcDelAckT is the worst-case delayed-ACK time the PTO allows for when
	// a single segment is in flight, which a receiver may hold back:
	// RFC 8985 §7.2.
	wcDelAckT = 200 * time.Millisecond
	// minPTO keeps the probe timer off the jitter of very short paths
	// (ours; Linux's floor is two jiffies).
	minPTO = 10 * time.Millisecond
)

// armPTO arms the probe timeout after new data was sent or new data was
// acknowledged (RFC 8985 §7.2), unless recovery or an RTO episode is under
// way, a probe is already outstanding, the peer's window is closed (zero
// window probes take over), or the connection has no RTT sample or no SACK
// (the probe's news comes in SACK blocks). The PTO
// replaces the retransmission timer when it is earlier; after the probe,
// the retransmission timer runs again.
func (t *TCB) armPTO(now time.Duration) {
	if !t.sackOK || !t.rtt.hasRTT || t.rec.active || t.tmr.backoffs > 0 || t.tmr.tlpOn ||
		t.tmr.kind == rexmitPersist || t.snd.una == t.snd.max || t.snd.wnd == 0 || !t.state.synchronized() {
		return
	}
	pto := 2 * t.rtt.srtt
	if t.inflight() <= t.snd.mss {
		pto += wcDelAckT
	}
	at := now + max(pto, minPTO)
	if t.tmr.kind == rexmitRTO && t.tmr.at != 0 && t.tmr.at <= at {
		return // the RTO comes first: RFC 8985 §7.2 "PTO = min(PTO, RTO)"
	}
	t.tmr.kind, t.tmr.at = rexmitProbe, at
}

// onPTO fires the probe timeout: the next Poll sends the probe, and the
// retransmission timer is armed behind it (RFC 8985 §7.3).
func (t *TCB) onPTO(now time.Duration) {
	t.timerFired("loss-probe")
	t.tlpNow = true
	t.tmr.kind, t.tmr.at = rexmitRTO, now+t.rtt.rto
}

// sendProbe sends the loss probe: one new segment if there is one and the
// peer's window takes it, whatever cwnd says, else the last segment sent
// again (RFC 8985 §7.3). end is the end of the buffered data.
func (t *TCB) sendProbe(now time.Duration, out Emitter, end Seq) {
	t.tlpNow = false
	t.tmr.tlpOn = true // before sending, so that the probe does not re-arm itself
	seg := t.segSize()
	switch {
	case t.snd.nxt == t.snd.max && t.snd.nxt.Less(end) && t.snd.nxt.Less(t.snd.una.Add(t.snd.wnd)):
		n := min(uint32(end.Sub(t.snd.nxt)), seg, uint32(t.snd.una.Add(t.snd.wnd).Sub(t.snd.nxt)))
		t.sendSegment(now, out, t.snd.nxt, n, end)
	case t.snd.finSent && t.snd.una == t.snd.finSeq:
		t.sendFIN(now, out, t.snd.finSeq) // only the FIN is in flight
	default:
		last := end
		if !t.snd.finSent && t.snd.max.Less(end) {
			last = t.snd.max // data beyond SND.MAX was never sent
		}
		from := t.snd.una
		if uint32(last.Sub(from)) > seg {
			from = last - Seq(seg)
		}
		if !from.Less(last) {
			t.tmr.tlpOn = false
			return
		}
		t.sendSegment(now, out, from, uint32(last.Sub(from)), end)
	}
	t.rare().LossProbes++
	t.tmr.tlpEnd = t.snd.max
}

// tlpAcked ends the probe episode once an ACK covers everything sent up to
// the probe (RFC 8985 §7.4): a later flight may be probed again.
func (t *TCB) tlpAcked() {
	if t.tmr.tlpOn && t.snd.una.GreaterEq(t.tmr.tlpEnd) {
		t.tmr.tlpOn = false
	}
}
