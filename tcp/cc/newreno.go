package cc

import "time"

// RenoConfig tunes NewReno. The zero value is the default.
type RenoConfig struct {
	// L is RFC 3465's slow-start limit in segments: an ACK grows cwnd by
	// at most L·SMSS. Zero means 2, the most RFC 3465 §2.3 allows.
	L uint32
	// NoPacing turns off the pacing rate (Linux's internal pacing rates,
	// see LinuxPacingRate); PacingRate then returns 0.
	NoPacing bool
}

// newReno is RFC 5681's slow start and congestion avoidance with the window
// arithmetic of RFC 6582's NewReno recovery. Which segment to resend, and
// the window during recovery (PRR, RFC 6937), are the TCB's.
//
// Window growth counts bytes (RFC 3465, L = 2 SMSS in slow start) where
// Linux counts packets (tcp_slow_start, tcp_cong_avoid_ai: every ACKed
// packet counts, no L): bytes stay exact for short segments and stretch
// ACKs. The window grows only when validated (RFC 7661 §4.3).
type newReno struct {
	mss      uint32
	cwnd     uint32
	ssthresh uint32
	acked    uint32 // bytes acknowledged toward the next increase in CA
	l        uint32 // RFC 3465 L, in segments
	pacing   bool

	recovering bool // in a fast-recovery episode: PRR owns the window
	rto        bool // in an RTO episode: ssthresh is held (RFC 5681 §3.1)
	undo       undoState

	srtt     time.Duration
	inflight uint32
	pr       linuxPacing // PacingRate's
}

// undoState is what a congestion event saves for a later undo (RFC 4015
// §3.2, Linux's prior_cwnd and prior_ssthresh).
type undoState struct {
	cwnd, ssthresh uint32
	valid          bool
}

// NewReno returns a NewReno controller with the defaults of RenoConfig.
func NewReno(mss uint32) Controller { return NewRenoConfig(mss, RenoConfig{}) }

// NewRenoConfig returns a NewReno controller for a sender whose segments
// carry mss bytes, with the initial window of RFC 6928 and an "arbitrarily
// high" ssthresh (RFC 5681 §3.1).
func NewRenoConfig(mss uint32, cfg RenoConfig) Controller {
	mss = max(mss, 1)
	r := &newReno{mss: mss, cwnd: InitialWindow(mss), ssthresh: noSsthresh, l: cfg.L, pacing: !cfg.NoPacing}
	if r.l == 0 {
		r.l = 2
	}
	return r
}

func (r *newReno) Name() string            { return NameReno }
func (r *newReno) Cwnd() uint32            { return r.cwnd }
func (r *newReno) Ssthresh() uint32        { return r.ssthresh }
func (r *newReno) UsesPRR() bool           { return true }
func (r *newReno) SetSACK(bool)            {}
func (r *newReno) OnPacketLost(LostPacket) {}

func (r *newReno) Phase() string {
	switch {
	case r.recovering:
		return "recovery"
	case r.cwnd < r.ssthresh:
		return "slow_start"
	}
	return "congestion_avoidance"
}

func (r *newReno) SetMSS(mss uint32) {
	if mss == 0 || mss == r.mss {
		return
	}
	// Keep the windows' sizes in segments across an MSS change.
	r.cwnd = max(rescale(r.cwnd, r.mss, mss), mss)
	if r.ssthresh != noSsthresh {
		r.ssthresh = max(rescale(r.ssthresh, r.mss, mss), 2*mss)
	}
	r.mss = mss
}

func rescale(v, from, to uint32) uint32 {
	return clamp32(uint64(v) * uint64(to) / uint64(from))
}

func (r *newReno) PacingRate() uint64 {
	if !r.pacing {
		return 0
	}
	return r.pr.get(r.cwnd, r.ssthresh, r.inflight, r.srtt)
}

func (r *newReno) SendQuantum() uint32 { return sendQuantum(r.PacingRate(), r.mss) }

// OnAck grows the window: in slow start by the bytes acknowledged, at most
// L·SMSS per ACK (RFC 3465 §2.2), in congestion avoidance by one SMSS per
// cwnd of acknowledged bytes (RFC 5681 §3.1, RFC 3465 §2.1). Not during
// fast recovery (PRR's), and not while the window is not validated.
func (r *newReno) OnAck(rs *RateSample) {
	r.srtt, r.inflight = rs.SRTT, rs.Inflight
	if r.recovering || rs.NewlyAcked == 0 || rs.SACKOnly || !windowValidated(rs, r.cwnd) {
		return
	}
	if r.cwnd < r.ssthresh {
		r.cwnd = min(satAdd(r.cwnd, slowStartIncrease(rs.NewlyAcked, r.l, r.mss)), max(r.ssthresh, r.cwnd))
		return
	}
	r.acked += rs.NewlyAcked
	for r.acked >= r.cwnd {
		r.acked -= r.cwnd
		r.cwnd = satAdd(r.cwnd, r.mss)
	}
}

// windowValidated is RFC 7661 §4.3: the window may grow while the sender
// uses it (cwnd-limited in the last round trip), or while pipeACK, the data
// acknowledged over the last RTT, is at least half of it. Linux's
// tcp_is_cwnd_limited is the same test in slow start (cwnd < 2 ×
// max_packets_out) and only the first half in congestion avoidance.
func windowValidated(rs *RateSample, cwnd uint32) bool {
	return rs.IsCwndLimited || 2*rs.Delivered >= uint64(cwnd)
}

// slowStartIncrease is RFC 3465 §2.2: min(N, L·SMSS) for an ACK of N bytes.
// L of 0 means no limit.
func slowStartIncrease(acked, l, mss uint32) uint32 {
	if l == 0 {
		return acked
	}
	return min(acked, l*mss)
}

// OnCongestionEvent halves the window: RFC 5681 §3.2 step 2 (equation 4),
// ssthresh = max(FlightSize/2, 2·SMSS), cwnd = ssthresh; RFC 3168 §6.1.2
// for an ECN-Echo. PRR (RFC 6937) then walks the flight down to ssthresh;
// RFC 5681's inflation is not used.
func (r *newReno) OnCongestionEvent(ev CongestionEvent) {
	r.undo = undoState{cwnd: r.cwnd, ssthresh: r.ssthresh, valid: true}
	r.ssthresh = max(ev.Inflight/2, 2*r.mss)
	r.cwnd = r.ssthresh
	r.acked = 0
	r.recovering = true
}

// OnRecoveryExit sets cwnd to ssthresh: RFC 6582 §3.2 step 3 option 2, as
// PRR (RFC 6937) leaves it and as Linux does (tcp_end_cwnd_reduction).
func (r *newReno) OnRecoveryExit(now time.Duration) {
	if r.recovering {
		r.cwnd = r.ssthresh
	}
	r.recovering, r.rto = false, false
	r.acked = 0
}

// OnRTO collapses the window to the loss window of one segment: RFC 5681
// §3.1 equation 4 and the paragraph after it. A second timeout in the same
// episode holds ssthresh ("the value of ssthresh is held constant").
func (r *newReno) OnRTO(now time.Duration, inflight uint32) {
	if !r.rto {
		if !r.recovering {
			r.undo = undoState{cwnd: r.cwnd, ssthresh: r.ssthresh, valid: true}
		}
		r.ssthresh = max(inflight/2, 2*r.mss)
	}
	r.cwnd = r.mss
	r.acked = 0
	r.recovering, r.rto = false, true
}

// OnSpuriousCongestion restores the window saved at the congestion event
// (RFC 4015 §3.2: cwnd and ssthresh back, never lower than now; Linux's
// tcp_undo_cwnd_reduction).
func (r *newReno) OnSpuriousCongestion(now time.Duration) {
	if !r.undo.valid {
		return
	}
	r.cwnd = max(r.cwnd, r.undo.cwnd)
	if r.undo.ssthresh > r.ssthresh {
		r.ssthresh = r.undo.ssthresh
	}
	r.undo.valid = false
	r.recovering, r.rto = false, false
	r.acked = 0
}

// OnIdleRestart limits the window to the restart window after more than an
// RTO of idleness: RFC 5681 §4.1, RW = min(IW, cwnd).
//
// Linux deviation: tcp_cwnd_restart halves cwnd once per RTO idle, down to
// the restart window; we take the RFC's single step.
func (r *newReno) OnIdleRestart(now, idle, rto time.Duration) {
	if idle > rto {
		r.cwnd = min(r.cwnd, InitialWindow(r.mss))
	}
}
