package tcp

import (
	"encoding/binary"
	"sync/atomic"
	"time"
)

// Replies to unacceptable segments (out-of-window segments, PAWS failures,
// ACKs of data never sent, SYNs and stray RSTs in a synchronized state) are
// the one thing a blind attacker can make a TCB send at will, and two
// TCBs that disagree about the sequence space answer each other's answers
// forever. Every such reply is therefore rate-limited twice, as RFC 5961 §7
// asks for challenge ACKs:
//
//   - per connection, at most one every invalidReplyInterval (Linux's
//     tcp_invalid_ratelimit, 500 ms), which ends any ACK loop after one
//     round;
//   - per stack, by a ReplyLimiter shared by every TCB (Linux's
//     tcp_challenge_ack_limit), which bounds what a spray over many
//     connections can draw out.
//
// https://www.rfc-editor.org/rfc/rfc5961#section-7

// ReplyLimiter bounds, stack-wide, how many replies to unacceptable segments
// the TCBs sharing it send per second (RFC 5961 §7 "system-wide"). Each
// second's budget is drawn from [perSecond/2, 3·perSecond/2) by a keyed
// hash of the second, so that an off-path attacker cannot count how many
// challenge ACKs a connection drew out by probing the shared budget
// (CVE-2016-5696, the side channel a fixed global limit opened in Linux).
// It is safe for concurrent use; a nil *ReplyLimiter allows everything.
type ReplyLimiter struct {
	perSec  uint32
	k0, k1  uint64
	window  atomic.Uint64 // second<<32 | replies sent in it
	limited atomic.Uint64
}

// NewReplyLimiter returns a limiter allowing about perSecond replies a
// second (at least 1), with key keeping each second's exact budget secret.
func NewReplyLimiter(perSecond int, key [16]byte) *ReplyLimiter {
	return &ReplyLimiter{perSec: uint32(max(perSecond, 1)),
		k0: binary.LittleEndian.Uint64(key[:8]), k1: binary.LittleEndian.Uint64(key[8:])}
}

// Limited returns how many replies were suppressed so far, by this limiter
// or by the per-connection limit of a TCB that uses it.
func (l *ReplyLimiter) Limited() uint64 {
	if l == nil {
		return 0
	}
	return l.limited.Load()
}

// Allow takes one reply from the budget of now's second (the clock of the
// TCBs that share the limiter) and reports whether there was one left.
func (l *ReplyLimiter) Allow(now time.Duration) bool {
	if l == nil {
		return true
	}
	sec := uint32(now / time.Second)
	budget := l.budget(sec)
	for {
		old := l.window.Load()
		n := uint32(old)
		if uint32(old>>32) != sec {
			n = 0
		}
		if n >= budget {
			l.limited.Add(1)
			return false
		}
		if l.window.CompareAndSwap(old, uint64(sec)<<32|uint64(n+1)) {
			return true
		}
	}
}

// budget is the number of replies second sec allows.
func (l *ReplyLimiter) budget(sec uint32) uint32 {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], sec)
	return l.perSec/2 + uint32(sipHash24(l.k0, l.k1, b[:])%uint64(l.perSec)) + 1
}

// suppressed counts a reply a TCB held back by its own limit.
func (l *ReplyLimiter) suppressed() {
	if l != nil {
		l.limited.Add(1)
	}
}

// replyUnacceptable owes the peer an ACK for an unacceptable segment
// (RFC 9293 §3.10.7.4: "an acknowledgment should be sent in reply"),
// unless this connection answered one less than invalidReplyInterval ago
// or the stack's budget is spent. It reports whether the ACK is owed.
//
// A segment that carries data skips the per-connection interval and draws
// only on the stack's budget, as in Linux (tcp_oow_rate_limited: "data
// packets without SYNs are not likely part of an ACK loop"): an ACK loop
// is made of pure ACKs, while the usual unacceptable data segment is a
// retransmission of data whose ACK was lost, and its answer (with a
// D-SACK) is what ends the sender's timeouts. Held back, a second lost ACK
// within 500 ms cost the sender a further backed-off RTO.
func (t *TCB) replyUnacceptable(now time.Duration, data bool) bool {
	if data {
		if !t.cfg.ReplyLimiter.Allow(now) {
			t.rare().RepliesLimited++
			return false
		}
		t.ackNow = true
		return true
	}
	if r := t.stats.rare; r != nil && r.lastInvalidReply != 0 && now-r.lastInvalidReply < invalidReplyInterval {
		t.rare().RepliesLimited++
		t.cfg.ReplyLimiter.suppressed()
		return false
	}
	if !t.cfg.ReplyLimiter.Allow(now) {
		t.rare().RepliesLimited++
		return false
	}
	t.rare().lastInvalidReply = max(now, 1) // zero means "never"
	t.ackNow = true
	return true
}
