package cc

import (
	"math"
	"testing"
	"time"
)

// driver feeds a controller packet-timed rounds of ACKs of one segment
// each, every ACK carrying an RTT sample, as a cwnd-limited sender sees them.
type driver struct {
	c         Controller
	now       time.Duration
	delivered uint64
}

// round acknowledges n segments spread over one RTT; the first ACK ends
// the previous round (its packet was sent after that round began).
func (d *driver) round(n int, rtt time.Duration) {
	prior := d.delivered
	for range n {
		d.delivered += mss
		d.c.OnAck(&RateSample{Now: d.now, NewlyAcked: mss, RTT: rtt, SRTT: rtt,
			PriorDelivered: prior, TotalDelivered: d.delivered, IsCwndLimited: true})
		d.now += rtt / time.Duration(n)
	}
}

// windowRound acknowledges one congestion window's worth of segments.
func (d *driver) windowRound(rtt time.Duration) {
	d.round(int(max(d.c.Cwnd()/mss, 1)), rtt)
}

func newCubic(cfg CUBICConfig) *cubic { return NewCUBIC(mss, cfg).(*cubic) }

func near(got, want, tol float64) bool { return math.Abs(got-want) <= tol*math.Abs(want) }

// RFC 9438 §4.6: ssthresh = FlightSize·β (β = 0.7), cwnd = max(ssthresh,
// 2 SMSS) on loss, at least 1 SMSS on ECE; ssthresh at least 2 SMSS. A
// FlightSize above cwnd (data SACKed behind a hole) counts as cwnd, as
// Linux computes ssthresh from cwnd; one below it (app-limited) counts.
func TestCubicMultiplicativeDecrease(t *testing.T) {
	for _, tc := range []struct{ cwnd, flight, want uint32 }{
		{100, 100, 70},
		{100, 150, 70},
		{100, 40, 28},
	} {
		c := newCubic(CUBICConfig{})
		c.w = float64(tc.cwnd * mss)
		c.OnCongestionEvent(CongestionEvent{Rule: RuleDupAcks, Inflight: tc.flight * mss})
		if c.Ssthresh() != tc.want*mss || c.Cwnd() != tc.want*mss || c.Phase() != "recovery" {
			t.Fatalf("cwnd %d, flight %d: cwnd %d ssthresh %d %s, want %d segments",
				tc.cwnd, tc.flight, c.Cwnd()/mss, c.Ssthresh()/mss, c.Phase(), tc.want)
		}
	}
	c := newCubic(CUBICConfig{})
	c.OnCongestionEvent(CongestionEvent{Rule: RuleRACK, Inflight: mss})
	if c.Ssthresh() != 2*mss || c.Cwnd() != 2*mss {
		t.Fatalf("loss floor: cwnd %d ssthresh %d", c.Cwnd(), c.Ssthresh())
	}
}

// RFC 9438 equations 1 and 2, numerically: W_max = 100 segments, cwnd_epoch
// = 70, so K = ∛((100−70)/0.4) = ∛75 ≈ 4.2172 s; W_cubic(0) = 70,
// W_cubic(K) = 100, W_cubic(K+1) = 100.4; and a cwnd-limited sender's window
// follows W_cubic(t) (RTT 100 ms, where the Reno estimate stays below).
func TestCubicWindowFormula(t *testing.T) {
	c := newCubic(CUBICConfig{NoHyStart: true})
	c.w = 100 * mss
	c.OnCongestionEvent(CongestionEvent{Rule: RuleDupAcks, Inflight: 100 * mss})
	c.OnRecoveryExit(0)
	d := driver{c: c, now: time.Second}
	rtt := 100 * time.Millisecond
	d.round(1, rtt) // starts the congestion-avoidance stage (t_epoch)
	if !near(c.k, math.Cbrt(75), 1e-9) || c.wMax != 100*mss || c.cwndEpoch != 70*mss {
		t.Fatalf("K %.6f W_max %.1f cwnd_epoch %.1f", c.k, c.wMax/mss, c.cwndEpoch/mss)
	}
	for _, tc := range []struct{ t, w float64 }{{0, 70}, {c.k, 100}, {c.k + 1, 100.4}, {c.k - 1, 99.6}} {
		if got := c.wCubic(tc.t) / mss; !near(got, tc.w, 1e-9) {
			t.Errorf("W_cubic(%.3f) = %.4f, want %.4f", tc.t, got, tc.w)
		}
	}
	epoch := c.tEpoch
	for _, at := range []float64{1, 2, 3, 4.2172, 5} {
		for (d.now - epoch).Seconds() < at {
			d.windowRound(rtt)
		}
		el := (d.now - epoch).Seconds()
		want := c.wCubic(el) / mss
		if got := float64(c.Cwnd()) / mss; !near(got, want, 0.02) {
			t.Errorf("t = %.2f s: cwnd %.1f segments, W_cubic(t) = %.1f", el, got, want)
		}
		if c.wEst >= c.w {
			t.Errorf("t = %.2f: in the Reno-friendly region (W_est %.1f)", el, c.wEst/mss)
		}
	}
}

// RFC 9438 §4.3: on a short RTT the Reno estimate overtakes W_cubic and
// sets the window; α_cubic = 3(1−β)/(1+β) until W_est reaches cwnd_prior,
// then 1.
func TestCubicRenoFriendlyRegion(t *testing.T) {
	c := newCubic(CUBICConfig{NoHyStart: true})
	c.w = 20 * mss
	c.OnCongestionEvent(CongestionEvent{Rule: RuleDupAcks, Inflight: 20 * mss}) // cwnd 14, prior 20
	c.OnRecoveryExit(0)
	d := driver{c: c}
	rtt := 5 * time.Millisecond
	d.windowRound(rtt)
	w0 := c.wEst
	d.windowRound(rtt) // one window of ACKs: W_est grows by α segments
	if got := (c.wEst - w0) / mss; !near(got, cubicAlpha, 0.08) {
		t.Fatalf("W_est grew %.3f segments in a round, want α = %.3f", got, cubicAlpha)
	}
	if c.w != c.wEst || c.wCubic((d.now-c.tEpoch).Seconds()) >= c.wEst {
		t.Fatalf("not in the Reno-friendly region: cwnd %.2f W_est %.2f", c.w/mss, c.wEst/mss)
	}
	for c.wEst < c.cwndPrior {
		d.windowRound(rtt)
	}
	w0 = c.wEst
	d.windowRound(rtt)
	if got := (c.wEst - w0) / mss; !near(got, 1, 0.05) {
		t.Fatalf("past cwnd_prior W_est grew %.3f segments a round, want 1", got)
	}
}

// RFC 9438 §4.7: a congestion event below W_max lowers W_max to
// cwnd·(1+β)/2; without fast convergence W_max = cwnd.
func TestCubicFastConvergence(t *testing.T) {
	for _, fc := range []bool{true, false} {
		c := newCubic(CUBICConfig{NoFastConvergence: !fc})
		c.w = 100 * mss
		c.OnCongestionEvent(CongestionEvent{Rule: RuleDupAcks, Inflight: 100 * mss})
		c.OnRecoveryExit(0)
		if c.wMax != 100*mss {
			t.Fatalf("W_max %.1f", c.wMax/mss)
		}
		c.w = 80 * mss
		c.OnCongestionEvent(CongestionEvent{Rule: RuleDupAcks, Inflight: 80 * mss})
		want := 80.0
		if fc {
			want = 80 * (1 + cubicBeta) / 2 // 68
		}
		if got := c.wMax / mss; !near(got, want, 1e-9) {
			t.Errorf("fast convergence %v: W_max %.2f, want %.2f", fc, got, want)
		}
	}
}

// RFC 9438 §4.8: a timeout sets ssthresh as §4.6 and cwnd to one segment;
// the first CA stage after it has K = 0 and W_max = cwnd_epoch.
func TestCubicTimeout(t *testing.T) {
	c := newCubic(CUBICConfig{})
	c.w = 100 * mss
	c.OnRTO(0, 100*mss)
	if c.Cwnd() != mss || c.Ssthresh() != 70*mss {
		t.Fatalf("RTO: cwnd %d ssthresh %d", c.Cwnd()/mss, c.Ssthresh()/mss)
	}
	d := driver{c: c}
	for c.Cwnd() < c.Ssthresh() {
		d.windowRound(10 * time.Millisecond)
	}
	d.round(1, 10*time.Millisecond)
	if c.k != 0 || c.wMax != c.cwndEpoch {
		t.Fatalf("after RTO: K %.3f W_max %.1f cwnd_epoch %.1f", c.k, c.wMax/mss, c.cwndEpoch/mss)
	}
	if c.hs.phase != hsPhaseDone {
		t.Fatal("HyStart++ ran again after a timeout")
	}
}

// RFC 9438 §4.9.2: a spurious loss restores the saved state while cwnd is
// below cwnd_prior.
func TestCubicUndo(t *testing.T) {
	c := newCubic(CUBICConfig{NoHyStart: true})
	c.w = 100 * mss
	c.OnCongestionEvent(CongestionEvent{Rule: RuleDupAcks, Inflight: 100 * mss})
	c.OnRecoveryExit(0)
	d := driver{c: c, now: time.Second}
	for range 10 {
		d.windowRound(50 * time.Millisecond)
	}
	w, ss, wmax, k := c.w, c.ssthresh, c.wMax, c.k
	c.OnCongestionEvent(CongestionEvent{Rule: RuleRACK, Inflight: c.Cwnd()})
	c.OnSpuriousCongestion(d.now)
	if c.w != w || c.ssthresh != ss || c.wMax != wmax || c.k != k || c.recovering {
		t.Fatalf("undo: cwnd %.1f/%.1f ssthresh %d/%d W_max %.1f/%.1f", c.w/mss, w/mss, c.ssthresh/mss, ss/mss, c.wMax/mss, wmax/mss)
	}
}

// RFC 9438 §5.8: t excludes application-limited periods, so the window
// does not leap after a pause.
func TestCubicAppLimitedFreezesTime(t *testing.T) {
	c := newCubic(CUBICConfig{NoHyStart: true})
	c.w = 100 * mss
	c.OnCongestionEvent(CongestionEvent{Rule: RuleDupAcks, Inflight: 100 * mss})
	c.OnRecoveryExit(0)
	d := driver{c: c, now: time.Second}
	d.windowRound(100 * time.Millisecond)
	epoch := c.tEpoch
	w := c.Cwnd()
	// Ten seconds of ACKs from a sender that uses a tenth of the window.
	for range 100 {
		d.now += 100 * time.Millisecond
		c.OnAck(&RateSample{Now: d.now, NewlyAcked: mss, Delivered: 7 * mss, SRTT: 100 * time.Millisecond})
	}
	if c.Cwnd() != w {
		t.Fatalf("grew while application-limited: %d → %d", w/mss, c.Cwnd()/mss)
	}
	d.windowRound(100 * time.Millisecond)
	if shift := c.tEpoch - epoch; shift < 9*time.Second {
		t.Fatalf("t_epoch moved %v over a 10 s app-limited period", shift)
	}
	c.OnIdleRestart(d.now, 3*time.Second, time.Second)
	if c.Cwnd() != InitialWindow(mss) {
		t.Fatalf("idle restart: cwnd %d", c.Cwnd()/mss)
	}
}

// RFC 9406 §4.2, slow start: with pacing (L infinite) a window of ACKs
// doubles the window, and rounds without an RTT rise stay in slow start.
func TestHyStartSlowStartDoubles(t *testing.T) {
	c := newCubic(CUBICConfig{})
	d := driver{c: c}
	for r := range 4 {
		w := c.Cwnd()
		d.windowRound(50 * time.Millisecond)
		if c.Cwnd() != 2*w || c.Phase() != "slow_start" {
			t.Fatalf("round %d: cwnd %d → %d (%s)", r, w/mss, c.Cwnd()/mss, c.Phase())
		}
	}
	if c.hs.rounds != 4 {
		t.Fatalf("counted %d rounds, want 4", c.hs.rounds)
	}
}

// RFC 9406 §4.2: a round whose minimum RTT (≥ N_RTT_SAMPLE samples) is at
// least lastRoundMinRTT + RttThresh enters CSS, where growth is a quarter;
// RttThresh = max(4 ms, min(lastRoundMinRTT/8, 16 ms)).
func TestHyStartEntersCSS(t *testing.T) {
	for _, tc := range []struct {
		base, thresh time.Duration
	}{
		{100 * time.Millisecond, 12500 * time.Microsecond}, // 100/8
		{20 * time.Millisecond, 4 * time.Millisecond},      // floor
		{400 * time.Millisecond, 16 * time.Millisecond},    // ceiling
	} {
		c := newCubic(CUBICConfig{})
		d := driver{c: c}
		d.round(10, tc.base)
		d.round(10, tc.base+tc.thresh-time.Microsecond)
		if c.Phase() != "slow_start" {
			t.Fatalf("base %v: left slow start below RttThresh", tc.base)
		}
		d.round(10, tc.base) // back to the base: lastRoundMinRTT = base
		// Seven samples are not enough, the eighth is.
		prior := d.delivered
		for i := range 8 {
			w := c.Cwnd()
			d.delivered += mss
			c.OnAck(&RateSample{Now: d.now, NewlyAcked: 4 * mss, RTT: tc.base + tc.thresh, SRTT: tc.base,
				PriorDelivered: prior, TotalDelivered: d.delivered, IsCwndLimited: true})
			if i < 7 && (c.Phase() != "slow_start" || c.Cwnd() != w+4*mss) {
				t.Fatalf("base %v: sample %d: %s, grew %d", tc.base, i+1, c.Phase(), c.Cwnd()-w)
			}
			if i == 7 && (c.Phase() != "css" || c.Cwnd() != w+mss) {
				t.Fatalf("base %v: 8th sample: %s, grew %d bytes, want a quarter of %d", tc.base, c.Phase(), c.Cwnd()-w, 4*mss)
			}
		}
		if c.hs.cssBaseline != tc.base+tc.thresh {
			t.Fatalf("cssBaselineMinRtt %v", c.hs.cssBaseline)
		}
	}
}

// enterCSS drives a fresh CUBIC into CSS with a 100 ms base RTT.
func enterCSS(t *testing.T) (*cubic, *driver) {
	c := newCubic(CUBICConfig{})
	d := &driver{c: c}
	d.round(10, 100*time.Millisecond)
	d.round(10, 120*time.Millisecond)
	if c.Phase() != "css" {
		t.Fatalf("did not enter CSS: %s", c.Phase())
	}
	return c, d
}

// RFC 9406 §4.2: CSS lasts CSS_ROUNDS (5) rounds, the one it began in
// counting as the first, then ssthresh = cwnd and congestion avoidance;
// CUBIC starts it with K = 0 and W_max = cwnd (RFC 9438 §4.10).
func TestHyStartCSSRounds(t *testing.T) {
	c, d := enterCSS(t)
	for r := 2; r <= 5; r++ {
		w := c.Cwnd()
		d.round(8, 120*time.Millisecond)
		if c.Phase() != "css" || c.Cwnd() != w+8*mss/4 {
			t.Fatalf("CSS round %d: %s, cwnd %d → %d", r, c.Phase(), w, c.Cwnd())
		}
	}
	w := c.Cwnd()
	d.round(8, 120*time.Millisecond)
	if c.Phase() != "congestion_avoidance" || c.Ssthresh() != w {
		t.Fatalf("after 5 CSS rounds: %s, ssthresh %d, cwnd %d (was %d)", c.Phase(), c.Ssthresh(), c.Cwnd(), w)
	}
	if c.k != 0 || c.wMax != c.cwndEpoch || c.cwndPrior != float64(w) {
		t.Fatalf("first CA stage: K %.3f W_max %.0f cwnd_epoch %.0f cwnd_prior %.0f", c.k, c.wMax, c.cwndEpoch, c.cwndPrior)
	}
}

// RFC 9406 §4.2: in CSS, a round whose minimum RTT falls below
// cssBaselineMinRtt (after N_RTT_SAMPLE samples) means the rise was
// spurious: back to slow start.
func TestHyStartSpuriousCSS(t *testing.T) {
	c, d := enterCSS(t)
	d.round(7, 100*time.Millisecond)
	if c.Phase() != "css" {
		t.Fatal("left CSS with fewer than N_RTT_SAMPLE samples")
	}
	d.round(8, 100*time.Millisecond)
	if c.Phase() != "slow_start" || c.hs.cssBaseline != noRTT {
		t.Fatalf("spurious CSS: %s", c.Phase())
	}
	w := c.Cwnd()
	d.round(4, 100*time.Millisecond)
	if c.Cwnd() != w+4*mss {
		t.Fatalf("not growing at the slow-start rate again: %d", c.Cwnd()-w)
	}
}

// RFC 9406 §4.2: a loss in CSS ends slow start for good.
func TestHyStartLossEndsSlowStart(t *testing.T) {
	c, d := enterCSS(t)
	w := c.Cwnd()
	c.OnCongestionEvent(CongestionEvent{Rule: RuleRACK, Inflight: w})
	c.OnRecoveryExit(d.now)
	if c.hs.phase != hsPhaseDone || c.Ssthresh() != uint32(float64(w)*cubicBeta) {
		t.Fatalf("loss in CSS: phase %d ssthresh %d", c.hs.phase, c.Ssthresh())
	}
}

// Without pacing HyStart++ limits slow start to L = 8 segments per ACK.
func TestHyStartLimitWithoutPacing(t *testing.T) {
	c := newCubic(CUBICConfig{NoPacing: true})
	w := c.Cwnd()
	c.OnAck(ack(0, 20*mss))
	if c.Cwnd() != w+8*mss {
		t.Fatalf("stretch ACK: grew %d segments, want 8", (c.Cwnd()-w)/mss)
	}
	c = newCubic(CUBICConfig{})
	c.OnAck(ack(0, 20*mss))
	if c.Cwnd() != w+20*mss {
		t.Fatalf("paced: grew %d segments, want 20", (c.Cwnd()-w)/mss)
	}
}
