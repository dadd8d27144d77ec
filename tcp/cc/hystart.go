package cc

import (
	"math"
	"time"
)

// HyStart++ constants: RFC 9406 §4.3.
const (
	hsMinRTTThresh  = 4 * time.Millisecond
	hsMaxRTTThresh  = 16 * time.Millisecond
	hsMinRTTDivisor = 8
	hsNRTTSample    = 8
	hsCSSGrowthDiv  = 4
	hsCSSRounds     = 5
	hsLNonPaced     = 8 // L in segments when not pacing; infinite when pacing
	noRTT           = time.Duration(math.MaxInt64)
)

// HyStart++ phases.
const (
	hsPhaseSlowStart = iota
	hsPhaseCSS
	hsPhaseDone
)

// hystart is HyStart++ (RFC 9406): slow start that watches each round's
// minimum RTT and, when it rises by RttThresh, grows four times slower
// (Conservative Slow Start, CSS) for up to CSS_ROUNDS rounds before
// congestion avoidance, or returns to slow start if the rise was spurious.
//
// It runs for the initial slow start only (RFC 9406 §4.2: later slow
// starts have an ssthresh to stop them). Rounds are packet-timed: a round
// ends when an ACK covers data sent after the round began (RFC 9406's
// windowEnd = SND.NXT), which we tell from the rate sample's
// PriorDelivered, as BBR counts its rounds (draft-ietf-ccwg-bbr §5.5.1).
//
// Linux deviation: Linux's CUBIC runs the older HyStart (Ha and Rhee,
// 2011: an ACK-train and a delay detector that leave slow start at once,
// with no CSS); RFC 9406 is what we implement.
type hystart struct {
	phase       int
	nextRound   uint64 // TotalDelivered that ends the current round
	rounds      uint64 // rounds seen, for tests and traces
	lastMinRTT  time.Duration
	curMinRTT   time.Duration
	samples     int
	cssBaseline time.Duration
	cssRounds   int
}

func newHyStart() hystart {
	return hystart{lastMinRTT: noRTT, curMinRTT: noRTT, cssBaseline: noRTT}
}

// hsVerdict is what an ACK tells slow start to do.
type hsVerdict int

const (
	hsGrow    hsVerdict = iota // grow by the full slow-start increase
	hsGrowCSS                  // grow by a CSS_GROWTH_DIVISOR-th of it
	hsEnterCA                  // CSS is over: ssthresh = cwnd
)

// onAck runs RFC 9406 §4.2's per-ACK steps for one rate sample and says how
// the window grows.
func (h *hystart) onAck(rs *RateSample) hsVerdict {
	if h.phase == hsPhaseDone {
		return hsGrow
	}
	if rs.PriorDelivered >= h.nextRound {
		// A new round: lastRoundMinRTT = currentRoundMinRTT, and so on.
		h.nextRound = rs.TotalDelivered
		h.rounds++
		h.lastMinRTT, h.curMinRTT, h.samples = h.curMinRTT, noRTT, 0
		if h.phase == hsPhaseCSS {
			h.cssRounds++
			if h.cssRounds >= hsCSSRounds {
				h.phase = hsPhaseDone
				return hsEnterCA
			}
		}
	}
	if rs.RTT > 0 {
		h.curMinRTT = min(h.curMinRTT, rs.RTT)
		h.samples++
	}
	switch h.phase {
	case hsPhaseSlowStart:
		if h.samples >= hsNRTTSample && h.curMinRTT != noRTT && h.lastMinRTT != noRTT {
			thresh := max(hsMinRTTThresh, min(h.lastMinRTT/hsMinRTTDivisor, hsMaxRTTThresh))
			if h.curMinRTT >= h.lastMinRTT+thresh {
				h.cssBaseline = h.curMinRTT
				h.phase = hsPhaseCSS
				h.cssRounds = 0 // this partial round is CSS's first
				return hsGrowCSS
			}
		}
		return hsGrow
	default: // CSS
		if h.samples >= hsNRTTSample && h.curMinRTT < h.cssBaseline {
			// The RTT rise was spurious: back to slow start.
			h.cssBaseline = noRTT
			h.phase = hsPhaseSlowStart
			return hsGrow
		}
		return hsGrowCSS
	}
}

// exit ends HyStart++ for good: loss, ECN or a timeout ended slow start.
func (h *hystart) exit() { h.phase = hsPhaseDone }
