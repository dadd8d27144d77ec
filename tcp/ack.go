package tcp

import (
	"time"

	"github.com/synack-go/synack/wire"
)

// processAck handles an acceptable ACK in a synchronized state: it advances
// SND.UNA, frees acknowledged bytes, samples the RTT, drives congestion
// control and loss recovery and updates the send window (RFC 9293
// §3.10.7.4 fifth step, RFC 5681, RFC 6582, RFC 6675).
func (t *TCB) processAck(seg *wire.TCPSegment, now time.Duration) {
	ack, una := seg.Ack, t.snd.una
	inflight := t.inflight()
	newSACK := false
	if t.sackOK && seg.Options.NumSACK > 0 {
		if t.rec.sb == nil {
			t.rec.sb = t.cfg.Buffers.getScoreboard()
		}
		newSACK = t.rec.sb.update(seg.Options.SACK[:seg.Options.NumSACK], t.snd.una, t.snd.max)
	}
	newWnd := uint32(seg.Window) << t.snd.shift
	if ack.Greater(t.snd.una) {
		acked := uint32(ack.Sub(t.snd.una))
		t.ackAdvanced(ack, now)
		t.tlpAcked()
		t.sampleRTT(seg, ack, now)
		t.rec.sb.trim(ack)
		if t.rec.sb.len() > 0 && t.rec.sb.r[0].lo == ack {
			t.sackReneged(now)
		}
		switch {
		case t.rec.active && ack.GreaterEq(t.rec.recover):
			// Full ACK: RFC 6582 §3.2 step 3.
			t.rec.active = false
			t.rec.dupAcks = 0
			t.cc.OnRecoveryExit(t.inflight(), now)
			t.congestionChanged()
		case t.rec.active:
			// Partial ACK: retransmit the next hole at once (RFC 6582 §3.2
			// step 3) unless SACK recovery has already resent it.
			if !t.sackOK || !t.rec.rexmitNxt.Greater(t.snd.una) {
				t.rec.forceHead = true
			}
			if t.rec.rexmitNxt.Less(t.snd.una) {
				t.rec.rexmitNxt = t.snd.una
			}
		default:
			t.rec.dupAcks = 0
			t.cc.OnAck(acked, inflight, t.rtt.srtt, now)
			t.congestionChanged()
		}
		t.onAckAdvanced(now)
	} else if ack == t.snd.una && len(seg.Payload) == 0 && seg.Flags&(wire.SYN|wire.FIN) == 0 &&
		newWnd == t.snd.wnd && t.snd.una != t.snd.max && (!t.sackOK || newSACK) {
		// A duplicate ACK (RFC 5681 §2). With SACK, RFC 6675 §2 counts it
		// only if it SACKs bytes not SACKed before: ACKs anyone can draw
		// out of the peer (by sending it out-of-window segments in our
		// name) then start no spurious fast retransmit.
		t.onDupAck(now)
	}
	if t.rec.active && ack == t.snd.una && t.rec.headSentAt != 0 && t.rtt.hasRTT &&
		now-t.rec.headSentAt > t.rtt.srtt+t.rtt.srtt/4+2*time.Millisecond {
		// The retransmission at SND.UNA should have been acknowledged a
		// quarter RTT ago while later data keeps being acknowledged: it was
		// lost too. Resend it now rather than wait for the RTO (the
		// time-based rule of RACK, RFC 8985 §6.2, for the first hole only).
		t.rec.forceHead = true
	}
	if !t.rec.active && seg.Options.NumSACK > 0 && t.lostBySACK() && !t.snd.una.Less(t.rec.recover) {
		// RFC 6675 §5: the SACK scoreboard alone says SND.UNA is lost. This
		// catches losses whose news rides on data segments (a transfer in
		// both directions), which never count as duplicate ACKs.
		t.enterRecovery(now)
	}
	// Window update: RFC 9293 §3.10.7.4, with SND.WL1/SND.WL2.
	if t.snd.wl1.Less(seg.Seq) || (t.snd.wl1 == seg.Seq && t.snd.wl2.LessEq(ack)) {
		t.snd.wnd = newWnd
		t.snd.maxWnd = max(t.snd.maxWnd, newWnd)
		t.snd.wl1, t.snd.wl2 = seg.Seq, ack
		if newWnd > 0 && t.tmr.kind == rexmitPersist {
			t.tmr.kind, t.tmr.at, t.tmr.backoffs = rexmitOff, 0, 0
		}
	}
	if ack.Greater(una) {
		t.armPTO(now) // RFC 8985 §7.2: an ACK of new data restarts the probe timer
	}
	if t.rec.sb != nil && t.rec.sb.n == 0 {
		t.forgetSACKs() // nothing SACKed now: the list goes back
	}
}

// forgetSACKs empties the scoreboard and gives its list back.
func (t *TCB) forgetSACKs() {
	if t.rec.sb != nil {
		t.rec.sb.reset()
		t.cfg.Buffers.putScoreboard(t.rec.sb)
		t.rec.sb = nil
	}
}

// sackReneged handles an ACK that stops at (or inside) a range the peer
// SACKed: the peer has dropped data it had reported, which a receiver may
// do (RFC 2018 §8), and the scoreboard, which says not to resend it, is
// wrong. It is forgotten, and the retransmission timer is brought forward
// to a sixteenth of an RTT (at least 10 ms), so that the timeout resends
// from SND.UNA on, as Linux's tcp_check_sack_reneging does: more ACKs may
// still come and show the data was there after all.
func (t *TCB) sackReneged(now time.Duration) {
	t.forgetSACKs()
	t.rare().SACKReneging++
	if t.tmr.kind != rexmitRTO && t.tmr.kind != rexmitProbe {
		return
	}
	at := now + max(t.rtt.srtt/16, renegingDelay)
	if t.tmr.at == 0 || at < t.tmr.at {
		t.tmr.kind, t.tmr.at = rexmitRTO, at
	}
}

// ackAdvanced moves SND.UNA to ack and frees acknowledged bytes.
func (t *TCB) ackAdvanced(ack Seq, now time.Duration) {
	t.snd.una = ack
	if t.snd.nxt.Less(ack) {
		t.snd.nxt = ack // after a go-back-N rewind
	}
	// Bytes of the buffer below ack are delivered. The SYN and FIN occupy
	// sequence numbers that are not in the buffer.
	if ack.Greater(t.snd.bufSeq) {
		n := min(int(ack.Sub(t.snd.bufSeq)), int(t.snd.buf.n))
		t.snd.buf.discard(n)
		t.snd.bufSeq = t.snd.bufSeq.Add(uint32(n))
		t.stats.BytesAcked += uint64(n)
		t.snd.buf.release(t.cfg.Buffers, t.cfg.Memory)
	}
}

// sampleRTT takes an RTT measurement: from the echoed timestamp when both
// sides use them (RFC 7323 §4) or from the one timed segment (Karn's
// algorithm, RFC 6298 §3).
func (t *TCB) sampleRTT(seg *wire.TCPSegment, ack Seq, now time.Duration) {
	if t.rtt.timing && ack.Greater(t.rtt.timeSeq.Add(^uint32(0))) {
		t.rtt.timing = false
		t.rtt.sample(now - t.rtt.timeAt)
		return
	}
	if t.ts.ok && seg.Options.HasTS && seg.Options.TSEcr != 0 && t.tmr.backoffs == 0 && !t.rec.active {
		ms := int32(t.tsNow(now) - seg.Options.TSEcr)
		if ms >= 0 && !t.rtt.hasRTT {
			t.rtt.sample(time.Duration(ms) * time.Millisecond)
		}
	}
}

// onDupAck counts a duplicate ACK and starts fast retransmit on the third:
// RFC 5681 §3.2, RFC 6582 §3.2 step 2 (not again until the ACK passes
// "recover").
func (t *TCB) onDupAck(now time.Duration) {
	t.rare().DupAcksIn++
	t.rec.dupAcks++
	if t.rec.active || (t.rec.dupAcks < dupThresh && !t.lostBySACK()) {
		return
	}
	if t.snd.una.Less(t.rec.recover) {
		// RFC 6582 §3.2 step 2: no new recovery for losses in the window
		// that an earlier recovery or timeout already handled.
		return
	}
	t.enterRecovery(now)
}

// enterRecovery starts fast retransmit and fast recovery: RFC 5681 §3.2
// step 2, RFC 6582 §3.2, RFC 6675 §5.
func (t *TCB) enterRecovery(now time.Duration) {
	if t.tmr.kind == rexmitProbe {
		// Recovery has its own news: the RTO guards it, not a probe.
		t.tmr.kind, t.tmr.at = rexmitRTO, now+t.rtt.rto
	}
	t.rec.active = true
	t.rec.recover = t.snd.max
	t.rec.rexmitNxt = t.snd.una
	t.rec.forceHead = true
	t.rare().FastRecov++
	t.cc.OnFastRetransmit(t.inflight(), now)
	t.congestionChanged()
}

// lostBySACK is RFC 6675's IsLost(SND.UNA): at least DupThresh segments'
// worth of data above it has been SACKed.
func (t *TCB) lostBySACK() bool {
	return t.sackOK && t.rec.sb.sackedBytes() >= dupThresh*t.snd.mss
}

// inflight is the data sent and not yet acknowledged.
func (t *TCB) inflight() uint32 { return uint32(t.snd.max.Sub(t.snd.una)) }
