package tcp

import (
	"syscall"
	"time"

	"github.com/synack-go/synack/wire"
)

var (
	errConnRefused = syscall.ECONNREFUSED
	errConnReset   = syscall.ECONNRESET
)

// Input processes one arriving segment addressed to this connection: RFC 9293
// §3.10.7. seg's payload is copied; seg may be reused when Input returns. Any
// reply is emitted by the next Poll.
func (t *TCB) Input(seg *wire.TCPSegment, now time.Duration) {
	t.stats.SegsIn++
	switch t.state {
	case StateClosed:
		return
	case StateListen:
		t.inputListen(seg, now)
	case StateSynSent:
		t.inputSynSent(seg, now)
	default:
		t.inputSynchronized(seg, now)
	}
}

// inputSynchronized follows RFC 9293 §3.10.7.4 "Otherwise" for SYN_RECEIVED
// and every later state, step by step.
func (t *TCB) inputSynchronized(seg *wire.TCPSegment, now time.Duration) {
	if t.state == StateSynReceived && seg.Flags&wire.SYN != 0 && seg.Seq == t.rcv.irs {
		if seg.Flags&(wire.ACK|wire.RST) == 0 {
			t.synNow = true // the peer's SYN again: our SYN-ACK was lost
			return
		}
		// Simultaneous open: the peer's SYN-ACK repeats its SYN, which is
		// old; trim it and process the rest (RFC 9293 §3.10.7.4 first step,
		// Figure 8).
		trimmed := *seg
		trimmed.Flags &^= wire.SYN
		trimmed.Seq++
		seg = &trimmed
	}
	if !t.checkPAWS(seg, now) {
		return
	}
	if !t.acceptable(seg) {
		switch {
		case seg.Flags&wire.RST != 0:
		case seg.Flags&wire.SYN != 0:
			// RFC 5961 §4.2: a SYN gets a challenge ACK "irrespective of
			// the sequence number", through the same limits.
			t.challengeAck(now)
			t.drop(DropSYN)
			return
		default:
			// First step: an unacceptable segment is answered with an
			// ACK unless it is a RST; rate-limited (ratelimit.go), or
			// two TCBs that disagree would answer each other forever.
			// Data we already hold is reported as a D-SACK (dsack.go).
			t.noteOldDuplicate(seg)
			t.replyUnacceptable(now, len(seg.Payload) > 0)
		}
		t.drop(DropOutOfWindow)
		return
	}
	if seg.Flags&wire.RST != 0 {
		t.inputRST(seg, now)
		return
	}
	if seg.Flags&wire.SYN != 0 {
		// Fourth step, RFC 5961 §4.2: a SYN in a synchronized state gets a
		// challenge ACK whatever its sequence number.
		t.challengeAck(now)
		t.drop(DropSYN)
		return
	}
	if seg.Flags&wire.ACK == 0 {
		t.drop(DropNoACK)
		return
	}
	t.lastHeard = now
	if !t.inputACK(seg, now) {
		return
	}
	t.updateTSRecent(seg, now)
	if seg.Flags&wire.URG != 0 {
		// Sixth step; RFC 6093: urgent data stays inline, we only note the
		// pointer (it points past the last urgent byte).
		up := seg.Seq.Add(uint32(seg.Urgent))
		if !t.rcv.urgSeen || up.Greater(t.rcv.urgent) {
			t.rcv.urgent, t.rcv.urgSeen = up, true
		}
	}
	t.inputText(seg, now)
	if t.state != StateClosed {
		t.armKeepalive(now)
	}
}

// acceptable is the first step's test (RFC 9293 §3.10.7.4 table), against
// the window we advertised so that it never shrinks under the peer.
func (t *TCB) acceptable(seg *wire.TCPSegment) bool {
	wnd := uint32(0)
	if t.rcv.adv.Greater(t.rcv.nxt) {
		wnd = uint32(t.rcv.adv.Sub(t.rcv.nxt))
	}
	segLen := seg.SeqLen()
	switch {
	case segLen == 0 && wnd == 0:
		return seg.Seq == t.rcv.nxt
	case segLen == 0:
		// Linux deviation: RFC 9293 bounds SEG.SEQ with "<"; Linux (and
		// we) take "<=" for a segment without data, so that an ACK from
		// a peer that sent right up to our window's edge, and lost some
		// of it, still counts.
		return seg.Seq.Within(t.rcv.nxt, t.rcv.nxt.Add(wnd+1))
	case wnd == 0:
		// Linux deviation: a bare FIN at RCV.NXT is taken even with a closed
		// window, so a close never waits behind a zero window.
		return seg.Seq == t.rcv.nxt && len(seg.Payload) == 0 && seg.Flags&wire.FIN != 0
	}
	end := seg.Seq.Add(segLen - 1)
	return seg.Seq.Within(t.rcv.nxt, t.rcv.nxt.Add(wnd)) || end.Within(t.rcv.nxt, t.rcv.nxt.Add(wnd))
}

// pawsWindow is how many ticks a segment's TSval may lie behind TS.Recent
// and still pass PAWS: Linux's TCP_PAWS_WINDOW. RFC 7323 §5.3 R1 allows
// none, but a retransmission that fills a hole moves TS.Recent to its
// own, fresh, TSval while segments sent before it may still be on their
// way above the hole; on a reordering path they arrive a little older and
// would be dropped as old duplicates, and sent again. One tick keeps the
// protection against wrapped sequence numbers (an old duplicate from a
// previous wrap is far older) and lets through those within a tick.
const pawsWindow = 1

// checkPAWS rejects old duplicates by their timestamp: RFC 7323 §5.3.
func (t *TCB) checkPAWS(seg *wire.TCPSegment, now time.Duration) bool {
	if !t.ts.ok || !seg.Options.HasTS || seg.Flags&wire.RST != 0 {
		return true
	}
	if int32(seg.Options.TSVal-t.ts.recent) >= -pawsWindow {
		return true
	}
	if t.ts.recentAt != 0 && now-t.ts.recentAt > maxTSAge {
		// RFC 7323 §5.5: TS.Recent is stale after 24 days idle.
		t.ts.recent = seg.Options.TSVal
		return true
	}
	if t.disorderedAck(seg) {
		return true
	}
	if seg.Flags&wire.RST == 0 {
		// RFC 7323 §5.3 R1: "send an acknowledgment". Data below RCV.NXT
		// is a duplicate and reported as a D-SACK (RFC 2883), as Linux's
		// tcp_send_dupack does: on a reordering path it is the late
		// original of a segment retransmitted (and taken, moving
		// TS.Recent) before it came, and without the D-SACK the sender
		// never learns that its retransmission was spurious, nor widens
		// RACK's reordering window (RFC 8985 §6.2).
		t.noteOldDuplicate(seg)
		t.replyUnacceptable(now, len(seg.Payload) > 0)
	}
	t.drop(DropPAWS)
	return false
}

// disorderedAck reports whether a segment that fails PAWS is a duplicate
// ACK overtaken by a later segment, which PAWS lets through as Linux's
// tcp_disordered_ack does: a pure ACK at RCV.NXT that acknowledges nothing
// new and would not update the send window, with a TSval behind TS.Recent
// by less than an RTO. Such an ACK cannot be an old duplicate that does
// harm (it moves no state but the SACK scoreboard and the duplicate-ACK
// count), while dropping it loses the SACK blocks that loss recovery needs
// on a path that reorders ACKs.
func (t *TCB) disorderedAck(seg *wire.TCPSegment) bool {
	if seg.Flags&(wire.ACK|wire.SYN|wire.FIN) != wire.ACK || len(seg.Payload) != 0 ||
		seg.Seq != t.rcv.nxt || seg.Ack != t.snd.una {
		return false
	}
	// Would not update the window (RFC 9293 §3.10.7.4 fifth step, as
	// Linux's tcp_may_update_window): no newer SND.WL1, nor a larger or
	// zero window at the same one.
	wnd := uint32(seg.Window) << t.snd.shift
	if seg.Seq.Greater(t.snd.wl1) || seg.Seq == t.snd.wl1 && (wnd > t.snd.wnd || wnd == 0) {
		return false
	}
	return t.ts.recent-seg.Options.TSVal <= uint32(t.rtt.rto/time.Millisecond)
}

// updateTSRecent records the peer's timestamp: RFC 7323 §4.3 (3), using
// Last.ACK.sent.
func (t *TCB) updateTSRecent(seg *wire.TCPSegment, now time.Duration) {
	if t.ts.ok && seg.Options.HasTS && seg.Seq.LessEq(t.ts.lastAckSent) &&
		int32(seg.Options.TSVal-t.ts.recent) >= 0 {
		t.ts.recent = seg.Options.TSVal
		t.ts.recentAt = now
	}
}

// inputRST is the second step with RFC 5961 §3.2: only a RST exactly at
// RCV.NXT resets; one elsewhere in the window earns a challenge ACK.
func (t *TCB) inputRST(seg *wire.TCPSegment, now time.Duration) {
	if seg.Seq != t.rcv.nxt {
		t.challengeAck(now)
		t.drop(DropRST)
		return
	}
	t.rare().RSTsIn++
	switch t.state {
	case StateSynReceived:
		if t.passive {
			// RFC 9293 §3.10.7.4 second step: a passive open returns to
			// LISTEN (Figure 5, note 1).
			t.backToListen()
		} else {
			t.fail(errConnRefused, "rcvd RST")
		}
	case StateEstablished, StateFinWait1, StateFinWait2, StateCloseWait:
		t.fail(errConnReset, "rcvd RST")
	default: // CLOSING, LAST_ACK, TIME_WAIT
		t.setState(StateClosed, "rcvd RST")
	}
}

// backToListen forgets the half-open connection and listens again.
func (t *TCB) backToListen() {
	obs, iss := t.obs, t.snd.iss
	*t = *New(t.cfg, t.lport, t.rport)
	t.obs = obs
	t.state = StateSynReceived
	t.passive = true
	t.initSend(iss)
	t.setState(StateListen, "rcvd RST")
}

// challengeAck sends an ACK that a legitimate peer answers with a correct
// RST or segment: RFC 5961 §3.2, §4.2, §5.2, rate-limited as every reply
// to an unacceptable segment is (§7, ratelimit.go).
func (t *TCB) challengeAck(now time.Duration) {
	if t.replyUnacceptable(now, false) {
		t.rare().ChallengeAcks++
	}
}

// inputACK is the fifth step. It returns false when the segment must be
// dropped.
func (t *TCB) inputACK(seg *wire.TCPSegment, now time.Duration) bool {
	if t.state == StateSynReceived {
		if !seg.Ack.Greater(t.snd.una) || seg.Ack.Greater(t.snd.max) {
			t.queueRST(seg.Ack, false)
			t.drop(DropBadAck)
			return false
		}
		t.snd.una = seg.Ack
		t.snd.wnd = uint32(seg.Window) << t.snd.shift
		t.snd.maxWnd = max(t.snd.maxWnd, t.snd.wnd)
		t.snd.wl1, t.snd.wl2 = seg.Seq, seg.Ack
		t.synNow = false
		t.sampleSYN(now)
		t.setState(StateEstablished, "rcvd ACK")
		t.established(now)
		if t.shutWr {
			t.setState(StateFinWait1, "close")
		}
		t.onAckAdvanced(now)
		return true
	}
	if seg.Ack.Greater(t.snd.max) {
		// ACK of something not yet sent: RFC 5961 §5.2 / RFC 9293 step 5
		// ask for an ACK, which the peer, as confused, may answer in
		// kind: rate-limited.
		t.replyUnacceptable(now, false)
		t.drop(DropBadAck)
		return false
	}
	if seg.Ack.Less(t.snd.una - Seq(t.snd.maxWnd)) {
		t.challengeAck(now)
		t.drop(DropBadAck)
		return false
	}
	t.processAck(seg, now)
	if t.state == StateClosed {
		return false
	}
	finAcked := t.snd.finSent && t.snd.una == t.snd.finSeq+1
	switch t.state {
	case StateFinWait1:
		if finAcked {
			t.setState(StateFinWait2, "our FIN acked")
			if t.userClosed {
				// Orphaned: the user is gone, so FIN_WAIT2 may not last
				// forever (Linux's tcp_fin_timeout, 60 s).
				t.tmr.close = now + t.cfg.timeWait()
			}
		}
	case StateClosing:
		if finAcked {
			t.enterTimeWait(now, "our FIN acked")
		}
	case StateLastAck:
		if finAcked {
			t.setState(StateClosed, "our FIN acked")
			return false
		}
	}
	return true
}

// inputText is the seventh and eighth steps: data and FIN.
func (t *TCB) inputText(seg *wire.TCPSegment, now time.Duration) {
	payload := seg.Payload
	seq := seg.Seq
	fin := seg.Flags&wire.FIN != 0
	switch t.state {
	case StateEstablished, StateFinWait1, StateFinWait2, StateSynReceived:
	default:
		// CLOSE_WAIT, CLOSING, LAST_ACK, TIME_WAIT: the peer already sent
		// its FIN; a retransmitted FIN is acknowledged again.
		if fin || len(payload) > 0 {
			t.ackNow = true
			if t.state == StateTimeWait {
				t.tmr.close = now + t.cfg.timeWait()
			}
		}
		return
	}
	if len(payload) > 0 && t.userClosed {
		// Data for a user who closed: abort, as Linux does (RFC 9293
		// §3.10.4 leaves it to the implementation).
		t.drop(DropAfterClose)
		t.queueRST(t.snd.max, false)
		t.setState(StateClosed, "data after close")
		return
	}
	if len(payload) > 0 {
		t.receiveData(seq, payload, t.rcv.measureSegment(len(payload), seg.Flags), now)
		t.tuneRecv(seg, now)
	}
	if fin {
		finSeq := seg.Seq.Add(uint32(len(seg.Payload)))
		inWindow := finSeq.LessEq(t.rcv.nxt.Add(t.rcvFree()))
		if inWindow && (!t.rcv.finSeen || finSeq.Less(t.rcv.finSeq)) {
			t.rcv.finSeq, t.rcv.finSeen = finSeq, true
		}
		t.ackNow = true
	}
	t.maybeConsumeFIN(now)
}

// maybeConsumeFIN processes the peer's FIN once every byte before it has
// arrived: RFC 9293 §3.10.7.4, eighth step.
func (t *TCB) maybeConsumeFIN(now time.Duration) {
	if !t.rcv.finSeen || t.finRcvd || t.rcv.nxt != t.rcv.finSeq {
		return
	}
	t.rcv.nxt++
	t.rcv.adv = t.rcv.adv.Max(t.rcv.nxt)
	t.finRcvd = true
	t.ackNow = true
	switch t.state {
	case StateSynReceived, StateEstablished:
		t.setState(StateCloseWait, "rcvd FIN")
	case StateFinWait1:
		if t.snd.finSent && t.snd.una == t.snd.finSeq+1 {
			t.enterTimeWait(now, "rcvd FIN")
		} else {
			t.setState(StateClosing, "rcvd FIN (simultaneous close)")
		}
	case StateFinWait2:
		t.enterTimeWait(now, "rcvd FIN")
	}
}

// receiveData places payload (starting at seq) into the receive buffer,
// trimming what lies outside the window: RFC 9293 §3.10.7.4, seventh step.
// full says whether the segment counts as full-sized for delayed ACKs
// (rcvmss.go).
func (t *TCB) receiveData(seq Seq, payload []byte, full bool, now time.Duration) {
	if seq.Less(t.rcv.nxt) {
		cut := uint32(t.rcv.nxt.Sub(seq))
		if cut >= uint32(len(payload)) {
			// A pure duplicate: tell the peer where we are, and that it
			// came twice (D-SACK, dsack.go).
			t.noteDuplicate(seq, seq.Add(uint32(len(payload))))
			t.enterQuickAck()
			t.ackNow = true
			return
		}
		t.noteDuplicate(seq, t.rcv.nxt)
		payload = payload[cut:]
		seq = t.rcv.nxt
	}
	off := uint32(seq.Sub(t.rcv.nxt))
	room := t.rcvFree()
	if off >= room {
		t.enterQuickAck() // a zero-window probe, or data we cannot take
		t.ackNow = true
		t.drop(DropOutOfWindow)
		return
	}
	if uint32(len(payload)) > room-off {
		payload = payload[:room-off]
	}
	base := int(t.rcv.buf.n) // buffer offset of RCV.NXT
	if off > 0 {
		// Out of order: keep it in place in the buffer and remember the
		// range (RFC 9293 §3.10.7.4 "segments with higher beginning
		// sequence numbers SHOULD be held"); answer at once with SACK:
		// RFC 5681 §4.2. Under memory pressure it is not kept: it is what
		// a receiver may drop first.
		t.ackNow = true
		t.noteOutOfOrderDuplicate(seq, seq.Add(uint32(len(payload))))
		if !t.rcv.ooo.fits(seq, seq.Add(uint32(len(payload)))) {
			t.drop(DropNoRoom)
			return
		}
		if t.cfg.Memory.UnderPressure() {
			t.drop(DropNoMemory)
			return
		}
		k := t.rcv.buf.reserve(t.cfg.Buffers, t.cfg.Memory, base+int(off), len(payload), false)
		if k == 0 {
			t.drop(DropNoMemory)
			return
		}
		if t.rcv.ooo == nil {
			t.rcv.ooo = t.cfg.Buffers.getReassembly()
		}
		t.rcv.ooo.add(seq, seq.Add(uint32(k)))
		t.rcv.buf.copyIn(base+int(off), payload[:k])
		return
	}
	k := t.rcv.buf.reserve(t.cfg.Buffers, t.cfg.Memory, base, len(payload), true)
	if k < len(payload) && t.rcv.ooo.len() > 0 {
		// At the memory limit: out-of-order data goes first (its pages
		// past the in-order bytes), then try again.
		t.PruneOutOfOrder()
		k = t.rcv.buf.reserve(t.cfg.Buffers, t.cfg.Memory, base, len(payload), true)
	}
	if k == 0 {
		t.drop(DropNoMemory) // the peer sends it again
		return
	}
	payload = payload[:k]
	t.rcv.buf.copyIn(base, payload)
	end := seq.Add(uint32(len(payload)))
	filled := t.rcv.ooo.len() > 0
	end = t.rcv.ooo.advance(end)
	if filled && t.rcv.ooo.len() == 0 {
		t.releaseOOO()
	}
	t.noteDataIn(now)
	n := int(end.Sub(t.rcv.nxt))
	t.rcv.buf.n += int32(n)
	t.rcv.nxt = end
	t.stats.BytesReceived += uint64(n)
	if t.readShut {
		t.discardReceived()
	}
	if filled {
		t.ackNow = true // a hole was (maybe) filled: RFC 5681 §4.2
	}
	// Delayed ACK: at least every second full-sized segment (RFC 9293
	// §3.8.6.3), at most DelayedAck later; at once in quick-ACK mode.
	t.rcv.unacked += int32(min(t.rcv.fullSegments(n, full), 1<<20))
	if t.rcv.unacked >= 2 || t.inQuickAck() {
		t.ackNow = true
	} else {
		t.armDelayedAck(now)
	}
}
