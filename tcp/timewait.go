package tcp

import (
	"time"

	"github.com/synack-go/synack/wire"
)

// TIME_WAIT (RFC 9293 §3.10.7.4, eighth step; §3.6) keeps a closed
// connection's 4-tuple for 2·MSL so that old duplicates die and a lost
// last ACK can be sent again. A TCB is far more than it needs: a runtime
// moves the connection out of its TCB into a TimeWait, about 20 bytes, as
// soon as it gets there (TakeTimeWait), and keeps those in a table of its
// own, bounded like Linux's tcp_max_tw_buckets.

// TimeWait is what a connection in TIME_WAIT still needs: our next
// sequence number and the peer's, the peer's last timestamp, and when it
// last answered an unacceptable segment. Its zero value is not useful; a
// TimeWait comes from TCB.TakeTimeWait. It is not safe for concurrent use.
type TimeWait struct {
	sndNxt, rcvNxt Seq
	tsRecent       uint32
	lastReply      uint32 // our millisecond clock (tsNow without offset) + 1 at the last rate-limited reply; 0: none
	window         uint16 // the window field of our ACKs
	ts             bool   // both sides use timestamps
}

// TimeWaitVerdict says what a runtime does with a segment for a
// connection in TIME_WAIT: a set of the flags below; zero means nothing.
type TimeWaitVerdict uint8

// The flags of a TimeWaitVerdict.
const (
	// TimeWaitRestart: restart the 2·MSL timer.
	TimeWaitRestart TimeWaitVerdict = 1 << iota
	// TimeWaitReply: send the reply Input filled.
	TimeWaitReply
	// TimeWaitClose: a RST ended the connection: forget it.
	TimeWaitClose
)

// TakeTimeWait moves a connection in TIME_WAIT out of the TCB: it returns
// what the connection still needs and closes the TCB without telling its
// observer (the runtime reports the end of TIME_WAIT when it comes). ok is
// false, and nothing changes, if the TCB is not in TIME_WAIT.
func (t *TCB) TakeTimeWait() (w TimeWait, ok bool) {
	if t.state != StateTimeWait {
		return TimeWait{}, false
	}
	w = TimeWait{sndNxt: t.snd.max, rcvNxt: t.rcv.nxt, tsRecent: t.ts.recent, ts: t.ts.ok}
	w.window = uint16(min(t.rcvWindow()>>t.rcv.shift, 65535))
	if r := t.stats.rare; r != nil && r.lastInvalidReply != 0 {
		w.lastReply = uint32(r.lastInvalidReply/time.Millisecond) + 1
	}
	t.state = StateClosed
	t.teardown()
	return w, true
}

// Input handles a segment for the connection at now (the clock its TCB
// had), the way a TCB in TIME_WAIT would, and fills reply when the verdict
// is TimeWaitReply. tsOffset is the offset of our timestamps (the TCB's);
// lim is the stack-wide limit on replies to unacceptable segments. A SYN
// that may open a new incarnation is the runtime's to check first
// (AcceptsNewSYN).
func (w *TimeWait) Input(seg *wire.TCPSegment, now time.Duration, tsOffset uint32, lim *ReplyLimiter, reply *wire.TCPSegment) TimeWaitVerdict {
	f := seg.Flags
	paws := w.ts && seg.Options.HasTS && int32(seg.Options.TSVal-w.tsRecent) < 0
	if f&wire.RST != 0 {
		// RFC 9293 §3.10.7.4 second step, RFC 5961 §3.2: only a RST at
		// RCV.NXT ends it (as Linux, without RFC 1337's "ignore RSTs in
		// TIME_WAIT"); any other is dropped, unanswered.
		if seg.Seq == w.rcvNxt && !paws {
			return TimeWaitClose
		}
		return 0
	}
	if !paws && w.ts && seg.Options.HasTS && seg.Seq.LessEq(w.rcvNxt) {
		w.tsRecent = seg.Options.TSVal // RFC 7323 §4.3
	}
	if !paws && seg.Seq == w.rcvNxt && seg.SeqLen() == 0 && f&wire.ACK != 0 {
		return TimeWaitRestart // a bare ACK, as the peer's last one may be
	}
	// Anything else (a retransmitted FIN, data, a SYN that may not reuse
	// the 4-tuple, an old duplicate) is answered with an ACK that tells
	// the peer where we stand: rate-limited, but a retransmitted FIN or
	// data (the peer's RTO spaces them) only stack-wide, as Linux. The
	// timer restarts unless the segment has no ACK (a SYN may be an old
	// duplicate as well as a new attempt): Linux's rule.
	var v TimeWaitVerdict
	if paws || f&wire.ACK != 0 {
		v = TimeWaitRestart
	}
	ms := uint32(now/time.Millisecond) + 1
	limited := seg.SeqLen() == 0 || f&wire.SYN != 0
	if limited && w.lastReply != 0 && ms-w.lastReply < uint32(invalidReplyInterval/time.Millisecond) {
		lim.suppressed()
		return v
	}
	if !lim.Allow(now) {
		return v
	}
	if limited {
		w.lastReply = ms
	}
	*reply = wire.TCPSegment{SrcPort: seg.DstPort, DstPort: seg.SrcPort, Seq: w.sndNxt, Ack: w.rcvNxt,
		Flags: wire.ACK, Window: w.window}
	if w.ts {
		reply.Options.HasTS, reply.Options.TSVal, reply.Options.TSEcr = true, uint32(now/time.Millisecond)+tsOffset, w.tsRecent
	}
	return v | TimeWaitReply
}

// AcceptsNewSYN reports whether seg, a SYN, may open a new incarnation of
// the connection's 4-tuple (RFC 6191 §2): its timestamp is newer than the
// last one seen or, without timestamps, its sequence number lies above
// RCV.NXT.
func (w *TimeWait) AcceptsNewSYN(seg *wire.TCPSegment) bool {
	if seg.Flags&(wire.SYN|wire.ACK|wire.RST) != wire.SYN {
		return false
	}
	if w.ts && seg.Options.HasTS {
		return int32(seg.Options.TSVal-w.tsRecent) > 0
	}
	return seg.Seq.Greater(w.rcvNxt)
}

// NextISS suggests an ISS for a new incarnation of the 4-tuple: above
// everything this one sent.
func (w *TimeWait) NextISS() Seq { return w.sndNxt + 1<<17 }
