package tcp

import (
	"time"

	"github.com/synack-go/synack/wire"
)

// Poll fires the timers due at now and emits every segment that is due:
// SYN or SYN-ACK, data within the send and congestion windows, FIN,
// retransmissions, probes, RST, and owed ACKs. Call it after Input, after
// every user call, and when Deadline has passed.
func (t *TCB) Poll(now time.Duration, out Emitter) {
	if t.state != StateClosed {
		t.fireTimers(now)
	}
	if t.rstNow {
		t.rstNow = false
		t.emitRST(now, out)
	}
	switch t.state {
	case StateClosed, StateListen:
		t.ackNow, t.synNow, t.probeNow, t.tlpNow = false, false, false, false
		return
	case StateSynSent:
		if t.synNow {
			t.emitSYN(now, out, false)
		}
		return
	case StateSynReceived:
		if t.synNow || t.ackNow {
			t.emitSYN(now, out, true)
		}
		return
	}
	if t.synNow {
		t.emitSYN(now, out, true)
	}
	t.sendData(now, out)
	if t.probeNow {
		t.probeNow = false
		// A zero-window or keepalive probe: an old sequence number that
		// the peer must answer with an ACK (RFC 9293 §3.8.4, and Linux's
		// window probe).
		t.emit(out, now, wire.ACK, t.snd.una-1, nil)
	}
	if t.ackNow {
		// RFC 9293's SND.NXT is SND.MAX here: ours rewinds after a
		// timeout, and an ACK numbered below what the peer has received
		// is unacceptable to it (§3.10.7.4), its acknowledgment ignored.
		// If both ends timed out, neither would hear the other again.
		t.emit(out, now, wire.ACK, t.snd.max, nil)
	}
}

// sendData emits retransmissions and new data as the windows allow, then
// the FIN: RFC 6675 §5 (NextSeg: lost segments first, then new data),
// RFC 6937 in recovery, RFC 9293 §3.8.6.2.1 (sender silly-window
// avoidance), RFC 896 with Minshall's variant (Nagle), RFC 5681, and the
// pacer (pacing.go).
func (t *TCB) sendData(now time.Duration, out Emitter) {
	end := t.sendEnd()
	finWaiting := t.shutWr && !t.snd.finSent
	if t.xs == nil {
		if !t.snd.nxt.Less(end) && !finWaiting {
			return
		}
		t.sender()
	}
	xs := t.xs
	if t.snd.una == t.snd.max && xs.idleSince != 0 && (t.snd.nxt.Less(end) || finWaiting) {
		// New data after the flight ran dry: RFC 5681 §4.1, RFC 9438
		// §5.8, draft-ietf-ccwg-bbr §5.4; the controller decides.
		t.cc.OnIdleRestart(now, now-xs.idleSince, t.rtt.rto)
		xs.idleSince = 0
		t.congestionChanged(CwndIdle)
	}
	xs.paceAt = 0
	if t.tlpNow {
		t.sendProbe(now, out, end)
	}
	if xs.frtoNew {
		// F-RTO step 2b (RFC 5682 §3.1): new data, not retransmissions.
		xs.frtoNew = false
		t.sendNew(now, out, end)
		if !t.snd.max.Greater(xs.highSeq) {
			xs.frto = false
			t.sendLost(now, out, end)
		}
	} else if !t.sendLost(now, out, end) {
		t.sendNew(now, out, end)
	}
	if finWaiting && t.snd.nxt == end {
		// A bare FIN is not held by the congestion window (Linux's
		// tcp_cwnd_test), so a close never waits on it.
		t.sendFIN(now, out, end)
	}
}

// cwndRoom is how many more bytes the congestion window lets into the
// network: cwnd less the pipe (RFC 5681 §3.1, RFC 6675 §5), where cwnd is
// PRR's in fast recovery for controllers that use it (RFC 6937).
func (t *TCB) cwndRoom() uint32 {
	cwnd := t.xs.cwnd
	if t.inPRR() {
		cwnd = t.xs.prr.cwnd
	}
	p := t.pipe()
	if p >= cwnd {
		return 0
	}
	return cwnd - p
}

// inPRR reports whether PRR governs the window now.
func (t *TCB) inPRR() bool { return t.xs.ca == caRecovery && t.cc.UsesPRR() }

// roomFor reports whether a segment of n bytes may go with room bytes of
// window left: all of it must fit, except under PRR, whose allowance is
// repaid by the next ACKs when a segment overshoots it (as Linux counts
// PRR in whole packets).
func (t *TCB) roomFor(room, n uint32) bool {
	return room >= n || (room > 0 && t.inPRR())
}

// paceSlack is how far ahead of the pacer's schedule a connection may
// send: about a millisecond of data goes back to back, so the pacer wakes
// a connection at most about once a millisecond (Linux paces with
// hrtimers; one timer goroutine serves all of a stack's connections).
const paceSlack = time.Millisecond

// paced reports whether the pacer lets a segment go now; if not, the
// connection waits for it (Deadline).
func (t *TCB) paced(now time.Duration) bool {
	xs := t.xs
	if xs.pace.rate == 0 || xs.pace.nextAt <= now+paceSlack {
		return true
	}
	xs.paceAt = xs.pace.next() - paceSlack
	return false
}

// sendLost resends the segments deemed lost, lowest first: RFC 6675 §4
// NextSeg rule (1). It reports whether it stopped with lost segments left
// (the window or the pacer): new data must then wait too.
func (t *TCB) sendLost(now time.Duration, out Emitter, end Seq) bool {
	xs := t.xs
	for {
		id, ok := xs.nextLost()
		if !ok {
			return false
		}
		if t.snd.wnd == 0 {
			return true // the persist timer probes the closed window
		}
		r := xs.q.at(id)
		if !t.roomFor(t.cwndRoom(), min(r.len(), t.segSize())) {
			xs.rate.markCwndLimited()
			return true
		}
		if !t.paced(now) {
			return true
		}
		t.resend(now, out, id, end)
	}
}

// sendNew sends new data within the peer's window and the congestion
// window: RFC 6675 NextSeg rule (2), RFC 9293 §3.8.6.2.1.
func (t *TCB) sendNew(now time.Duration, out Emitter, end Seq) {
	xs := t.xs
	for t.snd.nxt.Less(end) {
		avail := uint32(end.Sub(t.snd.nxt))
		wndEdge := t.snd.una.Add(t.snd.wnd)
		usable := uint32(0)
		if t.snd.nxt.Less(wndEdge) {
			usable = uint32(wndEdge.Sub(t.snd.nxt))
		}
		seg := t.segSize()
		n := min(avail, seg, usable)
		if n == 0 {
			if usable == 0 && (t.snd.una == t.snd.nxt || t.snd.wnd == 0) {
				t.armPersist(now) // no-op while the RTO timer runs
			}
			return
		}
		if n < seg && n < avail {
			// Window-limited short segment: silly-window avoidance waits
			// unless nothing is in flight or it is half the largest window.
			if t.snd.una != t.snd.nxt && n < t.snd.maxWnd/2 {
				return
			}
		}
		if n < seg && n == avail && t.nagleHolds() {
			return
		}
		if n < seg && n == avail && t.corked() {
			return // TCP_CORK, MSG_MORE: wait for a full segment (sockopt.go)
		}
		if !t.roomFor(t.cwndRoom(), n) {
			xs.rate.markCwndLimited()
			return
		}
		if !t.paced(now) {
			return
		}
		if n == seg && t.snd.tso > seg {
			n = t.tsoLen(now, seg, avail, usable)
		}
		t.sendNewSegment(now, out, n, end)
		if t.cwndRoom() < t.snd.mss {
			// The window is full: cwnd-limited (Linux's tcp_write_xmit,
			// RFC 7661's validated window).
			xs.rate.markCwndLimited()
		}
	}
}

// nagleHolds is Nagle's algorithm (RFC 896, RFC 1122 §4.2.3.4) with
// Minshall's variant, as Linux's tcp_nagle_check: a short segment waits
// while an earlier short segment is unacknowledged, so the short tail of
// a write goes at once behind full-sized segments but a second one waits.
// A segment that carries the FIN is never held.
func (t *TCB) nagleHolds() bool {
	return !t.tmr.noDelay && !t.shutWr && t.snd.sml.Greater(t.snd.una) && t.snd.sml.LessEq(t.snd.max)
}

// segSize is the payload that fits in one segment now: the send MSS less
// the SACK blocks this segment will carry (RFC 2018 §3: they share the 40
// bytes of options with the timestamps). Without this, a segment that
// carries SACK blocks would exceed the path MTU.
func (t *TCB) segSize() uint32 {
	k := t.sackBlocksOut()
	if k == 0 {
		return t.snd.mss
	}
	return t.snd.mss - (4 + 8*uint32(k)) // NOP, NOP, kind, length, k blocks
}

// maxSACKBlocks is how many SACK blocks fit beside the other options.
func (t *TCB) maxSACKBlocks() int {
	if t.ts.ok {
		return 3
	}
	return 4
}

// sendNewSegment sends n bytes of new data at SND.NXT (fewer if the
// segment would wrap the send ring and the Emitter lends no scratch), the
// FIN with the last of it after Shutdown, and makes its transmit record.
//
// n may exceed the segment size (SetTSO): the segment then goes as one TSO
// segment with one transmit record.
func (t *TCB) sendNewSegment(now time.Duration, out Emitter, n uint32, end Seq) {
	xs := t.xs
	seq := t.snd.nxt
	seg := t.segSize()
	fin := t.shutWr && seq.Add(n) == end
	n, fin = t.emitData(now, out, seq, n, seg, end, fin)
	segEnd := seq.Add(n)
	recEnd := segEnd
	if fin {
		t.snd.finSent, t.snd.finSeq = true, end
		recEnd = end.Add(1)
	}
	t.snd.nxt = recEnd
	t.snd.max = t.snd.max.Max(recEnd)
	tso := uint32(0)
	if n > seg {
		tso = seg
	}
	t.recordSent(seq, recEnd, fin, tso, now)
	if !t.rtt.timing {
		// The first segment is timed (of a TSO segment, the first the link cuts).
		t.rtt.timing, t.rtt.timeSeq, t.rtt.timeAt = true, seq.Add(min(n, seg)), now
	}
	if n < t.snd.mss || n%seg != 0 {
		t.snd.sml = segEnd // Minshall: the last short segment sent
	}
	xs.pace.onSent(now, n)
	switch xs.ca {
	case caRecovery:
		xs.prr.onSent(n)
	case caDisorder:
		xs.ltBytes += n // limited transmit, RFC 3042
	}
	t.onDataSent(now)
	t.noteDataOut(now)
	t.onNewDataSent(now)
}

// resend sends one segment of lost data from record id: the record and
// the lost records right after it, up to a full segment, so that data
// resent after the MSS fell (LowerMTU, TCP_MAXSEG) or beside SACK blocks
// goes in full segments, not a full one and a stub per record. A record
// counts as resent when its last byte has gone; xs.rtxSeq remembers where
// the next segment starts inside one.
func (t *TCB) resend(now time.Duration, out Emitter, id uint32, end Seq) {
	xs := t.xs
	q := &xs.q
	r := q.at(id)
	if r.flags&txTSO != 0 {
		t.resendTSO(now, out, id, end)
		return
	}
	seq := r.seq
	if r.flags&(txLost|txRetransIn) == txLost && xs.rtxSeq.Greater(seq) && xs.rtxSeq.Less(r.end) {
		seq = xs.rtxSeq
	}
	want := t.segSize()
	last := id
	for {
		lr := q.at(last)
		if uint32(lr.end.Sub(seq)) >= want || lr.flags&txFIN != 0 || last+1 == q.end() {
			break
		}
		nr := q.at(last + 1)
		if nr.flags&(txLost|txRetransIn|txSACKed|txTSO) != txLost || nr.seq != lr.end {
			break
		}
		last++
	}
	lr := q.at(last)
	stop := lr.end
	fin := lr.flags&txFIN != 0
	if fin {
		stop--
	}
	if t.rtt.timing && t.rtt.timeSeq.Greater(seq) {
		t.rtt.timing = false // Karn: the timed segment was resent
	}
	n := min(uint32(stop.Sub(seq)), want)
	n, fin = t.emitData(now, out, seq, n, want, end, fin && seq.Add(n) == stop)
	sentEnd := seq.Add(n + b2u(fin))
	t.stats.Retransmits++
	for k := id; ; k++ {
		if q.at(k).end.LessEq(sentEnd) {
			t.recordResent(k, now) // before the pacer moves past its departure
		}
		if k == last {
			break
		}
	}
	t.resent(now, id, n, fin, sentEnd)
}

// resendTSO resends record id, deemed lost, that went as one TSO segment:
// as one TSO segment again, of as much of it as the congestion window, the
// pacer and SetTSO let go (at least a segment); the record is split where
// that ends and the rest waits its turn, as Linux's __tcp_retransmit_skb
// cuts an skb to the segments cwnd allows. Where a split would move too
// many records (maxSplitMove) the record stays whole and counts as resent
// when its last byte has gone, xs.rtxSeq marking where the next
// retransmission starts inside it, as resend does.
func (t *TCB) resendTSO(now time.Duration, out Emitter, id uint32, end Seq) {
	xs := t.xs
	seg := t.segSize()
	r := xs.q.at(id)
	seq := r.seq
	if r.flags&(txLost|txRetransIn) == txLost && xs.rtxSeq.Greater(seq) && xs.rtxSeq.Less(r.end) {
		seq = xs.rtxSeq
	}
	fin := r.flags&txFIN != 0
	stop := r.end - Seq(b2u(fin))
	if lim := max(min(t.cwndRoom(), t.snd.tso, t.paceBudget(now, seg))/seg*seg, seg); uint32(stop.Sub(seq)) > lim {
		stop, fin = seq.Add(lim), false
	}
	if t.rtt.timing && t.rtt.timeSeq.Greater(seq) {
		t.rtt.timing = false // Karn: the timed segment was resent
	}
	n, fin := t.emitData(now, out, seq, uint32(stop.Sub(seq)), seg, end, fin)
	sentEnd := seq.Add(n + b2u(fin))
	t.stats.Retransmits += uint64(segsOf(n, seg))
	if sentEnd.Less(r.end) {
		if xs.q.splitCost(id) > maxSplitMove {
			t.resent(now, id, n, fin, sentEnd)
			return
		}
		id = xs.split(t.cfg.Buffers, t.cfg.Memory, id, sentEnd)
	}
	xs.q.at(id).seg = uint16(seg) // as it went this time
	t.recordResent(id, now)
	t.resent(now, id, n, fin, sentEnd)
}

// resent is what follows a retransmission of n bytes (and the FIN if fin)
// from record id, ending at sentEnd.
func (t *TCB) resent(now time.Duration, id, n uint32, fin bool, sentEnd Seq) {
	xs := t.xs
	xs.pace.onSent(now, n)
	if xs.ca == caRecovery {
		xs.prr.onSent(n + b2u(fin))
	}
	xs.rtxSeq = sentEnd
	t.onDataSent(now)
	t.noteDataOut(now)
	if id == xs.q.head && t.tmr.kind == rexmitRTO && t.tmr.backoffs == 0 {
		// The segment at SND.UNA went again: the retransmission timer
		// restarts behind it, as Linux's tcp_xmit_retransmit_queue does,
		// so that it does not fire on the original's clock while RACK
		// repairs (RFC 6298 §5.3's restart, for the new oldest send).
		t.tmr.at = now + t.rtt.rto
	}
}

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// emitData emits n bytes of the send buffer from seq, with the FIN if fin;
// the payload is gathered into the Emitter's scratch if it wraps the ring
// (a SegmentLender), else cut at the wrap. It returns the bytes sent and
// whether the FIN went.
//
// More than seg bytes go as one TSO segment that the link cuts into
// segments of seg bytes, if out is a TSOEmitter; else only seg bytes go.
func (t *TCB) emitData(now time.Duration, out Emitter, seq Seq, n, seg uint32, end Seq, fin bool) (uint32, bool) {
	var tso TSOEmitter
	if n > seg {
		var ok bool
		if tso, ok = out.(TSOEmitter); !ok {
			n = seg
		}
	}
	var p []byte
	if n > 0 {
		p = t.snd.buf.peek(int(seq.Sub(t.snd.bufSeq)), int(n))
	}
	if len(p) < int(n) {
		// The payload wraps around the ring's end: gathered into the
		// emitter's scratch (it copies the payload anyway), rather than a
		// short segment at every lap of the ring. (The type assertion is
		// left to the segment that wraps: it costs every segment else.)
		if l, ok := out.(SegmentLender); ok {
			buf := l.Scratch(int(n))
			c := copy(buf, p)
			copy(buf[c:], t.snd.buf.peek(int(seq.Sub(t.snd.bufSeq))+c, int(n)-c))
			p = buf
		}
	}
	if uint32(len(p)) < n {
		fin = false
	}
	flags := wire.ACK
	if len(p) > 0 && seq.Add(uint32(len(p))) == end {
		flags |= wire.PSH // the last segment of what the user wrote
	}
	if fin {
		flags |= wire.FIN
	}
	t.stats.BytesSent += uint64(len(p))
	s := t.fill(out, now, flags, seq, p)
	if uint32(len(p)) > seg {
		t.stats.SegsOut += uint64(segsOf(uint32(len(p)), seg) - 1)
		tso.EmitTSO(s, int(seg))
	} else {
		out.Emit(s)
	}
	return uint32(len(p)), fin
}

// sendFIN emits a bare FIN at seq (== the end of the buffered data) and
// makes its transmit record.
func (t *TCB) sendFIN(now time.Duration, out Emitter, seq Seq) {
	t.emit(out, now, wire.FIN|wire.ACK, seq, nil)
	t.snd.finSent, t.snd.finSeq = true, seq
	t.snd.nxt = seq.Add(1)
	t.snd.max = t.snd.max.Max(t.snd.nxt)
	t.recordSent(seq, seq.Add(1), true, 0, now)
	t.onDataSent(now)
	t.onNewDataSent(now)
}

// emitSYN sends our SYN (or SYN-ACK) with the options of RFC 9293 §3.7.1,
// RFC 7323 and RFC 2018. A SYN-ACK carries only the options the SYN offered.
func (t *TCB) emitSYN(now time.Duration, out Emitter, synAck bool) {
	t.synNow = false
	s := t.segment(out)
	*s = wire.TCPSegment{SrcPort: t.lport, DstPort: t.rport, Seq: t.snd.iss, Flags: wire.SYN}
	s.Window = uint16(min(t.rcvFree(), 65535)) // never scaled in a SYN: RFC 7323 §2.2
	s.Options.MSS = uint16(t.rcv.mss)
	if synAck {
		s.Flags |= wire.ACK
		s.Ack = t.rcv.nxt
		s.Options.HasWScale = t.rcv.shift != 0 || t.snd.shift != 0
		if s.Options.HasWScale {
			s.Options.WScale = t.rcv.shift
		}
		s.Options.SACKPermitted = t.sackOK
		if t.ts.ok {
			s.Options.HasTS, s.Options.TSVal, s.Options.TSEcr = true, t.tsNow(now), t.ts.recent
		}
		t.ts.lastAckSent = t.rcv.nxt
		t.rcv.adv = t.rcv.nxt.Add(uint32(s.Window))
		t.ackNow = false
	} else {
		if !t.cfg.DisableWindowScale {
			s.Options.HasWScale, s.Options.WScale = true, t.cfg.WindowScale()
		}
		s.Options.SACKPermitted = !t.cfg.DisableSACK
		if !t.cfg.DisableTimestamps {
			s.Options.HasTS, s.Options.TSVal = true, t.tsNow(now)
		}
	}
	if t.tmr.backoffs == 0 && !t.rtt.timing {
		t.rtt.timing, t.rtt.timeSeq, t.rtt.timeAt = true, t.snd.iss+1, now
	}
	t.snd.nxt = t.snd.iss + 1
	t.snd.max = t.snd.max.Max(t.snd.nxt)
	if t.tmr.backoffs > 0 {
		t.stats.Retransmits++
	}
	t.stats.SegsOut++
	out.Emit(s)
	t.onDataSent(now)
}

// emit sends one segment with the current ACK, window and options; every
// segment after the handshake carries an ACK (RFC 9293 §3.10.7.4).
func (t *TCB) emit(out Emitter, now time.Duration, flags wire.TCPFlags, seq Seq, payload []byte) {
	out.Emit(t.fill(out, now, flags, seq, payload))
}

// fill makes the segment emit sends, and counts it as sent.
func (t *TCB) fill(out Emitter, now time.Duration, flags wire.TCPFlags, seq Seq, payload []byte) *wire.TCPSegment {
	s := t.segment(out)
	// Field by field: the composite literal was built on the stack and
	// copied over *s, with the write barrier's check for Payload's
	// pointer, once per segment.
	s.SrcPort, s.DstPort, s.Seq, s.Ack, s.Flags, s.Urgent = t.lport, t.rport, seq, t.rcv.nxt, flags, 0
	s.Options = wire.TCPOptions{}
	s.Payload = payload
	s.Window = t.advertise()
	if t.ts.ok {
		s.Options.HasTS, s.Options.TSVal, s.Options.TSEcr = true, t.tsNow(now), t.ts.recent
	}
	t.fillSACK(&s.Options)
	t.quickAckSent()
	t.ts.lastAckSent = t.rcv.nxt
	t.ackNow = false
	t.tmr.delack = 0
	t.rcv.unacked, t.rcv.pushed = 0, 0
	t.stats.SegsOut++
	return s
}

// segment returns the segment the next emission fills: out's, if it lends
// one, else the TCB's own, made on first use.
func (t *TCB) segment(out Emitter) *wire.TCPSegment {
	if l, ok := out.(SegmentLender); ok {
		return l.Segment()
	}
	if t.scratch == nil {
		t.scratch = new(wire.TCPSegment)
	}
	return t.scratch
}

// emitRST sends the pending reset. When timestamps are in use it carries
// TSopt too (RFC 7323 §3.2: SHOULD, so the peer can check it against PAWS,
// https://www.rfc-editor.org/rfc/rfc7323#section-3.2), as Linux's
// tcp_send_active_reset does: TSval our clock, TSecr TS.Recent.
func (t *TCB) emitRST(now time.Duration, out Emitter) {
	s := t.segment(out)
	*s = wire.TCPSegment{SrcPort: t.lport, DstPort: t.rport, Seq: t.rstSeq, Flags: wire.RST}
	if t.rstAck {
		s.Flags |= wire.ACK
		s.Ack = t.rcv.nxt
	}
	if t.ts.ok {
		s.Options.HasTS, s.Options.TSVal, s.Options.TSEcr = true, t.tsNow(now), t.ts.recent
	}
	t.stats.SegsOut++
	t.rare().RSTsOut++
	out.Emit(s)
}

// queueRST queues a RST with sequence seq (and our RCV.NXT as ACK when
// withAck); the next Poll sends it.
func (t *TCB) queueRST(seq Seq, withAck bool) {
	t.rstNow, t.rstSeq, t.rstAck = true, seq, withAck
}
