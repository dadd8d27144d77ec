package tcp

import (
	"time"

	"github.com/synack-go/synack/tcp/cc"
)

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

// tlpState is RFC 8985 §7.1's TLP.end_seq and TLP.is_retrans.
type tlpState struct {
	end     Seq  // TLP.end_seq: SND.MAX when the probe was sent
	on      bool // an episode is outstanding
	retrans bool // TLP.is_retrans: the probe resent data
}

// armPTO arms the probe timeout after new data was sent or new data was
// acknowledged (RFC 8985 §7.2), unless the sender is in recovery or holds
// SACKed segments (RACK's timer then watches), a probe is outstanding, the
// peer's window is closed (window probes take over), or the connection
// has no RTT sample or no SACK (the probe's news comes in SACK blocks).
// PTO = 2·SRTT, plus the worst-case delayed ACK with one segment in
// flight, and never later than the retransmission timer: min(PTO, RTO).
func (t *TCB) armPTO(now time.Duration) {
	xs := t.xs
	if xs == nil || !t.sackOK || !t.rtt.hasRTT || xs.ca != caOpen || xs.sackedOut > 0 || xs.tlp.on ||
		t.tmr.backoffs > 0 || t.tmr.kind != rexmitRTO || t.snd.una == t.snd.max || t.snd.wnd == 0 ||
		!t.state.synchronized() {
		t.stopEarlyTimer(earlyProbe)
		return
	}
	pto := 2 * t.rtt.srtt
	if t.flight() <= t.snd.mss {
		pto += wcDelAckT
	}
	at := min(now+max(pto, minPTO), t.tmr.at)
	t.armEarlyTimer(earlyProbe, at)
}

// onPTO fires the probe timeout: the next Poll sends the probe, and the
// retransmission timer restarts behind it (RFC 8985 §7.3), so that an RTO
// due at the same moment (the PTO was clamped to it) gives way.
func (t *TCB) onPTO(now time.Duration) {
	t.timerFired("loss-probe")
	t.tlpNow = true
	if t.tmr.kind == rexmitRTO {
		t.tmr.at = now + t.rtt.rto
	}
}

// sendProbe sends the loss probe (RFC 8985 §7.3): one new segment if there
// is one and the peer's window takes it, whatever cwnd says, else the last
// segment sent again. The retransmission timer restarts behind it. end is
// the end of the buffered data.
func (t *TCB) sendProbe(now time.Duration, out Emitter, end Seq) {
	t.tlpNow = false
	xs := t.xs
	if xs == nil || xs.tlp.on || t.snd.una == t.snd.max || t.snd.wnd == 0 {
		return
	}
	xs.tlp.on = true // before sending, so that the probe does not re-arm itself
	wndEnd := t.snd.una.Add(t.snd.wnd)
	if t.snd.nxt.Less(end) && t.snd.nxt.Less(wndEnd) {
		n := min(uint32(end.Sub(t.snd.nxt)), t.segSize(), uint32(wndEnd.Sub(t.snd.nxt)))
		t.sendNewSegment(now, out, n, end)
		xs.tlp.retrans = false
	} else {
		id := xs.q.end() - 1
		if r := xs.q.at(id); r.flags&txTSO != 0 {
			// The last segment, not the whole TSO segment (Linux's
			// tcp_send_loss_probe).
			seg := t.segSize()
			if stop := r.end - Seq(b2u(r.flags&txFIN != 0)); uint32(stop.Sub(r.seq)) > seg {
				id = xs.split(t.cfg.Buffers, t.cfg.Memory, id, stop-Seq(seg)) + 1
			}
		}
		t.resend(now, out, id, end)
		xs.tlp.retrans = true
	}
	xs.tlp.end = t.snd.max
	t.rare().LossProbes++
}

// tlpOnAck is RFC 8985 §7.4 (Linux's tcp_process_tlp_ack): the ACK that
// reaches the probe's TLP.end_seq ends the episode. If the probe resent
// data and the ACK shows that only the probe's copy arrived (it
// acknowledges beyond TLP.end_seq without a D-SACK for the probe), a loss
// was repaired: the window is cut as for a recovery, at once.
func (t *TCB) tlpOnAck(a *ackInfo) {
	xs := t.xs
	tl := &xs.tlp
	ack := t.snd.una
	if !tl.on || ack.Less(tl.end) {
		return
	}
	switch {
	case !tl.retrans:
		tl.on = false // a probe of new data, acknowledged
	case a.dsack && a.dsackHi.LessEq(tl.end) && a.dsackHi.Greater(tl.end-Seq(t.snd.mss)):
		tl.on = false // the probe arrived as a duplicate: nothing was lost
	case ack.Greater(tl.end):
		tl.on = false
		if xs.ca < caRecovery {
			t.cc.OnCongestionEvent(cc.CongestionEvent{Now: a.now, Rule: cc.RuleTLP, Inflight: t.flight()})
			t.cc.OnRecoveryExit(a.now)
			t.rare().TLPRecoveries++
			t.congestionChanged(CwndTLP)
		}
	case a.acked == 0 && a.delivered == 0:
		tl.on = false // a pure duplicate: the original and the probe both arrived
	}
}
