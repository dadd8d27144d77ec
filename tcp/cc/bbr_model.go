package cc

import "time"

// The network path model of draft-ietf-ccwg-bbr §5.5 and the control
// parameters of §5.6.

// updateRound is §5.5.1 UpdateRound, for an ACK that delivered data.
func (b *bbr) updateRound(rs *RateSample) {
	if rs.NewlyAcked > 0 && rs.PriorDelivered >= b.nextRoundDelivered {
		b.startRound()
		b.roundCount++
		b.roundsSinceProbeUp++
		b.roundStart = true
	} else {
		b.roundStart = false
	}
}

// startRound is §5.5.1 StartRound.
func (b *bbr) startRound() { b.nextRoundDelivered = b.delivered }

// updateMaxBw is §5.5.5 UpdateMaxBw.
func (b *bbr) updateMaxBw(rs *RateSample) {
	b.updateRound(rs)
	if rs.DeliveryRate > 0 && (rs.DeliveryRate >= b.maxBw || !rs.IsAppLimited) {
		// The two-slot max filter of §2.11: this cycle and the last.
		b.maxBwFilter[1] = max(b.maxBwFilter[1], rs.DeliveryRate)
		b.maxBw = max(b.maxBwFilter[0], b.maxBwFilter[1])
	}
}

// advanceMaxBwFilter is §5.5.6 AdvanceMaxBwFilter: BBR.cycle_count++.
func (b *bbr) advanceMaxBwFilter() {
	b.maxBwFilter[0], b.maxBwFilter[1] = b.maxBwFilter[1], 0
	b.maxBw = b.maxBwFilter[0]
}

// updateLatestDeliverySignals is §5.5.10.3 UpdateLatestDeliverySignals.
func (b *bbr) updateLatestDeliverySignals(rs *RateSample) {
	b.lossRoundStart = false
	b.bwLatest = max(b.bwLatest, rs.DeliveryRate)
	b.inflightLatest = max(b.inflightLatest, rs.Delivered)
	if rs.NewlyAcked > 0 && rs.PriorDelivered >= b.lossRoundDelivered {
		b.lossRoundDelivered = b.delivered
		b.lossRoundStart = true
	}
	if rs.NewlyLost > 0 {
		b.lossEventsInRound++
	}
}

// advanceLatestDeliverySignals is §5.5.10.3 AdvanceLatestDeliverySignals.
func (b *bbr) advanceLatestDeliverySignals(rs *RateSample) {
	if b.lossRoundStart {
		b.bwLatest = rs.DeliveryRate
		b.inflightLatest = rs.Delivered
		b.lossEventsInRound = 0
	}
}

// resetCongestionSignals is §5.5.10.3 ResetCongestionSignals.
func (b *bbr) resetCongestionSignals() {
	b.isLossInRound = false
	b.bwLatest = 0
	b.inflightLatest = 0
}

// updateCongestionSignals is §5.5.10.3 UpdateCongestionSignals.
func (b *bbr) updateCongestionSignals(rs *RateSample) {
	b.updateMaxBw(rs)
	if !b.lossRoundStart {
		return // wait until the end of the round trip
	}
	b.adaptLowerBoundsFromCongestion()
	b.isLossInRound = false
}

// adaptLowerBoundsFromCongestion is §5.5.10.3: once per round, lower the
// short-term model after a round with loss, unless probing bandwidth.
// LossTolerant keeps no short-term model (BBRConfig.LossTolerant).
func (b *bbr) adaptLowerBoundsFromCongestion() {
	if b.isProbingBW() || !b.isLossInRound || b.cfg.LossTolerant {
		return
	}
	b.initLowerBounds()
	b.lossLowerBounds()
}

// initLowerBounds is §5.5.10.3 InitLowerBounds.
func (b *bbr) initLowerBounds() {
	if b.bwShortterm == bbrInf {
		b.bwShortterm = b.maxBw
	}
	if b.inflightShortterm == bbrInf {
		b.inflightShortterm = uint64(b.cwnd)
	}
}

// lossLowerBounds is §5.5.10.3 LossLowerBounds.
func (b *bbr) lossLowerBounds() {
	b.bwShortterm = max(b.bwLatest, uint64(bbrBeta*float64(b.bwShortterm)))
	b.inflightShortterm = max(b.inflightLatest, uint64(bbrBeta*float64(b.inflightShortterm)))
}

// resetShortTermModel is §5.5.10.3 ResetShortTermModel.
func (b *bbr) resetShortTermModel() {
	b.bwShortterm = bbrInf
	b.inflightShortterm = bbrInf
}

// boundBWForModel is §5.5.10.3 BoundBWForModel.
func (b *bbr) boundBWForModel() { b.bw = min(b.maxBw, b.bwShortterm) }

// updateACKAggregation is §5.5.9 UpdateACKAggregation.
func (b *bbr) updateACKAggregation(rs *RateSample) {
	interval := rs.Now - b.extraAckedIntervalStart
	expected := b.bytesIn(b.bw, interval)
	if b.extraAckedDelivered <= expected {
		// The ACK rate fell below the expected rate: start again.
		b.extraAckedDelivered = 0
		b.extraAckedIntervalStart = rs.Now
		expected = 0
		if rs.NewlyAcked > 0 {
			b.a0.epochStart()
		}
	}
	b.extraAckedDelivered += uint64(rs.NewlyAcked)
	extra := min(b.extraAckedDelivered-expected, uint64(b.cwnd))
	win := uint64(1) // in Startup, remember one round
	if b.fullBwReached {
		win = bbrExtraAckedLen
	}
	b.extraAcked = b.extraAckedFilter.update(win, b.roundCount, extra)
}

// bytesIn is the data a rate delivers over d.
func (b *bbr) bytesIn(rate uint64, d time.Duration) uint64 {
	if d <= 0 {
		return 0
	}
	return mulDiv(rate, uint64(d), uint64(time.Second))
}

// updateMinRTT is §5.3.4.3 UpdateMinRTT.
func (b *bbr) updateMinRTT(rs *RateSample) {
	b.probeRTTExpired = rs.Now > b.probeRTTMinStamp+bbrProbeRTTInterval
	if rs.RTT > 0 && (rs.RTT < b.probeRTTMinDelay || b.probeRTTExpired) {
		b.probeRTTMinDelay = rs.RTT
		b.probeRTTMinStamp = rs.Now
	}
	minRTTExpired := rs.Now > b.minRTTStamp+bbrMinRTTFilterLen
	if b.probeRTTMinDelay < b.minRTT || minRTTExpired {
		b.minRTT = b.probeRTTMinDelay
		b.minRTTStamp = b.probeRTTMinStamp
	}
}

// initPacingRate is §5.6.2 InitPacingRate (srtt 0: assume 1 ms).
func (b *bbr) initPacingRate(srtt time.Duration) {
	if srtt <= 0 {
		srtt = time.Millisecond
	}
	nominal := mulDiv(uint64(b.initialCwnd), uint64(time.Second), uint64(srtt))
	b.pacingRate = uint64(bbrStartupPacingGain * float64(nominal))
}

// setPacingRateWithGain is §5.6.2 SetPacingRateWithGain.
func (b *bbr) setPacingRateWithGain(gain float64) {
	rate := uint64(gain * float64(b.bw) * bbrPacingMargin)
	if b.fullBwReached || rate > b.pacingRate {
		b.pacingRate = rate
	}
}

func (b *bbr) setPacingRate() { b.setPacingRateWithGain(b.pacingGain) }

// setSendQuantum is §5.6.3 SetSendQuantum.
func (b *bbr) setSendQuantum() { b.sendQuantum = sendQuantum(b.pacingRate, b.mss) }

// bdpMultiple is §5.6.4.2 BDPMultiple, for a given bandwidth.
func (b *bbr) bdpMultiple(bw uint64, gain float64) uint64 {
	if b.minRTT == time.Duration(1<<63-1) {
		return uint64(b.initialCwnd) // no valid RTT samples yet
	}
	b.bdp = b.bytesIn(bw, b.minRTT)
	return uint64(gain * float64(b.bdp))
}

// quantizationBudget is §5.6.4.2 QuantizationBudget, with §5.5.8.1's TCP
// offload budget of three send quanta.
func (b *bbr) quantizationBudget(inflight uint64) uint64 {
	inflight = max(inflight, 3*uint64(b.sendQuantum), uint64(b.minPipeCwnd()))
	if b.state == bbrProbeBWUp {
		inflight += 2 * uint64(b.mss)
	}
	return inflight
}

// inflightFor is §5.6.4.2 Inflight(gain), at bandwidth bw.
func (b *bbr) inflightFor(bw uint64, gain float64) uint64 {
	return b.quantizationBudget(b.bdpMultiple(bw, gain))
}

// updateMaxInflight is §5.6.4.2 UpdateMaxInflight.
func (b *bbr) updateMaxInflight() {
	inflight := b.bdpMultiple(b.bw, b.cwndGain) + b.extraAcked
	b.maxInflight = b.quantizationBudget(inflight)
}

// setCwnd is §5.6.4.6 SetCwnd.
func (b *bbr) setCwnd(rs *RateSample) {
	b.updateMaxInflight()
	w := uint64(b.cwnd)
	switch {
	case b.fullBwReached:
		w = min(w+uint64(rs.NewlyAcked), b.maxInflight)
	case w < b.maxInflight || b.delivered < uint64(b.initialCwnd):
		w += uint64(rs.NewlyAcked)
	}
	w = max(w, uint64(b.minPipeCwnd()))
	if b.state == bbrProbeRTT {
		w = min(w, b.probeRTTCwnd()) // §5.6.4.5 BoundCwndForProbeRTT
	}
	b.cwnd = clamp32(min(w, b.cwndCap()))
}

// cwndCap is the cap of §5.6.4.7 BoundCwndForModel.
func (b *bbr) cwndCap() uint64 {
	capw := uint64(bbrInf)
	if b.isInAProbeBWState() && b.state != bbrProbeBWCruise {
		capw = b.inflightLongterm
	} else if b.state == bbrProbeRTT || b.state == bbrProbeBWCruise {
		capw = b.inflightWithHeadroom()
	}
	capw = min(capw, b.inflightShortterm)
	return max(capw, uint64(b.minPipeCwnd()))
}

// probeRTTCwnd is §5.6.4.5 ProbeRTTCwnd.
func (b *bbr) probeRTTCwnd() uint64 {
	return max(b.bdpMultiple(b.bw, bbrProbeRTTCwndGain), uint64(b.minPipeCwnd()))
}

// inflightWithHeadroom is §5.3.3.9 InflightWithHeadroom.
func (b *bbr) inflightWithHeadroom() uint64 {
	if b.inflightLongterm == bbrInf {
		return bbrInf
	}
	headroom := max(uint64(b.mss), uint64(bbrHeadroom*float64(b.inflightLongterm)))
	return max(b.inflightLongterm-min(headroom, b.inflightLongterm), uint64(b.minPipeCwnd()))
}

// targetInflight is §5.3.3.8 TargetInflight: the BDP, unless congestion
// cut cwnd.
func (b *bbr) targetInflight() uint64 { return min(b.bdp, uint64(b.cwnd)) }
