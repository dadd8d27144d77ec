package cc

import (
	"math"
	"time"
)

// BBR's constants: draft-ietf-ccwg-bbr (BBRv3) §2.5–§2.16.
const (
	bbrStartupPacingGain = 2.77 // §2.5: 4·ln 2, the rate doubles each round
	bbrDrainPacingGain   = 0.5  // §2.5
	bbrDefaultCwndGain   = 2.0  // §2.6
	bbrProbeUpCwndGain   = 2.25 // §5.3.3.5
	bbrProbeDownGain     = 0.90 // §5.3.3.1
	bbrProbeUpGain       = 1.25 // §5.3.3.5
	bbrPacingMargin      = 0.99 // §2.5: BBR.PacingMarginPercent = 1
	bbrLossThresh        = 0.02 // §2.8
	bbrBeta              = 0.7  // §2.8
	bbrHeadroom          = 0.15 // §2.8
	bbrFullBwThresh      = 1.25 // §5.3.1.2: growth below 25% is a plateau
	bbrFullBwCount       = 3    // §5.3.1.2: three rounds of it
	bbrStartupFullLoss   = 6    // §5.3.1.3: BBRStartupFullLossCnt
	bbrMaxBwFilterLen    = 2    // §2.11: ProbeBW cycles
	bbrExtraAckedLen     = 10   // §2.12: rounds
	bbrProbeRTTCwndGain  = 0.5  // §2.16.2
	bbrProbeRTTDuration  = 200 * time.Millisecond
	bbrProbeRTTInterval  = 5 * time.Second
	bbrMinRTTFilterLen   = 10 * time.Second
	bbrProbeMaxRounds    = 63 // §5.3.3.8.2: T_reno bound
	bbrMaxProbeUpRounds  = 30 // §5.3.3.9 RaiseInflightLongtermSlope
	bbrInf               = math.MaxUint64
)

// bbrState is the state of draft-ietf-ccwg-bbr §5.1.1.
type bbrState uint8

const (
	bbrNone bbrState = iota // no undo state
	bbrStartup
	bbrDrain
	bbrProbeBWDown
	bbrProbeBWCruise
	bbrProbeBWRefill
	bbrProbeBWUp
	bbrProbeRTT
)

var bbrStateNames = [...]string{"none", "startup", "drain", "probe_bw_down", "probe_bw_cruise",
	"probe_bw_refill", "probe_bw_up", "probe_rtt"}

func (s bbrState) String() string { return bbrStateNames[s] }

// ackPhase is BBR.ack_phase (§2.14).
type ackPhase uint8

const (
	acksInit ackPhase = iota
	acksRefilling
	acksProbeStarting
	acksProbeFeedback
	acksProbeStopping
)

// BBRConfig tunes BBR. The zero value is draft-ietf-ccwg-bbr's BBRv3,
// with one addition whatever the configuration: a delivery-rate sample is
// also measured from the ACK before the current ACK aggregation epoch, the
// A0 point of QUIC's BBR (bbr_a0.go), so that ACKs arriving late and in
// bursts do not inflate max_bw.
type BBRConfig struct {
	// LossThresh is BBR.LossThresh (§2.8): the fraction of the data in
	// flight that may be lost in a round trip before BBR takes the loss as
	// a sign that it sent too much (§5.5.10.2), and before Startup ends on
	// loss (§5.3.1.3). Zero means 0.02, the draft's. BBRv3 therefore backs
	// off on random loss above 2%; Linux's BBRv1 ignores random loss.
	LossThresh float64
	// LossTolerant keeps no short-term model: loss outside bandwidth
	// probing never lowers bw_shortterm and inflight_shortterm (§5.5.10.3),
	// as BBRv1 ignores it. Loss still ends Startup and a bandwidth probe,
	// and sets the long-term bound inflight_longterm (§5.5.10.2), when a
	// round's loss rate passes LossThresh. This is not in the draft. On a
	// path with random loss the draft's model sinks: every round has loss,
	// and a round that overflowed the queue (at the end of Startup or of a
	// probe) measures a low delivery rate, which the short-term model then
	// keeps until the next probe, seconds later. With LossThresh 0.2 it
	// keeps the link full at 0–3% random loss on a 20 ms, 200 Mbit/s path
	// with a one-BDP queue, where the draft's falls to 8% at 3% (see
	// tcp/ccsim_test.go and synack's BenchmarkLossyPath).
	LossTolerant bool
	// QueueBoundedProbe ends ProbeBW_UP once it has lasted a round trip
	// and the data in flight has reached the probe's own target: 1.25
	// BDPs plus the quantization budget (§5.6.4.2 Inflight(1.25)) plus
	// the ACK aggregation allowance extra_acked (§5.5.9). The queue the
	// probe set out to build is then there, and the round has shown
	// whether the path delivers more. Linux's BBRv1 does so (tcp_bbr.c
	// bbr_is_next_cycle_phase: the 1.25 phase ends after min_rtt once
	// inflight reaches bbr_inflight(bw, 1.25), or on loss), and so does
	// QUICHE's BBRv2 (Bbr2ProbeBwMode::UpdateProbeUp, "is_queuing": a
	// round in the phase and 1.25·BDP + 2·MSS in flight, plus the max ACK
	// height with add_ack_height_to_queueing_threshold). Not in the
	// draft, where UP lasts until the bandwidth plateaus (three rounds
	// without 25% growth, §5.3.1.2) or a round's loss passes LossThresh:
	// with LossThresh 0.2 the loss rarely does, inflight_longterm stays
	// unbounded, and three rounds at pacing gain 1.25 queue about a BDP,
	// which overflows a one-BDP queue at the end of every probe. While the
	// path delivers more, the probe's samples raise max_bw and the target
	// with it, and UP goes on; without the aggregation allowance, ACKs
	// that arrive in bursts held the flight above the target from the
	// round's first ACK, before those samples came.
	QueueBoundedProbe bool
	// Seed seeds the randomized wait between bandwidth probes (§5.3.3.8).
	// The TCB may pass anything per connection (its ISN); zero is a valid
	// seed.
	Seed uint64
}

// bbr is draft-ietf-ccwg-bbr (BBRv3). Names follow the draft's pseudocode
// (BBR.x becomes b.x, C.x the connection's values as the last event told
// them); section numbers are the draft's (-06).
type bbr struct {
	cfg        BBRConfig
	lossThresh float64
	rng        uint64
	started    bool

	// Connection state (C.), as events report it.
	mss           uint32
	sack          bool
	cwnd          uint32
	initialCwnd   uint32
	pacingRate    uint64
	sendQuantum   uint32
	inflight      uint32
	delivered     uint64
	isCwndLimited bool
	inRecovery    bool
	srttSeen      bool
	now           time.Duration

	// General state, §2.7.
	state              bbrState
	pacingGain         float64
	cwndGain           float64
	roundCount         uint64
	roundStart         bool
	nextRoundDelivered uint64
	idleRestart        bool
	drainStartRound    uint64

	// Model, §2.9–§2.12.
	maxBwFilter             [bbrMaxBwFilterLen]uint64 // this and the last ProbeBW cycle
	maxBw                   uint64
	bwShortterm             uint64
	bw                      uint64
	minRTT                  time.Duration
	minRTTStamp             time.Duration
	bdp                     uint64
	extraAcked              uint64
	extraAckedFilter        maxFilter
	extraAckedIntervalStart time.Duration
	extraAckedDelivered     uint64
	a0                      ackPoints // bbr_a0.go
	maxInflight             uint64
	inflightLongterm        uint64
	inflightShortterm       uint64

	// Congestion signals, §2.10 and §5.5.10.
	bwLatest           uint64
	inflightLatest     uint64
	lossRoundDelivered uint64
	lossRoundStart     bool
	isLossInRound      bool
	lossEventsInRound  int // ACKs that marked losses this round (§5.3.1.3)

	// Startup, §2.13.
	fullBwReached bool
	fullBwNow     bool
	fullBw        uint64
	fullBwCount   int

	// ProbeBW, §2.14.
	ackPhase               ackPhase
	isBwProbeSample        bool
	bwProbeUpAcked         uint64
	probeUpAckedPerInc     uint64
	bwProbeUpRounds        uint
	probeUpStartRound      uint64 // round_count when ProbeBW_UP began
	roundsSinceProbeUp     uint64
	bwProbeWait            time.Duration
	cycleStamp             time.Duration
	prevProbeTooHigh       bool
	prevProbePrecautionary bool

	// Undo, §2.15.
	undoState             bbrState
	undoBwShortterm       uint64
	undoInflightShortterm uint64
	undoInflightLongterm  uint64
	priorCwnd             uint32
	episodeSaved          bool // the undo state of this loss episode is saved

	// ProbeRTT and min_rtt, §2.16.
	probeRTTDoneStamp time.Duration
	probeRTTRoundDone bool
	probeRTTMinDelay  time.Duration
	probeRTTMinStamp  time.Duration
	probeRTTExpired   bool
	appLimitedMark    uint64 // C.app_limited as ProbeRTT sets it (§5.3.4.3)
}

// NewBBR returns a BBR (draft-ietf-ccwg-bbr, BBRv3) controller for a sender
// whose segments carry mss bytes, starting from the initial window of RFC
// 6928 (§5.6.4.1).
func NewBBR(mss uint32, cfg BBRConfig) Controller {
	b := &bbr{cfg: cfg, lossThresh: cfg.LossThresh, rng: cfg.Seed, mss: max(mss, 1)}
	if b.lossThresh <= 0 {
		b.lossThresh = bbrLossThresh
	}
	b.initialCwnd = InitialWindow(b.mss)
	b.cwnd = b.initialCwnd
	b.onInit()
	return b
}

// onInit is §5.2.1 OnInit, except the clock-based stamps, which the first
// event sets (start).
func (b *bbr) onInit() {
	b.minRTT = time.Duration(math.MaxInt64)
	b.probeRTTMinDelay = time.Duration(math.MaxInt64)
	b.inflightLongterm = bbrInf
	b.probeUpAckedPerInc = bbrInf
	b.ackPhase = acksInit
	b.resetCongestionSignals()
	b.resetShortTermModel()
	b.resetFullBW()
	b.initPacingRate(0)
	b.enterStartup()
	b.sendQuantum = sendQuantum(b.pacingRate, b.mss)
}

// start sets the stamps OnInit takes from Now() at the first event.
func (b *bbr) start(now time.Duration) {
	b.now = now
	if b.started {
		return
	}
	b.started = true
	b.minRTTStamp = now
	b.probeRTTMinStamp = now
	b.extraAckedIntervalStart = now
}

func (b *bbr) Name() string        { return NameBBR }
func (b *bbr) Cwnd() uint32        { return b.cwnd }
func (b *bbr) Ssthresh() uint32    { return noSsthresh }
func (b *bbr) PacingRate() uint64  { return b.pacingRate }
func (b *bbr) SendQuantum() uint32 { return b.sendQuantum }
func (b *bbr) UsesPRR() bool       { return false }
func (b *bbr) SetSACK(ok bool)     { b.sack = ok }
func (b *bbr) Phase() string       { return b.state.String() }

func (b *bbr) SetMSS(mss uint32) {
	if mss == 0 {
		return
	}
	b.mss = mss
	b.cwnd = max(b.cwnd, b.minPipeCwnd())
}

func (b *bbr) minPipeCwnd() uint32 { return 4 * b.mss } // §2.8 BBR.MinPipeCwnd

// random returns a pseudo-random uint64 (splitmix64): the TCB's seed, no
// global state.
func (b *bbr) random() uint64 {
	b.rng += 0x9e3779b97f4a7c15
	z := b.rng
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// OnAck is §5.2.3 UpdateOnACK (the TCB has run GenerateRateSample). It
// works on a copy of the sample: it marks it app-limited and caps its
// delivery rate by A0's ACK rate, for itself only.
func (b *bbr) OnAck(sample *RateSample) {
	rs := *sample
	b.start(rs.Now)
	b.delivered = rs.TotalDelivered
	b.inflight = rs.Inflight
	b.isCwndLimited = rs.IsCwndLimited
	if rs.SRTT > 0 && !b.srttSeen {
		// §5.6.2 InitPacingRate: with the first RTT sample, unless a
		// bandwidth estimate already sets the rate.
		b.srttSeen = true
		if b.bw == 0 {
			b.initPacingRate(rs.SRTT)
		}
	}
	if b.appLimitedMark != 0 {
		// The marking of ProbeRTT (§5.3.4.3 HandleProbeRTT): packets
		// sent while C.app_limited was set give app-limited samples,
		// until the data in flight at the marking is delivered.
		if rs.PriorDelivered < b.appLimitedMark {
			rs.IsAppLimited = true
		}
		if rs.TotalDelivered > b.appLimitedMark {
			b.appLimitedMark = 0
		}
	}
	if rs.NewlyAcked > 0 {
		b.a0.onAck(rs.Now, rs.TotalDelivered)
	}
	b.limitByA0(&rs)
	startup, priorMaxBw := b.state == bbrStartup, b.maxBw
	b.updateModelAndState(&rs)
	if rs.NewlyAcked > 0 && (b.roundStart || startup && b.maxBw > priorMaxBw) {
		// An A0 epoch lasts at most a round, and in Startup a higher
		// max_bw starts one, as in QUIC's BBR (bbr_a0.go): there the
		// estimate lags the rate by design, and every ACK would look
		// aggregated.
		b.a0.epochStart()
	}
	b.updateControlParameters(&rs)
}

// updateModelAndState is §5.2.3 UpdateModelAndState.
func (b *bbr) updateModelAndState(rs *RateSample) {
	b.updateLatestDeliverySignals(rs)
	b.updateCongestionSignals(rs)
	b.updateACKAggregation(rs)
	b.checkFullBWReached(rs)
	b.checkStartupDone(rs)
	b.checkDrainDone()
	b.updateProbeBWCyclePhase(rs)
	b.updateMinRTT(rs)
	b.checkProbeRTT(rs)
	b.advanceLatestDeliverySignals(rs)
	b.boundBWForModel()
}

// updateControlParameters is §5.2.3 UpdateControlParameters.
func (b *bbr) updateControlParameters(rs *RateSample) {
	b.setPacingRate()
	b.setSendQuantum()
	b.setCwnd(rs)
}

// OnPacketLost is §5.5.10.2 HandleLostPacket.
func (b *bbr) OnPacketLost(p LostPacket) {
	b.start(p.Now)
	b.delivered = p.TotalDelivered
	b.noteLoss()
	if !b.isBwProbeSample {
		return // not a packet sent while probing bandwidth
	}
	txInFlight := uint64(p.TxInFlight)
	lost := p.TotalLost - min(p.LostAtSend, p.TotalLost)
	if b.isInflightTooHigh(lost, txInFlight) {
		b.handleInflightTooHigh(p.IsAppLimited, b.inflightAtLoss(&p, txInFlight, lost))
	}
}

// noteLoss is §5.5.10.2 NoteLoss.
//
// Deviation: the draft saves the undo state (SaveStateUponLoss) at the
// first loss of every round; we save it once per loss episode, at its
// first loss, as Linux does (bbr_ssthresh). Otherwise a loss after
// HandleInflightTooHigh in the same episode, or the episode's own
// OnEnterFastRecovery, would overwrite undo_state ProbeBW_UP with None and
// save the already lowered inflight_longterm as the value to restore.
func (b *bbr) noteLoss() {
	if !b.isLossInRound {
		b.lossRoundDelivered = b.delivered
	}
	if !b.episodeSaved {
		b.saveStateUponLoss()
	}
	b.isLossInRound = true
}

// isInflightTooHigh is §5.5.10.2 IsInflightTooHigh.
func (b *bbr) isInflightTooHigh(lost, txInFlight uint64) bool {
	return float64(lost) > float64(txInFlight)*b.lossThresh || (lost > 0 && !b.sack)
}

// inflightAtLoss is §5.5.10.2 InflightAtLoss: where, within packet P, the
// loss rate crossed LossThresh.
func (b *bbr) inflightAtLoss(p *LostPacket, txInFlight, lost uint64) uint64 {
	size := uint64(p.Size)
	inflightPrev := txInFlight - min(size, txInFlight)
	lostPrev := lost - min(size, lost)
	lostPrefix := (b.lossThresh*float64(inflightPrev) - float64(lostPrev)) / (1 - b.lossThresh)
	return uint64(max(float64(inflightPrev)+lostPrefix, 0))
}

// handleInflightTooHigh is §5.5.10.2 HandleInflightTooHigh.
func (b *bbr) handleInflightTooHigh(appLimited bool, txInFlight uint64) {
	b.prevProbeTooHigh = true
	b.isBwProbeSample = false // only react once per bandwidth probe
	if !appLimited {
		b.inflightLongterm = max(txInFlight, uint64(float64(b.targetInflight())*bbrBeta))
	}
	if b.state == bbrProbeBWUp {
		b.undoState = bbrProbeBWUp
		b.startProbeBWDown()
	}
}

// OnCongestionEvent is §5.6.4.4 OnEnterFastRecovery. An ECN-Echo counts
// as a congestion signal like a loss (§3.7: CE marks MUST be treated as
// congestion; the draft specifies no finer response).
func (b *bbr) OnCongestionEvent(ev CongestionEvent) {
	b.start(ev.Now)
	b.saveCwnd()
	if !b.episodeSaved {
		b.saveStateUponLoss()
	}
	if ev.Rule == RuleECE {
		b.noteLoss()
	}
	b.inRecovery = true
}

// OnRecoveryExit restores the last known good window (§5.6.4.4
// RestoreCwnd); the next OnAck bounds it by the model.
func (b *bbr) OnRecoveryExit(now time.Duration) {
	b.start(now)
	b.restoreCwnd()
	b.inRecovery = false
	b.episodeSaved = false
}

// OnRTO is §5.6.4.4 OnEnterRTO: cwnd = C.inflight + 1 SMSS, where the
// timeout leaves nothing in flight (the TCB marks what was outstanding
// lost), so one segment.
func (b *bbr) OnRTO(now time.Duration, inflight uint32) {
	b.start(now)
	b.saveCwnd()
	if !b.episodeSaved {
		b.saveStateUponLoss()
	}
	b.cwnd = b.mss
	b.inRecovery = true
}

// OnSpuriousCongestion is §5.5.11.2 HandleSpuriousLossDetection.
func (b *bbr) OnSpuriousCongestion(now time.Duration) {
	b.start(now)
	b.restoreCwnd()
	b.inRecovery = false
	b.episodeSaved = false
	b.isLossInRound = false
	b.resetFullBW()
	b.bwShortterm = max(b.bwShortterm, b.undoBwShortterm)
	b.inflightShortterm = max(b.inflightShortterm, b.undoInflightShortterm)
	b.inflightLongterm = max(b.inflightLongterm, b.undoInflightLongterm)
	switch {
	case b.undoState == bbrStartup && b.state != bbrStartup:
		b.fullBwReached = false
		if b.state != bbrProbeRTT {
			b.enterStartup()
		}
	case b.undoState == bbrProbeBWUp && b.state != bbrProbeBWUp:
		if b.state != bbrProbeRTT {
			b.startProbeBWRefill()
		}
	}
	b.undoState = bbrNone
}

// OnIdleRestart is §5.4.1 HandleRestartFromIdle: pace at exactly BBR.bw in
// ProbeBW, and end a ProbeRTT that the idle period has completed.
func (b *bbr) OnIdleRestart(now, idle, rto time.Duration) {
	b.start(now)
	b.idleRestart = true
	b.extraAckedIntervalStart = now
	if b.isInAProbeBWState() {
		b.setPacingRateWithGain(1)
	} else if b.state == bbrProbeRTT {
		b.checkProbeRTTDone()
	}
}

// saveStateUponLoss is §5.5.11.1 SaveStateUponLoss.
func (b *bbr) saveStateUponLoss() {
	b.episodeSaved = true
	b.saveCwnd()
	b.undoState = bbrNone
	b.undoBwShortterm = b.bwShortterm
	b.undoInflightShortterm = b.inflightShortterm
	b.undoInflightLongterm = b.inflightLongterm
}

// saveCwnd is §5.6.4.4 SaveCwnd.
func (b *bbr) saveCwnd() {
	if !b.inRecovery && b.state != bbrProbeRTT {
		b.priorCwnd = b.cwnd
	} else {
		b.priorCwnd = max(b.priorCwnd, b.cwnd)
	}
}

// restoreCwnd is §5.6.4.4 RestoreCwnd.
func (b *bbr) restoreCwnd() { b.cwnd = max(b.cwnd, b.priorCwnd) }
