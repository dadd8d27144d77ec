package cc

import (
	"math"
	"time"
)

// CUBIC constants: RFC 9438 §4.
const (
	cubicC    = 0.4 // §5: C SHOULD be 0.4 (segments/second³)
	cubicBeta = 0.7 // §4.6: β_cubic SHOULD be 0.7
	// cubicAlpha is §4.3's α_cubic = 3(1-β)/(1+β), Reno-equivalent AIMD.
	cubicAlpha = 3 * (1 - cubicBeta) / (1 + cubicBeta)
)

// CUBICConfig tunes CUBIC. The zero value is the default (RFC 9438's SHOULDs).
type CUBICConfig struct {
	// NoFastConvergence turns off fast convergence (RFC 9438 §4.7, which
	// says a single flow with no other traffic may do so).
	NoFastConvergence bool
	// NoHyStart starts with RFC 5681 slow start instead of HyStart++
	// (RFC 9406), which RFC 9438 §4.10 says CUBIC SHOULD use.
	NoHyStart bool
	// NoPacing turns off the pacing rate (Linux's internal pacing rates,
	// see LinuxPacingRate).
	NoPacing bool
	// L is the slow-start limit per ACK in segments (RFC 3465, RFC 9406
	// §4.3). Zero means RFC 9406's choice: no limit when pacing, 8 when
	// not.
	L uint32
}

// cubic is RFC 9438 with HyStart++ (RFC 9406) as its initial slow start.
// Windows are kept in bytes as float64 so that the cubic function and the
// Reno estimate keep their fractions; the formulas are the RFC's, in
// segments and seconds.
//
// Linux deviations, and where we follow the RFC instead: Linux computes
// ssthresh from cwnd (bictcp_recalc_ssthresh), RFC 9438 §4.6 from the
// FlightSize, which we use (growth is tied to use by RFC 7661); Linux counts
// packets, we count bytes; Linux runs the older HyStart (see hystart). Like
// Linux, the cubic increment is applied per segment acknowledged, not per
// ACK, so delayed ACKs do not halve it.
//
// The fields are in an order that leaves little padding: the struct fits
// the allocator's 256-byte size class, one per connection.
type cubic struct {
	mss      uint32
	inflight uint32  // the last ACK's (with srtt, below)
	w        float64 // cwnd in bytes
	ssthresh uint32
	l        uint32 // slow-start L, segments; 0 = none
	fastConv bool
	pacing   bool
	hs       hystart

	// RFC 9438 §4.1 variables, in bytes and seconds.
	cwndPrior float64
	wMax      float64
	k         float64
	tEpoch    time.Duration
	cwndEpoch float64
	wEst      float64
	pausedAt  time.Duration
	epoch     bool // a congestion-avoidance stage has begun: the above hold
	noWMax    bool // first CA after a timeout or a HyStart++ exit: K = 0 (§4.8, §4.10)
	paused    bool // app-limited since pausedAt: t stops (§5.8)

	recovering bool
	rto        bool
	undo       cubicUndo

	srtt time.Duration
	pr   linuxPacing // PacingRate's
}

// cubicUndo is RFC 9438 §4.9.2's saved state.
type cubicUndo struct {
	w, cwndPrior, wMax, k, cwndEpoch, wEst float64
	tEpoch                                 time.Duration
	ssthresh                               uint32
	epoch, noWMax, valid                   bool
}

// NewCUBIC returns a CUBIC controller for a sender whose segments carry mss
// bytes, with the initial window of RFC 6928 and HyStart++ unless cfg says
// otherwise.
func NewCUBIC(mss uint32, cfg CUBICConfig) Controller {
	mss = max(mss, 1)
	c := &cubic{mss: mss, w: float64(InitialWindow(mss)), ssthresh: noSsthresh,
		fastConv: !cfg.NoFastConvergence, pacing: !cfg.NoPacing, hs: newHyStart(), l: cfg.L}
	if c.l == 0 && !c.pacing {
		c.l = hsLNonPaced
	}
	if cfg.NoHyStart {
		c.hs.exit()
	}
	return c
}

func (c *cubic) Name() string            { return NameCUBIC }
func (c *cubic) Cwnd() uint32            { return clamp32(uint64(c.w)) }
func (c *cubic) Ssthresh() uint32        { return c.ssthresh }
func (c *cubic) UsesPRR() bool           { return true }
func (c *cubic) SetSACK(bool)            {}
func (c *cubic) OnPacketLost(LostPacket) {}

func (c *cubic) Phase() string {
	switch {
	case c.recovering:
		return "recovery"
	case c.Cwnd() >= c.ssthresh:
		return "congestion_avoidance"
	case c.hs.phase == hsPhaseCSS:
		return "css"
	}
	return "slow_start"
}

func (c *cubic) SetMSS(mss uint32) {
	if mss == 0 || mss == c.mss {
		return
	}
	f := float64(mss) / float64(c.mss)
	c.w = max(c.w*f, float64(mss))
	for _, v := range []*float64{&c.cwndPrior, &c.wMax, &c.cwndEpoch, &c.wEst} {
		*v *= f
	}
	if c.ssthresh != noSsthresh {
		c.ssthresh = max(rescale(c.ssthresh, c.mss, mss), 2*mss)
	}
	c.mss = mss
}

func (c *cubic) PacingRate() uint64 {
	if !c.pacing {
		return 0
	}
	return c.pr.get(c.Cwnd(), c.ssthresh, c.inflight, c.srtt)
}

func (c *cubic) SendQuantum() uint32 { return sendQuantum(c.PacingRate(), c.mss) }

// OnAck grows the window: slow start (HyStart++ the first time) below
// ssthresh, the cubic function above it (RFC 9438 §4.2–4.5). Not during
// fast recovery (PRR's) and not while the window is not validated (RFC 7661
// §4.3; RFC 9438 §5.8: t then stops).
func (c *cubic) OnAck(rs *RateSample) {
	c.srtt, c.inflight = rs.SRTT, rs.Inflight
	if c.recovering || rs.NewlyAcked == 0 || rs.SACKOnly {
		return
	}
	if !windowValidated(rs, c.Cwnd()) {
		if c.epoch && !c.paused {
			c.paused, c.pausedAt = true, rs.Now
		}
		return
	}
	if c.paused {
		c.paused = false
		c.tEpoch += rs.Now - c.pausedAt
	}
	if c.Cwnd() < c.ssthresh {
		c.slowStart(rs)
		return
	}
	c.congestionAvoidance(rs)
}

func (c *cubic) slowStart(rs *RateSample) {
	inc := float64(slowStartIncrease(rs.NewlyAcked, c.l, c.mss))
	switch c.hs.onAck(rs) {
	case hsGrowCSS:
		inc /= hsCSSGrowthDiv
	case hsEnterCA:
		// RFC 9406 §4.2: CSS_ROUNDS done, ssthresh = cwnd. RFC 9438
		// §4.10: cwnd_prior = cwnd, and the first CA stage has K = 0 and
		// W_max = cwnd_epoch.
		c.ssthresh = c.Cwnd()
		c.cwndPrior = c.w
		c.noWMax, c.epoch = true, false
		return
	}
	c.w = min(c.w+inc, max(float64(c.ssthresh), c.w))
}

// congestionAvoidance is RFC 9438 §4.2–4.5 for one ACK.
func (c *cubic) congestionAvoidance(rs *RateSample) {
	seg := float64(c.mss)
	if !c.epoch {
		// §4.2: a new congestion-avoidance stage begins.
		c.epoch = true
		c.tEpoch = rs.Now
		c.cwndEpoch = c.w
		c.wEst = c.w
		if c.noWMax || c.wMax <= c.w {
			// §4.8, §4.10: K = 0 and W_max = cwnd_epoch when there is
			// no W_max to return to.
			c.wMax, c.k = c.w, 0
		} else {
			c.k = math.Cbrt((c.wMax - c.cwndEpoch) / seg / cubicC)
		}
		c.noWMax = false
	}
	t := (rs.Now - c.tEpoch).Seconds()
	rtt := rs.SRTT.Seconds()
	acked := float64(rs.NewlyAcked) / seg // segments_acked
	cw := c.w / seg

	// §4.3: the Reno-friendly estimate, with α = 1 once W_est reaches
	// cwnd_prior.
	alpha := cubicAlpha
	if c.wEst >= c.cwndPrior {
		alpha = 1
	}
	c.wEst += alpha * acked / cw * seg

	wt := c.wCubic(t)
	if wt < c.wEst {
		c.w = max(c.w, c.wEst) // Reno-friendly region
		return
	}
	// §4.4, §4.5: concave or convex region, toward target = W_cubic(t+RTT)
	// bounded to [cwnd, 1.5·cwnd].
	target := min(max(c.wCubic(t+rtt), c.w), 1.5*c.w)
	c.w += (target - c.w) / cw * acked
}

// wCubic is RFC 9438 equation 1 in bytes: C·(t−K)³ + W_max.
func (c *cubic) wCubic(t float64) float64 {
	d := t - c.k
	return cubicC*d*d*d*float64(c.mss) + c.wMax
}

// OnCongestionEvent is RFC 9438 §4.6 (multiplicative decrease) with §4.7
// (fast convergence): W_max, cwnd_prior, ssthresh = FlightSize·β, cwnd.
func (c *cubic) OnCongestionEvent(ev CongestionEvent) {
	c.saveUndo()
	c.reduce(ev.Inflight)
	minCwnd := 2 * float64(c.mss)
	if ev.Rule == RuleECE {
		minCwnd = float64(c.mss) // §4.6: on ECE cwnd is at least 1 MSS
	}
	c.w = max(float64(c.ssthresh), minCwnd)
	c.recovering = true
}

// reduce sets W_max, cwnd_prior and ssthresh for a congestion event or a
// timeout, and ends slow start and the congestion-avoidance stage.
// ssthresh is RFC 9438 §4.6's FlightSize·β with FlightSize no more than
// cwnd, as Linux's bictcp_recalc_ssthresh takes cwnd: with SACK, FlightSize
// (SND.NXT − SND.UNA) also counts the data SACKed behind a hole, which after
// a lost retransmission grows well past cwnd, and an ssthresh from it
// stayed above the window that had overflowed the queue (after a slow
// start that overshot, every recovery overflowed it again). A FlightSize
// below cwnd still lowers ssthresh, as the RFC wants of an app-limited
// sender.
func (c *cubic) reduce(flight uint32) {
	if c.fastConv && c.w < c.wMax {
		c.wMax = c.w * (1 + cubicBeta) / 2
	} else {
		c.wMax = c.w
	}
	c.cwndPrior = c.w
	c.ssthresh = max(uint32(min(float64(flight), c.w)*cubicBeta), 2*c.mss)
	c.epoch, c.noWMax, c.paused = false, false, false
	c.hs.exit()
}

func (c *cubic) saveUndo() {
	c.undo = cubicUndo{w: c.w, cwndPrior: c.cwndPrior, wMax: c.wMax, k: c.k, cwndEpoch: c.cwndEpoch,
		wEst: c.wEst, ssthresh: c.ssthresh, tEpoch: c.tEpoch, epoch: c.epoch, noWMax: c.noWMax, valid: true}
}

// OnRecoveryExit sets cwnd to ssthresh, where PRR (RFC 6937) has led it.
func (c *cubic) OnRecoveryExit(now time.Duration) {
	if c.recovering {
		c.w = float64(c.ssthresh)
	}
	c.recovering, c.rto = false, false
}

// OnRTO is RFC 9438 §4.8: ssthresh as §4.6, cwnd one segment (RFC 5681
// §3.1), and the next congestion-avoidance stage starts with K = 0 and
// W_max = its cwnd. A second timeout in one episode holds ssthresh.
func (c *cubic) OnRTO(now time.Duration, inflight uint32) {
	if !c.rto {
		if !c.recovering {
			c.saveUndo()
		}
		c.reduce(inflight)
	}
	c.w = float64(c.mss)
	c.noWMax, c.epoch = true, false
	c.recovering, c.rto = false, true
}

// OnSpuriousCongestion is RFC 9438 §4.9.2: restore the saved variables if
// cwnd is still below cwnd_prior; otherwise keep the current ones.
func (c *cubic) OnSpuriousCongestion(now time.Duration) {
	u := c.undo
	if !u.valid {
		return
	}
	c.undo.valid = false
	c.recovering, c.rto = false, false
	if c.w >= c.cwndPrior {
		return
	}
	c.w, c.cwndPrior, c.wMax, c.k, c.cwndEpoch, c.wEst = u.w, u.cwndPrior, u.wMax, u.k, u.cwndEpoch, u.wEst
	c.ssthresh, c.tEpoch, c.epoch, c.noWMax = u.ssthresh, u.tEpoch, u.epoch, u.noWMax
}

// OnIdleRestart keeps idle time out of t (RFC 9438 §5.8; Linux shifts
// epoch_start on CA_EVENT_TX_START the same way) and, after more than an
// RTO, restarts from the restart window (RFC 5681 §4.1).
func (c *cubic) OnIdleRestart(now, idle, rto time.Duration) {
	if c.epoch && !c.paused {
		c.tEpoch += idle
	}
	if idle > rto {
		c.w = min(c.w, float64(InitialWindow(c.mss)))
	}
}
