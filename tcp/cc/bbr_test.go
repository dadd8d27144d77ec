package cc

import (
	"testing"
	"time"
)

// bbrDriver feeds BBR the rate samples of a clean path: every ACK delivers
// one segment at the path's rate, with its RTT, the flight at one BDP.
type bbrDriver struct {
	b         *bbr
	now       time.Duration
	delivered uint64
	lost      uint64
	bw        uint64 // bytes per second
	rtt       time.Duration
	inflight  uint32
}

func newBBRDriver(cfg BBRConfig) *bbrDriver {
	d := &bbrDriver{b: NewBBR(mss, cfg).(*bbr), bw: 12_500_000, rtt: 20 * time.Millisecond}
	d.b.SetSACK(true)
	d.inflight = uint32(d.bdp())
	return d
}

func (d *bbrDriver) bdp() uint64 { return d.bw * uint64(d.rtt) / uint64(time.Second) }

// round delivers one round trip of ACKs (a BDP of segments).
func (d *bbrDriver) round() {
	n := int(d.bdp() / mss)
	prior := d.delivered
	for range n {
		d.delivered += mss
		d.b.OnAck(&RateSample{Now: d.now, NewlyAcked: mss, RTT: d.rtt, SRTT: d.rtt,
			DeliveryRate: d.bw, Delivered: d.bdp(), Interval: d.rtt, PriorDelivered: prior,
			TxInFlight: d.inflight, Lost: 0, TotalDelivered: d.delivered, Inflight: d.inflight, IsCwndLimited: true})
		d.now += time.Duration(mss) * time.Second / time.Duration(d.bw) // ACKs at the path's rate
	}
}

// untilState runs rounds until BBR is in state s, at most limit rounds.
func (d *bbrDriver) untilState(t *testing.T, s bbrState, limit int) {
	t.Helper()
	for range limit {
		if d.b.state == s {
			return
		}
		d.round()
	}
	t.Fatalf("not in %v after %d rounds: %v", s, limit, d.b.state)
}

// draft-ietf-ccwg-bbr Appendix A.1 and A.3: Startup ends after three
// rounds without 25% growth, with max_bw the path's rate; Drain ends when
// the flight is down to the BDP; the gains are the §5.6.1 table's.
func TestBBRStartupDrainProbeBW(t *testing.T) {
	d := newBBRDriver(BBRConfig{})
	b := d.b
	if b.pacingGain != 2.77 || b.cwndGain != 2 || b.Phase() != "startup" {
		t.Fatalf("startup gains %.2f/%.2f", b.pacingGain, b.cwndGain)
	}
	// InitPacingRate: 2.77 · IW / 1 ms until an RTT, then / SRTT.
	if want := uint64(2.77 * float64(InitialWindow(mss)) * 1000); b.PacingRate() != want {
		t.Fatalf("initial pacing rate %d, want %d", b.PacingRate(), want)
	}
	d.round()
	d.round()
	d.round()
	if b.state != bbrStartup {
		t.Fatalf("left startup after 3 rounds at a flat rate: %v", b.state)
	}
	d.round()
	if b.state != bbrProbeBWDown && b.state != bbrProbeBWCruise || !b.fullBwReached {
		// Drain ends at once here: the flight already is one BDP.
		t.Fatalf("after the plateau: %v", b.state)
	}
	if b.maxBw != d.bw {
		t.Fatalf("max_bw %d, want %d", b.maxBw, d.bw)
	}
	if b.minRTT != d.rtt {
		t.Fatalf("min_rtt %v", b.minRTT)
	}
	// Cruise paces at 0.99 · bw with cwnd at 2 · BDP + extra_acked at most.
	d.untilState(t, bbrProbeBWCruise, 5)
	if b.PacingRate() != uint64(0.99*float64(d.bw)) {
		t.Fatalf("cruise pacing %d", b.PacingRate())
	}
	if q := b.SendQuantum(); q != uint32(b.PacingRate()/1000) {
		t.Fatalf("send quantum %d, want 1 ms of the pacing rate", q)
	}
}

// Appendix A.10: five seconds without a lower RTT sample → ProbeRTT with
// cwnd at half the BDP (at least 4 segments), for 200 ms and a round, then
// back to ProbeBW (CRUISE) with the window restored.
func TestBBRProbeRTT(t *testing.T) {
	d := newBBRDriver(BBRConfig{})
	b := d.b
	d.untilState(t, bbrProbeBWCruise, 10)
	cwnd := b.Cwnd()
	for b.state != bbrProbeRTT {
		d.round()
		if d.now > 6*time.Second {
			t.Fatal("no ProbeRTT after 6 s")
		}
	}
	if at := d.now; at < 5*time.Second {
		t.Fatalf("ProbeRTT at %v", at)
	}
	if b.cwndGain != 0.5 || b.Cwnd() != uint32(max(d.bdp()/2, 4*mss)) {
		t.Fatalf("ProbeRTT cwnd %d, want half the BDP %d", b.Cwnd(), d.bdp()/2)
	}
	entered := d.now
	d.inflight = b.Cwnd()
	for b.state == bbrProbeRTT {
		d.round()
	}
	if el := d.now - entered; el < 200*time.Millisecond || el > 260*time.Millisecond {
		t.Fatalf("ProbeRTT lasted %v", el)
	}
	if b.state != bbrProbeBWCruise || b.Cwnd() < cwnd {
		t.Fatalf("after ProbeRTT: %v, cwnd %d (was %d)", b.state, b.Cwnd(), cwnd)
	}
}

// Appendix A.11: a connection that restarts from idle after the ProbeRTT
// interval skips ProbeRTT; idleness drained the queue.
func TestBBRIdleSkipsProbeRTT(t *testing.T) {
	d := newBBRDriver(BBRConfig{})
	b := d.b
	d.untilState(t, bbrProbeBWCruise, 10)
	d.now += 6 * time.Second
	b.OnIdleRestart(d.now, 6*time.Second, time.Second)
	if b.PacingRate() != uint64(0.99*float64(b.bw)) {
		t.Fatalf("restart pacing %d, want bw", b.PacingRate())
	}
	d.round()
	d.round()
	if b.state == bbrProbeRTT {
		t.Fatal("entered ProbeRTT after an idle restart")
	}
}

// Appendix A.21 and A.18: loss above LossThresh in ProbeBW_UP lowers
// inflight_longterm (to at least β·target) and goes DOWN; when the loss
// proves spurious, the model comes back and BBR refills to probe again.
func TestBBRLossInProbeUpAndUndo(t *testing.T) {
	d := newBBRDriver(BBRConfig{})
	b := d.b
	d.untilState(t, bbrProbeBWUp, 200)
	if !b.isBwProbeSample {
		t.Fatal("UP without probe samples")
	}
	long := b.inflightLongterm
	b.OnCongestionEvent(CongestionEvent{Now: d.now, Rule: RuleRACK, Inflight: d.inflight})
	// 10 of the last 100 packets lost: 10% > 2%.
	tx := uint32(100 * mss)
	for i := range 10 {
		d.lost += mss
		b.OnPacketLost(LostPacket{Now: d.now, Size: mss, TxInFlight: tx, LostAtSend: d.lost - uint64(i+1)*mss,
			TotalLost: d.lost, TotalDelivered: d.delivered})
	}
	if b.state != bbrProbeBWDown || b.undoState != bbrProbeBWUp || !b.prevProbeTooHigh {
		t.Fatalf("after high loss in UP: %v (undo %v)", b.state, b.undoState)
	}
	if b.inflightLongterm >= long || b.inflightLongterm < uint64(0.7*float64(b.targetInflight())) {
		t.Fatalf("inflight_longterm %d (was %d, target %d)", b.inflightLongterm, long, b.targetInflight())
	}
	b.OnSpuriousCongestion(d.now)
	if b.state != bbrProbeBWRefill || b.inflightLongterm != long {
		t.Fatalf("after undo: %v inflight_longterm %d, want REFILL and %d", b.state, b.inflightLongterm, long)
	}
}

// §5.3.1.3 and Appendix A.2: in fast recovery, a round whose loss rate
// exceeds LossThresh across at least six loss events ends Startup, with
// undo_state Startup; undo returns to Startup (A.18 for Startup).
func TestBBRStartupHighLoss(t *testing.T) {
	d := newBBRDriver(BBRConfig{})
	b := d.b
	d.bw = 1_000_000 // a slow path: Startup is still growing
	d.round()
	b.OnCongestionEvent(CongestionEvent{Now: d.now, Rule: RuleSACK, Inflight: d.inflight})
	prior := d.delivered
	for i := range 7 {
		d.lost += mss
		d.delivered += mss
		b.OnAck(&RateSample{Now: d.now, NewlyAcked: mss, NewlyLost: mss, RTT: d.rtt, SRTT: d.rtt,
			DeliveryRate: d.bw, Delivered: 10 * mss, Interval: d.rtt, PriorDelivered: prior,
			TxInFlight: 20 * mss, Lost: uint64(i+1) * mss, TotalDelivered: d.delivered, Inflight: d.inflight})
	}
	if b.state != bbrStartup {
		t.Fatalf("left Startup within the round: %v", b.state)
	}
	d.delivered += mss
	b.OnAck(&RateSample{Now: d.now, NewlyAcked: mss, RTT: d.rtt, SRTT: d.rtt, DeliveryRate: d.bw,
		PriorDelivered: d.delivered - mss, TxInFlight: 20 * mss, Lost: 7 * mss, TotalDelivered: d.delivered, Inflight: d.inflight})
	if b.state != bbrDrain || !b.fullBwReached || b.undoState != bbrStartup {
		t.Fatalf("after a lossy round in recovery: %v full_bw_reached %v", b.state, b.fullBwReached)
	}
	b.OnSpuriousCongestion(d.now)
	if b.state != bbrStartup || b.fullBwReached {
		t.Fatalf("undo: %v", b.state)
	}
}

// An RTO leaves one segment of window; recovery exit restores the last
// good one (§5.6.4.4).
func TestBBRTimeout(t *testing.T) {
	d := newBBRDriver(BBRConfig{})
	b := d.b
	d.untilState(t, bbrProbeBWCruise, 10)
	w := b.Cwnd()
	b.OnRTO(d.now, d.inflight)
	if b.Cwnd() != mss || b.UsesPRR() {
		t.Fatalf("RTO: cwnd %d", b.Cwnd())
	}
	b.OnRecoveryExit(d.now)
	if b.Cwnd() != w {
		t.Fatalf("recovery exit: cwnd %d, want %d", b.Cwnd(), w)
	}
}

// The windowed max filter keeps the best sample of the window and falls
// back to later ones as it ages out.
func TestMaxFilter(t *testing.T) {
	var m maxFilter
	m.reset(0, 0)
	for tm, v := range []uint64{5, 3, 9, 4, 4, 2, 1, 1, 1, 1, 1, 1, 1} {
		got := m.update(4, uint64(tm), v)
		var want uint64
		for j := max(0, tm-4); j <= tm; j++ {
			want = max(want, []uint64{5, 3, 9, 4, 4, 2, 1, 1, 1, 1, 1, 1, 1}[j])
		}
		if got < want || (tm >= 11 && got != 1) {
			t.Errorf("t=%d: max %d, window max %d", tm, got, want)
		}
	}
}

// ACKs held back 2 ms and released together (a late link or receiver):
// a packet sent right after the first of the burst takes that late ACK as
// its P.delivered_time, and 20 ms later its plain sample overstates the
// path by the 2 ms. The A0 point, the on-time ACK before the burst's
// aggregation epoch, measures the true rate (bbr_a0.go): max_bw stays the
// path's.
func TestBBRA0LateACKBurst(t *testing.T) {
	d := newBBRDriver(BBRConfig{})
	b := d.b
	d.untilState(t, bbrProbeBWCruise, 10)
	if b.maxBw != d.bw {
		t.Fatalf("max_bw %d before the burst", b.maxBw)
	}
	gap := time.Duration(mss) * time.Second / time.Duration(d.bw)
	ack := func(now time.Duration, rate uint64, prior uint64, interval time.Duration) {
		d.delivered += mss
		b.OnAck(&RateSample{Now: now, NewlyAcked: mss, RTT: d.rtt, SRTT: d.rtt,
			DeliveryRate: rate, Delivered: d.delivered - prior, Interval: interval, PriorDelivered: prior,
			TxInFlight: d.inflight, TotalDelivered: d.delivered, Inflight: d.inflight, IsCwndLimited: true})
	}
	prior := d.delivered - d.bdp()
	// 2 ms of ACKs (17) come late, together.
	held := 2 * time.Millisecond
	d.now += held
	burst := d.now
	ack(d.now, d.bw, prior, d.rtt)
	pDelivered, pTime := d.delivered, d.now // P is sent now
	for range int(held/gap) - 1 {
		ack(d.now, d.bw, prior, d.rtt)
	}
	// On time again until P's ACK, 20 ms after it was sent.
	for d.now+gap < burst+d.rtt {
		d.now += gap
		ack(d.now, d.bw, prior, d.rtt)
	}
	d.now = burst + d.rtt
	interval := d.now - pTime
	plain := (d.delivered + mss - pDelivered) * uint64(time.Second) / uint64(interval)
	if plain < d.bw*105/100 {
		t.Fatalf("the plain sample %d B/s is not inflated (path %d)", plain, d.bw)
	}
	ack(d.now, plain, pDelivered, interval)
	if b.maxBw > d.bw*101/100 {
		t.Fatalf("max_bw %d B/s after a sample of %d over %v: the path is %d", b.maxBw, plain, interval, d.bw)
	}
}

// BBRConfig.QueueBoundedProbe: ProbeBW_UP ends once it has lasted a round
// and the flight is at 1.25 BDPs (Linux's BBRv1, QUICHE's BBRv2), where the
// draft's goes on until three rounds show no growth. (That UP goes on while
// the path delivers more is TestSimBBRFindsBandwidth's: this driver's
// samples do not ramp as a real probe's do.)
func TestBBRQueueBoundedProbe(t *testing.T) {
	tolerant := BBRConfig{LossThresh: 0.2, LossTolerant: true}
	bounded := tolerant
	bounded.QueueBoundedProbe = true
	for _, c := range []struct {
		cfg   BBRConfig
		after bbrState // after a round of UP with 1.3 BDPs in flight
	}{{bounded, bbrProbeBWDown}, {tolerant, bbrProbeBWUp}} {
		d := newBBRDriver(c.cfg)
		b := d.b
		d.untilState(t, bbrProbeBWRefill, 200)
		d.inflight = uint32(1.3 * float64(d.bdp()))
		d.round() // UP from its first ACK
		if b.state != bbrProbeBWUp {
			t.Fatalf("%+v: %v, not UP within its first round", c.cfg, b.state)
		}
		d.round()
		if b.state != c.after {
			t.Errorf("%+v: %v after a round of UP at 1.3 BDPs in flight, want %v", c.cfg, b.state, c.after)
		}
	}
}
