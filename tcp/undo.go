package tcp

import "time"

// Undoing a spurious recovery or timeout. A fast retransmit on a path that
// reorders, or a timeout on one whose delay jumped, cuts the window for a
// loss that never happened. Two signals prove it, as Linux uses them:
//
//   - D-SACK (RFC 2883, RFC 3708): the peer reports each retransmission
//     arriving as a duplicate. When every retransmission of the episode
//     was such a duplicate, none was needed.
//   - Timestamps (RFC 3522, Eifel detection): an ACK that echoes a
//     timestamp older than the first retransmission answers the original
//     transmission, which therefore arrived.
//
// The response is RFC 4015's: the window and ssthresh go back to what they
// were (the controller's OnSpuriousCongestion), and segments deemed lost
// are not resent. F-RTO (RFC 5682, recovery.go) proves a timeout spurious
// by the ACKs of data that was never retransmitted.

// undoState is what an episode keeps to be undone (Linux's undo_marker,
// undo_retrans and retrans_stamp).
type undoState struct {
	marker  Seq // SND.UNA when the episode began
	rtxLo   Seq // the sequence range its retransmissions covered
	rtxHi   Seq
	retrans int32  // its retransmissions no D-SACK has reported yet; -1: none sent
	tsval   uint32 // our TSval on its first retransmission
	tsSet   bool
	on      bool // the episode may still be undone
}

// undoInit starts an episode's undo record.
func (t *TCB) undoInit() {
	xs := t.xs
	xs.undo = undoState{marker: t.snd.una, retrans: -1, on: true}
	if xs.retransOut > 0 {
		xs.undo.retrans = int32((xs.retransOut + t.snd.mss - 1) / t.snd.mss)
	}
}

// undoOnRetransmit counts a retransmission of r sent at now.
func (t *TCB) undoOnRetransmit(r *txRecord, now time.Duration) {
	u := &t.xs.undo
	if !u.on {
		return
	}
	if u.retrans <= 0 {
		u.rtxLo, u.rtxHi = r.seq, r.end
	}
	u.rtxLo, u.rtxHi = u.rtxLo.Min(r.seq), u.rtxHi.Max(r.end)
	u.retrans = max(u.retrans, 0) + r.segsIn(r.seq, r.end, t.snd.mss)
	if !u.tsSet && t.ts.ok {
		u.tsval, u.tsSet = t.tsNow(now), true
	}
}

// packetDelayed is Eifel's test (RFC 3522 §2, Linux's tcp_packet_delayed):
// the ACK echoes a timestamp sent before the first retransmission.
func (t *TCB) packetDelayed(a *ackInfo) bool {
	u := &t.xs.undo
	return u.tsSet && a.hasTS && a.tsecr != 0 && int32(a.tsecr-u.tsval) < 0
}

// mayUndo reports whether the episode is proved spurious: every
// retransmission came back as a D-SACK, or the ACK answers an original.
func (t *TCB) mayUndo(a *ackInfo) bool {
	u := &t.xs.undo
	return u.on && (u.retrans == 0 || t.packetDelayed(a))
}

// undoOnDSACK takes a D-SACK into account: RFC 3708 §3's test, counted per
// retransmitted segment as Linux does. A D-SACK of data the episode
// resent reports one retransmission fewer that was needed; a D-SACK of
// data it did not resend is the network's duplicate, not ours, and says
// nothing (a path that duplicates packets would otherwise undo every
// episode). Still in flight, the transmit record tells which segments
// were resent; below SND.UNA, the range the episode's retransmissions
// covered. When none is left, the episode is undone, even if it has
// already ended.
func (t *TCB) undoOnDSACK(a *ackInfo) {
	xs := t.xs
	u := &xs.undo
	if !u.on || u.retrans <= 0 || !a.dsackHi.Greater(u.marker) {
		return
	}
	lo, hi := a.dsackLo.Max(u.rtxLo), a.dsackHi.Min(u.rtxHi)
	if !lo.Less(hi) || a.dsackRetrans < 0 {
		return
	}
	segs := a.dsackRetrans
	if segs == 0 {
		segs = int32((uint32(hi.Sub(lo)) + t.snd.mss - 1) / t.snd.mss)
	}
	u.retrans = max(u.retrans-max(segs, 1), 0)
	if u.retrans > 0 {
		return
	}
	if xs.ca >= caRecovery {
		t.undoEpisode(a.now, xs.ca == caLoss, CwndUndo)
		return
	}
	// A late D-SACK: the episode ended before its duplicates were
	// reported. The window it cut is restored all the same.
	t.cc.OnSpuriousCongestion(a.now)
	u.on = false
	xs.spurious++
	t.congestionChanged(CwndUndo)
}

// tryUndoPartial checks a partial ACK in recovery with Eifel's test
// (Linux's tcp_try_undo_partial): the hole was filled by a delayed
// original, so the path reorders. The window comes back once no
// retransmission is in flight.
func (t *TCB) tryUndoPartial(a *ackInfo) {
	xs := t.xs
	if !xs.undo.on || !t.packetDelayed(a) {
		return
	}
	t.reorderingSeen()
	if xs.retransOut == 0 {
		t.undoEpisode(a.now, true, CwndUndo)
	}
}

// undoEpisode undoes the current recovery or timeout: the controller
// restores its window (RFC 4015 §3.2), and with unmark the segments deemed
// lost are in flight again, not to be resent. why is the rule that found
// the episode spurious, for traces.
func (t *TCB) undoEpisode(now time.Duration, unmark bool, why CwndReason) {
	xs := t.xs
	t.cc.OnSpuriousCongestion(now)
	xs.ccEpisode = false
	xs.undo.on = false
	xs.spurious++
	if unmark && xs.lostOut > 0 {
		for id := xs.q.head; id != xs.q.end(); id++ {
			xs.unmarkLost(id)
		}
		xs.relistUnlisted()
	}
	xs.ca = caOpen
	xs.frto, xs.frtoNew = false, false
	t.rackOnRecoveryExit()
	t.congestionChanged(why)
}

// relistUnlisted puts the records in flight that are in no list (neither
// SACKed nor lost, after an undo) back into the time-ordered list, at
// their send times: a merge of two lists each in time order (originals
// are sent in sequence order).
func (xs *sender) relistUnlisted() {
	q := &xs.q
	listed := q.tLen
	lid := q.tHead
	q.tLen = 0
	for id := q.head; id != q.end(); id++ {
		r := q.at(id)
		if r.flags&(txListed|txSACKed|txLost) != 0 {
			continue
		}
		for listed > 0 && sentAfter(r.sentAt(), r.end, q.at(lid).sentAt(), q.at(lid).end) {
			next := q.at(lid).next
			q.listAppend(lid)
			lid = next
			listed--
		}
		q.listAppend(id)
	}
	for ; listed > 0; listed-- {
		next := q.at(lid).next
		q.listAppend(lid)
		lid = next
	}
}
