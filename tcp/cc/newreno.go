package cc

import (
	"math"
	"time"
)

// initialWindow is RFC 6928 §2: min(10*MSS, max(2*MSS, 14600)).
func initialWindow(mss uint32) uint32 {
	return min(10*mss, max(2*mss, 14600))
}

// newReno is RFC 5681's slow start and congestion avoidance with the
// window arithmetic of RFC 6582's NewReno recovery; the recovery itself
// (which segment to resend) is the TCB's.
type newReno struct {
	mss      uint32
	cwnd     uint32
	ssthresh uint32
	acked    uint32 // bytes acknowledged toward the next cwnd increase
}

// NewReno returns a NewReno controller for a sender whose segments carry mss
// bytes, with the initial window of RFC 6928 and an "arbitrarily high"
// ssthresh (RFC 5681 §3.1).
func NewReno(mss uint32) Controller {
	mss = max(mss, 1)
	return &newReno{mss: mss, cwnd: initialWindow(mss), ssthresh: math.MaxUint32}
}

func (r *newReno) Name() string     { return "reno" }
func (r *newReno) Cwnd() uint32     { return r.cwnd }
func (r *newReno) Ssthresh() uint32 { return r.ssthresh }

func (r *newReno) SetMSS(mss uint32) {
	if mss == 0 || mss == r.mss {
		return
	}
	// Keep the window's size in segments across an MSS change.
	r.cwnd = max(uint32(uint64(r.cwnd)*uint64(mss)/uint64(r.mss)), mss)
	r.mss = mss
}

// OnAck grows the window: in slow start by at most one MSS per ACK (RFC 5681
// §3.1, byte counting with L = 1 SMSS, RFC 3465), in congestion avoidance by
// one MSS per window of acknowledged bytes (RFC 5681 §3.1, the byte-counting
// variant).
func (r *newReno) OnAck(acked, inflight uint32, rtt, now time.Duration) {
	if r.cwnd < r.ssthresh {
		r.cwnd = satAdd(r.cwnd, min(acked, r.mss))
		return
	}
	r.acked += acked
	if r.acked >= r.cwnd {
		r.acked -= r.cwnd
		r.cwnd = satAdd(r.cwnd, r.mss)
	}
}

// OnFastRetransmit halves the window: RFC 5681 §3.2 step 2 (equation 4),
// cwnd = ssthresh; the TCB adds the inflation of RFC 5681 §3.2 steps 3–4.
func (r *newReno) OnFastRetransmit(inflight uint32, now time.Duration) {
	r.ssthresh = max(inflight/2, 2*r.mss)
	r.cwnd = r.ssthresh
	r.acked = 0
}

// OnRecoveryExit deflates the window: RFC 6582 §3.2 step 3, option (1)
// "Set cwnd to min(ssthresh, max(FlightSize, SMSS) + SMSS)".
func (r *newReno) OnRecoveryExit(inflight uint32, now time.Duration) {
	r.cwnd = min(r.ssthresh, max(inflight, r.mss)+r.mss)
	r.acked = 0
}

// OnRTO collapses the window to the loss window of one segment: RFC 5681
// §3.1 equation 4 and the paragraph after it.
func (r *newReno) OnRTO(inflight uint32, now time.Duration) {
	r.ssthresh = max(inflight/2, 2*r.mss)
	r.cwnd = r.mss
	r.acked = 0
}

// OnIdle limits the window to the restart window: RFC 5681 §4.1 (RW =
// min(IW, cwnd)).
func (r *newReno) OnIdle(now time.Duration) {
	r.cwnd = min(r.cwnd, initialWindow(r.mss))
}

func satAdd(a, b uint32) uint32 {
	if a > math.MaxUint32-b {
		return math.MaxUint32
	}
	return a + b
}
