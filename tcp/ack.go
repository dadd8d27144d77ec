package tcp

import (
	"time"

	"github.com/synack-go/synack/wire"
)

// processAck handles an acceptable ACK in a synchronized state (RFC 9293
// §3.10.7.4 fifth step), in the order of Linux's tcp_ack that package cc
// documents: the transmit record takes the SACK blocks and the cumulative
// ACK, feeding the rate sampler and RACK; SND.UNA advances and the RTT is
// sampled; the window is updated; the recovery unit marks losses and
// changes state (recovery.go); then the ACK's rate sample goes to the
// congestion controller, and the timers follow.
func (t *TCB) processAck(seg *wire.TCPSegment, now time.Duration) {
	ack := seg.Ack
	newWnd := uint32(seg.Window) << t.snd.shift
	xs := t.xs
	if xs == nil {
		// Nothing but the handshake was ever sent.
		if ack.Greater(t.snd.una) {
			t.ackAdvanced(ack, now)
			t.onAckAdvanced(now)
		}
		t.updateWindow(seg, newWnd)
		return
	}
	a := ackInfo{now: now, priorFack: xs.rack.fack, hasTS: t.ts.ok && seg.Options.HasTS, tsecr: seg.Options.TSEcr}
	xs.rate.beginAck()
	t.checkAppLimited()
	if t.sackOK && seg.Options.NumSACK > 0 {
		t.processSACK(seg.Options.SACK[:seg.Options.NumSACK], ack, &a)
	}
	if ack.Greater(t.snd.una) {
		a.acked = uint32(ack.Sub(t.snd.una))
		t.ackRecords(ack, &a)
		t.ackAdvanced(ack, now)
		t.sampleRTT(seg, ack, now)
		xs.dupAcks = 0
		t.onAckAdvanced(now)
		if r := xs.q.first(); r != nil && r.flags&txSACKed != 0 {
			t.sackReneged(now)
		}
	} else if ack == t.snd.una && len(seg.Payload) == 0 && seg.Flags&(wire.SYN|wire.FIN) == 0 &&
		newWnd == t.snd.wnd && t.snd.una != t.snd.max && (!t.sackOK || a.sacked > 0) {
		// A duplicate ACK (RFC 5681 §2). With SACK, RFC 6675 §2 counts it
		// only if it SACKs bytes not SACKed before: ACKs anyone can draw
		// out of the peer (by sending it out-of-window segments in our
		// name) then start no spurious fast retransmit.
		a.dupAck = true
		xs.dupAcks++
		t.rare().DupAcksIn++
	}
	t.updateWindow(seg, newWnd)
	t.recoveryOnAck(&a)
	rs := xs.rate.generate(now, t.pipe(), t.rtt.srtt)
	rs.SACKOnly = a.acked == 0
	t.cc.OnAck(rs)
	t.congestionChanged(cwndOnAck)
	t.growSendBuf(rs)
	if t.snd.una == t.snd.max {
		xs.idleSince = now
	}
	if a.acked > 0 {
		t.armPTO(now) // RFC 8985 §7.2: an ACK of new data restarts the probe timer
	}
}

// ackRecords removes what the cumulative ACK covers from the transmit
// record: RFC 6675 §5's Update() for SND.UNA.
func (t *TCB) ackRecords(ack Seq, a *ackInfo) {
	xs := t.xs
	var plain *txRecord // the last of a run of plain records, delivered below
	for xs.q.n > 0 {
		r := xs.q.first()
		if r.end.LessEq(ack) {
			if r.flags&^txTSO == txListed {
				// The common case, a segment sent once and in flight: the
				// rate sampler and RACK need only the newest of a run.
				if plain != nil {
					n := plain.len()
					xs.rate.onDeliveredOlder(&plain.rate, n)
					a.delivered += n
					if plain.end.Less(a.priorFack) {
						t.reorderingSeen()
					}
				}
				xs.q.listRemove(xs.q.head)
				r.flags = 0
				a.origAcked = a.origAcked || r.end.LessEq(xs.highSeq)
				plain = r
				xs.q.pop()
				continue
			}
			t.recordDelivered(xs.q.head, false, a)
			xs.q.pop()
			continue
		}
		if r.seq.Less(ack) && r.flags&txTSO != 0 {
			// Some of the segments of a TSO segment: the part acknowledged
			// is delivered as a record of its own (Linux's tcp_tso_acked),
			// so that it gives its rate sample and RACK its send time.
			// The split may take the slot of the records just popped.
			if plain != nil {
				t.deliverPlain(plain, a)
				plain = nil
			}
			xs.split(t.cfg.Buffers, t.cfg.Memory, xs.q.head, ack)
			continue
		}
		if r.seq.Less(ack) {
			// Part of a segment: the peer took less than we sent (after a
			// lower MSS), or kept part of a range it had SACKed.
			n := uint32(ack.Sub(r.seq))
			switch {
			case r.flags&txSACKed != 0:
				xs.sackedOut -= n
			default:
				if r.flags&txLost != 0 {
					xs.lostOut -= n
				}
				if r.flags&txRetransIn != 0 {
					xs.retransOut -= n
				}
				a.delivered += n
				xs.rate.onPartial(n, a.now)
			}
			r.seq = ack
		}
		break
	}
	if plain != nil {
		// Its slot may be reused only by a later push or split: still
		// valid here.
		t.deliverPlain(plain, a)
	}
	xs.q.release(t.cfg.Buffers, t.cfg.Memory)
	if xs.sb != nil {
		xs.sb.trim(ack)
		if xs.sb.n == 0 {
			t.releaseScoreboard()
		}
	}
	xs.lostScan = xs.lostScan.Max(ack)
}

// deliverPlain delivers the newest of a run of records sent once and
// cumulatively acknowledged (ackRecords).
func (t *TCB) deliverPlain(r *txRecord, a *ackInfo) {
	n := r.len()
	a.delivered += n
	t.rackUpdate(r, a)
	t.xs.rate.onDelivered(&r.rate, r.end, n, a.now, false)
}

// updateWindow takes the ACK's window: RFC 9293 §3.10.7.4, with SND.WL1
// and SND.WL2 deciding whether the segment is newer than the last update.
func (t *TCB) updateWindow(seg *wire.TCPSegment, newWnd uint32) {
	if t.snd.wl1.Less(seg.Seq) || (t.snd.wl1 == seg.Seq && t.snd.wl2.LessEq(seg.Ack)) {
		t.snd.wnd = newWnd
		t.snd.maxWnd = max(t.snd.maxWnd, newWnd)
		t.snd.wl1, t.snd.wl2 = seg.Seq, seg.Ack
		if newWnd > 0 && t.tmr.kind == rexmitPersist {
			t.tmr.kind, t.tmr.at, t.tmr.backoffs = rexmitOff, 0, 0
		}
	}
}

// sackReneged handles an ACK that stops at a segment the peer SACKed: the
// peer may have dropped data it had reported, which a receiver may do
// (RFC 2018 §8), and then the scoreboard, which says not to resend it, is
// wrong. More ACKs may still show the data was there after all, so the
// retransmission timer is only brought forward, to half an RTT (at least
// 10 ms), as Linux's tcp_check_sack_reneging does; if it fires, the
// scoreboard is forgotten and everything from SND.UNA on is resent.
func (t *TCB) sackReneged(now time.Duration) {
	t.xs.reneged = true
	t.rare().SACKReneging++
	if t.tmr.kind != rexmitRTO {
		return
	}
	at := now + max(t.rtt.srtt/2, renegingDelay)
	if t.tmr.at == 0 || at < t.tmr.at {
		t.tmr.at = at
	}
}

// ackAdvanced moves SND.UNA to ack and frees acknowledged bytes.
func (t *TCB) ackAdvanced(ack Seq, now time.Duration) {
	t.snd.una = ack
	if t.snd.nxt.Less(ack) {
		t.snd.nxt = ack
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

// sampleRTT takes an RTT measurement: from the one timed segment (Karn's
// algorithm, RFC 6298 §3), or from the echoed timestamp (RFC 7323 §4) for
// the first sample.
func (t *TCB) sampleRTT(seg *wire.TCPSegment, ack Seq, now time.Duration) {
	if t.rtt.timing && ack.Greater(t.rtt.timeSeq.Add(^uint32(0))) {
		t.rtt.timing = false
		t.rtt.sample(now - t.rtt.timeAt)
		return
	}
	if t.ts.ok && seg.Options.HasTS && seg.Options.TSEcr != 0 && t.tmr.backoffs == 0 &&
		(t.xs == nil || t.xs.ca < caRecovery) {
		ms := int32(t.tsNow(now) - seg.Options.TSEcr)
		if ms >= 0 && !t.rtt.hasRTT {
			t.rtt.sample(time.Duration(ms) * time.Millisecond)
		}
	}
}

// checkAppLimited is the rate sampler's CheckIfApplicationLimited
// (draft-ietf-ccwg-bbr §4.1.2.4), at a write and at each ACK.
func (t *TCB) checkAppLimited() {
	xs := t.xs
	if xs == nil || t.cc == nil {
		return
	}
	xs.rate.checkAppLimited(!t.snd.nxt.Less(t.sendEnd()), t.pipe(), xs.cwnd, xs.lostOut, xs.retransOut)
}
