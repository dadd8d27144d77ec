package cc

import "time"

// The state machine of draft-ietf-ccwg-bbr §5.3: Startup, Drain, the four
// ProbeBW phases and ProbeRTT.

// setGains sets pacing_gain and cwnd_gain for a state: the table of §5.6.1.
func (b *bbr) setGains(s bbrState) {
	switch s {
	case bbrStartup:
		b.pacingGain, b.cwndGain = bbrStartupPacingGain, bbrDefaultCwndGain
	case bbrDrain:
		b.pacingGain, b.cwndGain = bbrDrainPacingGain, bbrDefaultCwndGain
	case bbrProbeBWDown:
		b.pacingGain, b.cwndGain = bbrProbeDownGain, bbrDefaultCwndGain
	case bbrProbeBWCruise, bbrProbeBWRefill:
		b.pacingGain, b.cwndGain = 1, bbrDefaultCwndGain
	case bbrProbeBWUp:
		b.pacingGain, b.cwndGain = bbrProbeUpGain, bbrProbeUpCwndGain
	case bbrProbeRTT:
		b.pacingGain, b.cwndGain = 1, bbrProbeRTTCwndGain
	}
	b.state = s
}

// enterStartup is §5.3.1.1 EnterStartup.
func (b *bbr) enterStartup() { b.setGains(bbrStartup) }

// resetFullBW is §5.3.1.2 ResetFullBW.
func (b *bbr) resetFullBW() {
	b.fullBw = 0
	b.fullBwCount = 0
	b.fullBwNow = false
}

// checkFullBWReached is §5.3.1.2 CheckFullBWReached.
func (b *bbr) checkFullBWReached(rs *RateSample) {
	if b.fullBwNow || !b.roundStart || rs.IsAppLimited {
		return
	}
	if float64(rs.DeliveryRate) >= float64(b.fullBw)*bbrFullBwThresh {
		b.resetFullBW() // still growing
		b.fullBw = rs.DeliveryRate
		return
	}
	b.fullBwCount++
	b.fullBwNow = b.fullBwCount >= bbrFullBwCount
	if b.fullBwNow {
		b.fullBwReached = true
	}
}

// checkStartupDone is §5.3.1.1 CheckStartupDone.
func (b *bbr) checkStartupDone(rs *RateSample) {
	b.checkStartupHighLoss(rs)
	if b.state == bbrStartup && b.fullBwReached {
		b.enterDrain()
	}
}

// checkStartupHighLoss is §5.3.1.3: at the end of a round in fast recovery
// whose loss rate exceeds LossThresh over at least BBRStartupFullLossCnt
// loss events (with SACK; any loss without), the pipe is full. Like Linux
// we count the ACKs that marked losses as the discontiguous lost ranges.
func (b *bbr) checkStartupHighLoss(rs *RateSample) {
	if b.fullBwReached || b.state != bbrStartup || !b.lossRoundStart || !b.inRecovery {
		return
	}
	need := bbrStartupFullLoss
	if !b.sack {
		need = 1
	}
	if b.lossEventsInRound < need || !b.isInflightTooHigh(rs.Lost, uint64(rs.TxInFlight)) {
		return
	}
	b.undoState = bbrStartup
	b.fullBwReached = true
	b.inflightLongterm = max(b.bdpMultiple(b.bw, 1), b.inflightLatest)
}

// enterDrain is §5.3.2 EnterDrain.
func (b *bbr) enterDrain() {
	b.setGains(bbrDrain)
	b.drainStartRound = b.roundCount
}

// checkDrainDone is §5.3.2 CheckDrainDone.
func (b *bbr) checkDrainDone() {
	if b.state == bbrDrain && (uint64(b.inflight) <= b.inflightFor(b.bw, 1) ||
		b.roundCount > b.drainStartRound+3) {
		b.enterProbeBW()
	}
}

// enterProbeBW is §5.3.3.9 EnterProbeBW.
func (b *bbr) enterProbeBW() { b.startProbeBWDown() }

// startProbeBWDown is §5.3.3.9 StartProbeBW_DOWN.
func (b *bbr) startProbeBWDown() {
	b.resetCongestionSignals()
	b.probeUpAckedPerInc = bbrInf
	b.pickProbeWait()
	b.cycleStamp = b.now
	b.ackPhase = acksProbeStopping
	b.startRound()
	b.setGains(bbrProbeBWDown)
}

// startProbeBWCruise is §5.3.3.9 StartProbeBW_CRUISE.
func (b *bbr) startProbeBWCruise() { b.setGains(bbrProbeBWCruise) }

// startProbeBWRefill is §5.3.3.9 StartProbeBW_REFILL.
func (b *bbr) startProbeBWRefill() {
	b.resetShortTermModel()
	b.bwProbeUpRounds = 0
	b.bwProbeUpAcked = 0
	b.prevProbePrecautionary = false
	b.ackPhase = acksRefilling
	b.startRound()
	b.setGains(bbrProbeBWRefill)
}

// startProbeBWUp is §5.3.3.9 StartProbeBW_UP.
func (b *bbr) startProbeBWUp(rs *RateSample) {
	b.ackPhase = acksProbeStarting
	b.startRound()
	b.probeUpStartRound = b.roundCount
	b.resetFullBW()
	b.fullBw = rs.DeliveryRate
	b.setGains(bbrProbeBWUp)
	b.raiseInflightLongtermSlope()
}

// updateProbeBWCyclePhase is §5.3.3.9 UpdateProbeBWCyclePhase.
func (b *bbr) updateProbeBWCyclePhase(rs *RateSample) {
	if !b.fullBwReached || rs.NewlyAcked == 0 {
		return
	}
	if b.adaptLongTermModel(rs) || !b.isInAProbeBWState() {
		return
	}
	switch b.state {
	case bbrProbeBWDown:
		if b.isTimeToProbeBW() {
			return
		}
		if b.isTimeToCruise() {
			b.startProbeBWCruise()
		}
	case bbrProbeBWCruise:
		b.isTimeToProbeBW()
	case bbrProbeBWRefill:
		if b.roundStart { // after one round of REFILL, start UP
			b.isBwProbeSample = true
			b.startProbeBWUp(rs)
		}
	case bbrProbeBWUp:
		if b.isTimeToGoDown(rs) {
			b.prevProbeTooHigh = false // no high loss (yet)
			b.startProbeBWDown()
		}
	}
}

func (b *bbr) isInAProbeBWState() bool {
	return b.state >= bbrProbeBWDown && b.state <= bbrProbeBWUp
}

// isProbingBW is §5.3.3.9 IsProbingBW.
func (b *bbr) isProbingBW() bool {
	return b.state == bbrStartup || b.state == bbrProbeBWRefill || b.state == bbrProbeBWUp
}

// isTimeToProbeBW is §5.3.3.8 IsTimeToProbeBW: from DOWN or CRUISE to
// REFILL after the randomized wall-clock wait or the Reno-coexistence
// number of rounds.
func (b *bbr) isTimeToProbeBW() bool {
	renoRounds := b.targetInflight() / uint64(b.mss) // in packets, as Linux
	if b.now > b.cycleStamp+b.bwProbeWait || b.roundsSinceProbeUp >= min(renoRounds, bbrProbeMaxRounds) {
		b.startProbeBWRefill()
		return true
	}
	return false
}

// pickProbeWait is §5.3.3.8 PickProbeWait.
func (b *bbr) pickProbeWait() {
	b.roundsSinceProbeUp = b.random() & 1
	b.bwProbeWait = 2*time.Second + time.Duration(b.random()%uint64(time.Second))
}

// isTimeToCruise is §5.3.3.9 IsTimeToCruise.
func (b *bbr) isTimeToCruise() bool {
	inflight := uint64(b.inflight)
	return inflight <= b.inflightWithHeadroom() && inflight <= b.inflightFor(b.maxBw, 1)
}

// isTimeToGoDown is §5.3.3.9 IsTimeToGoDown.
func (b *bbr) isTimeToGoDown(rs *RateSample) bool {
	if b.prevProbeTooHigh && uint64(b.inflight) >= b.inflightLongterm {
		b.prevProbePrecautionary = true
		return true
	}
	if b.cfg.QueueBoundedProbe && b.isProbeQueueBuilt() {
		return true
	}
	if b.isCwndLimited && uint64(b.cwnd) >= b.inflightLongterm {
		b.resetFullBW() // bw is limited by inflight_longterm
		b.fullBw = rs.DeliveryRate
	} else if b.fullBwNow {
		return true // we estimate we have fully used the path
	}
	return false
}

// isProbeQueueBuilt reports that ProbeBW_UP has lasted a round trip and
// put its 0.25 BDP in the queue (BBRConfig.QueueBoundedProbe): the flight
// is at 1.25 BDPs beyond what ACK aggregation explains. Had the path more
// bandwidth, the round's samples would have raised max_bw and the target
// with it.
func (b *bbr) isProbeQueueBuilt() bool {
	return b.roundCount > b.probeUpStartRound &&
		uint64(b.inflight) >= b.inflightFor(b.maxBw, bbrProbeUpGain)+b.extraAcked
}

// raiseInflightLongtermSlope is §5.3.3.9 RaiseInflightLongtermSlope.
func (b *bbr) raiseInflightLongtermSlope() {
	growth := uint64(1) << b.bwProbeUpRounds
	b.bwProbeUpRounds = min(b.bwProbeUpRounds+1, bbrMaxProbeUpRounds)
	b.probeUpAckedPerInc = max(uint64(b.cwnd)/growth, uint64(b.mss))
}

// probeInflightLongtermUpward is §5.3.3.9 ProbeInflightLongtermUpward.
func (b *bbr) probeInflightLongtermUpward(rs *RateSample) {
	if !b.isCwndLimited || uint64(b.cwnd) < b.inflightLongterm {
		return // not fully using inflight_longterm: do not grow it
	}
	b.bwProbeUpAcked += uint64(rs.NewlyAcked)
	if b.bwProbeUpAcked >= b.probeUpAckedPerInc {
		delta := b.bwProbeUpAcked / b.probeUpAckedPerInc
		b.bwProbeUpAcked -= delta * b.probeUpAckedPerInc
		b.inflightLongterm += delta * uint64(b.mss)
	}
	if b.roundStart {
		b.raiseInflightLongtermSlope()
	}
}

// adaptLongTermModel is §5.3.3.9 AdaptLongTermModel; it reports whether it
// decided a state transition.
func (b *bbr) adaptLongTermModel(rs *RateSample) bool {
	if b.ackPhase == acksProbeStarting && b.roundStart {
		b.ackPhase = acksProbeFeedback // starting to get probe samples
	}
	if b.ackPhase == acksProbeStopping && b.roundStart {
		// The end of the samples from the bandwidth probe.
		b.isBwProbeSample = false
		b.ackPhase = acksInit
		if b.isInAProbeBWState() && !rs.IsAppLimited {
			b.advanceMaxBwFilter()
		}
		if b.isInAProbeBWState() && b.prevProbePrecautionary && !b.prevProbeTooHigh {
			b.startProbeBWRefill() // precautionary probing: acceleration
			return true
		}
	}
	if !b.isInflightTooHigh(rs.Lost, uint64(rs.TxInFlight)) {
		if b.inflightLongterm == bbrInf {
			return false // no upper bounds to raise
		}
		b.inflightLongterm = max(b.inflightLongterm, uint64(rs.TxInFlight))
		if b.state == bbrProbeBWUp {
			b.probeInflightLongtermUpward(rs)
		}
	}
	return false
}

// checkProbeRTT is §5.3.4.3 CheckProbeRTT.
func (b *bbr) checkProbeRTT(rs *RateSample) {
	if b.state != bbrProbeRTT && b.probeRTTExpired && !b.idleRestart {
		b.setGains(bbrProbeRTT)
		b.saveCwnd()
		b.probeRTTDoneStamp = 0
		b.ackPhase = acksProbeStopping
		b.startRound()
	}
	if b.state == bbrProbeRTT {
		b.handleProbeRTT()
	}
	if rs.Delivered > 0 {
		b.idleRestart = false
	}
}

// handleProbeRTT is §5.3.4.3 HandleProbeRTT.
func (b *bbr) handleProbeRTT() {
	// MarkConnectionAppLimited: the connection's C.app_limited, which
	// OnAck applies to the samples of packets sent from now on.
	b.appLimitedMark = max(b.delivered+uint64(b.inflight), 1)
	if b.probeRTTDoneStamp == 0 && uint64(b.inflight) <= b.probeRTTCwnd() {
		// Wait for at least ProbeRTTDuration and one round.
		b.probeRTTDoneStamp = b.now + bbrProbeRTTDuration
		b.probeRTTRoundDone = false
		b.startRound()
	} else if b.probeRTTDoneStamp != 0 {
		if b.roundStart {
			b.probeRTTRoundDone = true
		}
		if b.probeRTTRoundDone {
			b.checkProbeRTTDone()
		}
	}
}

// checkProbeRTTDone is §5.3.4.3 CheckProbeRTTDone.
func (b *bbr) checkProbeRTTDone() {
	if b.probeRTTDoneStamp != 0 && b.now > b.probeRTTDoneStamp {
		b.probeRTTMinStamp = b.now // schedule the next ProbeRTT
		b.restoreCwnd()
		b.exitProbeRTT()
	}
}

// exitProbeRTT is §5.3.4.4 ExitProbeRTT.
func (b *bbr) exitProbeRTT() {
	b.resetShortTermModel()
	if b.fullBwReached {
		b.startProbeBWDown()
		b.startProbeBWCruise()
	} else {
		b.enterStartup()
	}
}
