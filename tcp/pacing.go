package tcp

import (
	"math"
	"math/bits"
	"time"
)

// pacer spaces a connection's segments at the pacing rate its congestion
// controller asks for, sans-IO: it says how many bytes may leave now and
// when it next releases, and the TCB keeps that deadline beside its timers.
// No goroutine, no clock.
//
// It is Linux's internal pacing (tcp_internal_pacing): each send pushes the
// next departure time out by its length at the pacing rate, and a segment
// may leave once that time has come, so one quantum (the controller's send
// quantum) can go back to back and the debt of a segment that overshoots is
// repaid before the next.
//
// The TCB's use:
//
//	p.setRate(c.PacingRate(), c.SendQuantum())  // after each ACK
//	for p.allow(now) > 0 && <windows allow> { send a segment; p.onSent(now, n) }
//	deadline = min(deadline, p.next())          // when blocked by the pacer only
type pacer struct {
	rate    uint64 // bytes per second; 0 = do not pace
	quantum uint32
	nextAt  time.Duration // departure time of the next byte (Linux's tcp_wstamp_ns)
}

// setRate sets the pacing rate in bytes per second (0 turns pacing off) and
// the send quantum in bytes.
func (p *pacer) setRate(rate uint64, quantum uint32) {
	p.rate, p.quantum = rate, max(quantum, 1)
}

// allow returns how many bytes may start to leave at now: MaxUint32 when
// not pacing, 0 when the pacer holds the connection until next(). A
// segment may go whenever allow is positive, even if it is longer.
func (p *pacer) allow(now time.Duration) uint32 {
	if p.rate == 0 {
		return math.MaxUint32
	}
	if now < p.nextAt {
		return 0
	}
	credit := mulDiv64(uint64(now-p.nextAt), p.rate, uint64(time.Second))
	return uint32(max(min(credit, uint64(p.quantum)), 1))
}

// onSent accounts for n bytes sent at now.
func (p *pacer) onSent(now time.Duration, n uint32) {
	if p.rate == 0 {
		return
	}
	p.nextAt = p.departure(now) + time.Duration(mulDiv64(uint64(n), uint64(time.Second), p.rate))
}

// departure is the time on the pacer's schedule of a segment sent at now:
// its earliest departure time (Linux's tcp_wstamp_ns, the EDT that Linux
// stamps on the skb and its delivery-rate estimator reads as the send
// time). A segment the slack lets go early departs in the future; one sent
// late, to catch up after a timer that fired late, departs in the past:
// idle time earns less than one quantum of credit, so that a quantum sent
// back to back leaves the next departure after now. Without pacing it is
// now.
func (p *pacer) departure(now time.Duration) time.Duration {
	if p.rate == 0 {
		return now
	}
	return max(p.nextAt, now-p.burstTime()+1)
}

// burstTime is how long the link takes to carry one quantum at the rate.
func (p *pacer) burstTime() time.Duration {
	return time.Duration(mulDiv64(uint64(p.quantum), uint64(time.Second), p.rate))
}

// next returns when the pacer releases the connection again, or 0 when it
// is not holding it (pacing off).
func (p *pacer) next() time.Duration {
	if p.rate == 0 {
		return 0
	}
	return p.nextAt
}

// mulDiv64 returns a*b/c without intermediate overflow, saturating at
// MaxUint64; c must not be zero.
func mulDiv64(a, b, c uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	if hi == 0 {
		return lo / c // the common case: a plain 64-bit division
	}
	if hi >= c {
		return math.MaxUint64
	}
	q, _ := bits.Div64(hi, lo, c)
	return q
}
