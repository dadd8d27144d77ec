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
		t.emitRST(out)
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

// sendBudget is how many more bytes congestion control lets us put in the
// network: cwnd less the data in flight (RFC 5681 §3, RFC 6675 "pipe"), plus
// up to two segments on the first two duplicate ACKs (limited transmit,
// RFC 3042).
func (t *TCB) sendBudget() uint32 {
	if t.cc == nil {
		return 0
	}
	cwnd := t.cc.Cwnd()
	var pipe uint32
	if t.rec.active {
		out := t.inflight()
		if t.sackOK {
			// Holes below the highest SACK not yet resent are lost, the
			// SACKed bytes have left: RFC 6675 §4's pipe.
			high := t.rec.sb.highest(t.snd.una)
			lost := uint32(0)
			from := t.rec.rexmitNxt.Max(t.snd.una)
			if from.Less(high) {
				lost = uint32(high.Sub(from)) - t.rec.sb.sackedAbove(from) + t.rec.sb.sackedAbove(high)
			}
			sub := t.rec.sb.sackedBytes() + lost
			if sub < out {
				pipe = out - sub
			}
		} else {
			sub := uint32(t.rec.dupAcks) * t.snd.mss // NewReno's inflation
			if sub < out {
				pipe = out - sub
			}
		}
	} else {
		pipe = uint32(t.snd.nxt.Sub(t.snd.una))
		if t.sackOK {
			pipe -= min(pipe, t.rec.sb.sackedBytes())
		}
		if t.rec.dupAcks > 0 {
			cwnd += uint32(min(t.rec.dupAcks, 2)) * t.snd.mss
		}
	}
	if pipe >= cwnd {
		return 0
	}
	return cwnd - pipe
}

// sendData emits retransmissions and new data as the windows allow, then the
// FIN: RFC 9293 §3.8.6.2.1 (sender silly-window avoidance), RFC 896 (Nagle),
// RFC 5681 and RFC 6675.
func (t *TCB) sendData(now time.Duration, out Emitter) {
	if t.cc == nil {
		return
	}
	if t.snd.una == t.snd.max && t.snd.lastTx != 0 && now-t.snd.lastTx > t.rtt.rto {
		t.cc.OnIdle(now) // RFC 5681 §4.1 restart window
		t.snd.lastTx = now
	}
	end := t.snd.bufSeq.Add(uint32(t.snd.buf.n))
	if t.rec.forceHead {
		t.rec.forceHead = false
		n := min(uint32(end.Sub(t.snd.una)), t.segSize())
		if n > 0 {
			t.sendSegment(now, out, t.snd.una, n, end)
			if t.rec.rexmitNxt.Less(t.snd.una.Add(n)) {
				t.rec.rexmitNxt = t.snd.una.Add(n)
			}
		} else if t.snd.finSent {
			t.sendFIN(now, out, t.snd.finSeq)
		}
	}
	if t.tlpNow {
		t.sendProbe(now, out, end)
	}
	if t.rec.active && t.sackOK {
		t.sendHoles(now, out, end)
	}
	for {
		if t.sackOK && t.snd.nxt.Less(t.snd.max) {
			t.snd.nxt = t.rec.sb.skip(t.snd.nxt)
			if t.snd.nxt.Greater(end) {
				t.snd.nxt = end.Add(1) // the FIN was SACKed along
			}
		}
		avail := uint32(0)
		if t.snd.nxt.Less(end) {
			avail = uint32(end.Sub(t.snd.nxt))
		}
		if avail == 0 {
			break
		}
		wndEdge := t.snd.una.Add(t.snd.wnd)
		usable := uint32(0)
		if t.snd.nxt.Less(wndEdge) {
			usable = uint32(wndEdge.Sub(t.snd.nxt))
		}
		budget := t.sendBudget()
		seg := t.segSize()
		n := min(avail, seg, usable, budget)
		if n == 0 {
			if usable == 0 && (t.snd.una == t.snd.nxt || t.snd.wnd == 0) {
				t.armPersist(now) // no-op while the RTO timer runs
			}
			break
		}
		if n < seg && n < avail {
			// Window-limited short segment: silly-window avoidance waits
			// unless nothing is in flight or it is half the largest window.
			if t.snd.una != t.snd.nxt && n < t.snd.maxWnd/2 {
				break
			}
		}
		if n < seg && n == avail && !t.tmr.noDelay && t.snd.una != t.snd.nxt &&
			!(t.shutWr) && t.snd.nxt.GreaterEq(t.snd.max) {
			break // Nagle: hold a short segment while data is in flight
		}
		if n < seg && n == avail && t.corked() {
			break // TCP_CORK, MSG_MORE: wait for a full segment (sockopt.go)
		}
		t.sendSegment(now, out, t.snd.nxt, n, end)
	}
	if t.shutWr && t.snd.nxt == end && t.canSendFIN() {
		t.sendFIN(now, out, end)
	}
}

// canSendFIN allows the FIN when it fits the windows or nothing is in
// flight, so that a close never stalls.
func (t *TCB) canSendFIN() bool {
	return t.snd.una == t.snd.nxt || t.sendBudget() > 0
}

// segSize is the payload that fits in one segment now: the send MSS less
// the SACK blocks this segment will carry (RFC 2018 §3: they share the 40
// bytes of options with the timestamps). Without this, a segment that
// carries SACK blocks would exceed the path MTU.
func (t *TCB) segSize() uint32 {
	if !t.sackOK || t.rcv.ooo.len() == 0 {
		return t.snd.mss
	}
	k := uint32(min(t.rcv.ooo.len(), t.maxSACKBlocks()))
	return t.snd.mss - (4 + 8*k) // NOP, NOP, kind, length, k blocks
}

// maxSACKBlocks is how many SACK blocks fit beside the other options.
func (t *TCB) maxSACKBlocks() int {
	if t.ts.ok {
		return 3
	}
	return 4
}

// sendHoles retransmits unSACKed holes below the highest SACKed byte while
// the pipe allows: RFC 6675 §5 NextSeg rule (1).
func (t *TCB) sendHoles(now time.Duration, out Emitter, end Seq) {
	for t.sendBudget() >= t.snd.mss || (t.sendBudget() > 0 && t.inflight() < t.snd.mss) {
		from := t.rec.rexmitNxt.Max(t.snd.una)
		lo, hi, ok := t.rec.sb.nextHole(from)
		if !ok {
			return
		}
		hi = hi.Min(end)
		if !lo.Less(hi) {
			return
		}
		n := min(uint32(hi.Sub(lo)), t.segSize())
		t.sendSegment(now, out, lo, n, end)
		t.rec.rexmitNxt = lo.Add(n)
	}
}

// sendSegment emits n bytes of the send buffer starting at seq (cut at the
// ring's wrap point) and advances SND.NXT when seq is SND.NXT.
func (t *TCB) sendSegment(now time.Duration, out Emitter, seq Seq, n uint32, end Seq) {
	off := int(seq.Sub(t.snd.bufSeq))
	p := t.snd.buf.peek(off, int(n))
	if l, ok := out.(SegmentLender); ok && len(p) < int(n) {
		// The payload wraps around the ring's end: gathered into the
		// emitter's scratch (it copies the payload anyway), rather than a
		// short segment at every lap of the ring.
		buf := l.Scratch(int(n))
		c := copy(buf, p)
		copy(buf[c:], t.snd.buf.peek(off+c, int(n)-c))
		p = buf
	}
	n = uint32(len(p))
	flags := wire.ACK
	segEnd := seq.Add(n)
	if segEnd == end {
		flags |= wire.PSH // the last segment of what the user wrote
		if t.shutWr && (t.snd.nxt == seq) && t.canSendFIN() {
			flags |= wire.FIN
		}
	}
	retrans := seq.Less(t.snd.max)
	if retrans {
		t.stats.Retransmits++
		if seq == t.snd.una {
			t.rec.headSentAt = now
		}
		if t.rtt.timing && t.rtt.timeSeq.Greater(seq) {
			t.rtt.timing = false // Karn: the timed segment was resent
		}
	} else if !t.rtt.timing {
		t.rtt.timing, t.rtt.timeSeq, t.rtt.timeAt = true, segEnd, now
	}
	t.stats.BytesSent += uint64(n)
	t.emit(out, now, flags, seq, p)
	if seq == t.snd.nxt {
		t.snd.nxt = segEnd
		if flags&wire.FIN != 0 {
			t.snd.finSent, t.snd.finSeq = true, end
			t.snd.nxt = end.Add(1)
		}
	}
	t.snd.max = t.snd.max.Max(t.snd.nxt).Max(segEnd)
	t.snd.lastTx = now
	t.onDataSent(now)
	if !retrans {
		t.onNewDataSent(now)
	}
}

// sendFIN emits a bare FIN at seq (== the end of the buffered data).
func (t *TCB) sendFIN(now time.Duration, out Emitter, seq Seq) {
	retrans := seq.Less(t.snd.max)
	if retrans {
		t.stats.Retransmits++
	}
	t.emit(out, now, wire.FIN|wire.ACK, seq, nil)
	t.snd.finSent, t.snd.finSeq = true, seq
	if t.snd.nxt == seq {
		t.snd.nxt = seq.Add(1)
	}
	t.snd.max = t.snd.max.Max(seq.Add(1))
	t.snd.lastTx = now
	t.onDataSent(now)
	if !retrans {
		t.onNewDataSent(now)
	}
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
	s := t.segment(out)
	*s = wire.TCPSegment{SrcPort: t.lport, DstPort: t.rport, Seq: seq, Ack: t.rcv.nxt, Flags: flags, Payload: payload}
	s.Window = t.advertise()
	if t.ts.ok {
		s.Options.HasTS, s.Options.TSVal, s.Options.TSEcr = true, t.tsNow(now), t.ts.recent
	}
	if t.sackOK && t.rcv.ooo.len() > 0 {
		var blocks [4]seqRange
		k := t.rcv.ooo.sackBlocks(blocks[:t.maxSACKBlocks()])
		for i := 0; i < k; i++ {
			s.Options.SACK[i] = wire.SACKBlock{Left: blocks[i].lo, Right: blocks[i].hi}
		}
		s.Options.NumSACK = k
	}
	t.ts.lastAckSent = t.rcv.nxt
	t.ackNow = false
	t.tmr.delack = 0
	t.rcv.unacked = 0
	t.stats.SegsOut++
	out.Emit(s)
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

// emitRST sends the pending reset.
func (t *TCB) emitRST(out Emitter) {
	s := t.segment(out)
	*s = wire.TCPSegment{SrcPort: t.lport, DstPort: t.rport, Seq: t.rstSeq, Flags: wire.RST}
	if t.rstAck {
		s.Flags |= wire.ACK
		s.Ack = t.rcv.nxt
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
