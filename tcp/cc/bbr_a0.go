package cc

import "time"

// ACK aggregation and delivery-rate samples.
//
// A delivery-rate sample's ACK interval starts at P.delivered_time, the
// ACK that came just before packet P was sent (draft-ietf-ccwg-bbr
// §4.1.2.3). When that ACK arrived late, at the end of a burst of ACKs
// that a receiver, a link or the sender's own scheduling held back and
// released together, the interval is short for the data it counts, and the
// sample overstates the path; the send interval guards against this only
// while the sender sends no faster than the path (not in Startup or
// ProbeBW_UP). The max filter keeps such a sample for two ProbeBW cycles,
// and BBR then paces above the bottleneck in ProbeBW_CRUISE and keeps a
// standing queue as deep as its window allows (cwnd_gain 2: a BDP).
//
// As QUIC's BBR does (Chromium's BandwidthSampler, "overestimate
// avoidance"), the ACK interval may instead start at the last ACK before
// the current ACK aggregation epoch (§5.5.9: the ACKs since the ACK rate
// last fell to the estimated bandwidth): an ACK the estimate expected.
// Each epoch's start leaves such a point as a candidate; a sample's ACK
// rate is measured from the latest candidate that P's snapshot had seen
// (its delivered count at most P.delivered), and the sample is the lower
// of the two rates. As there, an epoch lasts at most a round trip, and in
// Startup a higher max_bw starts a new one: the estimate lags the sending
// rate there by design, every ACK would look aggregated, and a candidate
// rounds old would understate the growth Startup measures.

// bbrA0Slots bounds the candidates kept, oldest dropped first: with
// the ACKs at the estimated rate every ACK starts an epoch, the candidates
// then span less than a round trip and a sample has none (the draft's
// sample stands); ACK bursts make epochs longer and fewer.
const bbrA0Slots = 32

// ackPoint is an ACK event: when, and the data delivered by then.
type ackPoint struct {
	at        time.Duration
	delivered uint64
}

// ackPoints is the ring of A0 candidates, oldest first.
type ackPoints struct {
	ring       [bbrA0Slots]ackPoint
	head, n    int
	last, prev ackPoint // the latest ACK event and the one before it
}

// onAck notes an ACK event.
func (a *ackPoints) onAck(now time.Duration, delivered uint64) {
	if now > a.last.at || a.last.delivered == 0 {
		a.prev = a.last
	}
	a.last = ackPoint{now, delivered}
}

// epochStart notes that the latest ACK started an aggregation epoch: the
// ACK before it is a candidate.
func (a *ackPoints) epochStart() {
	p := a.prev
	if p.at == 0 && p.delivered == 0 {
		return
	}
	if a.n > 0 && p.delivered <= a.ring[(a.head+a.n-1)%bbrA0Slots].delivered {
		return
	}
	if a.n == bbrA0Slots {
		a.head = (a.head + 1) % bbrA0Slots
		a.n--
	}
	a.ring[(a.head+a.n)%bbrA0Slots] = p
	a.n++
}

// choose returns the latest candidate whose delivered count is at most
// priorDelivered, dropping the older ones (later samples start later), or
// false if there is none.
func (a *ackPoints) choose(priorDelivered uint64) (ackPoint, bool) {
	found := -1
	for i := 0; i < a.n; i++ {
		if a.ring[(a.head+i)%bbrA0Slots].delivered > priorDelivered {
			break
		}
		found = i
	}
	if found < 0 {
		return ackPoint{}, false
	}
	a.head = (a.head + found) % bbrA0Slots
	a.n -= found
	return a.ring[a.head], true
}

// limitByA0 lowers rs.DeliveryRate to the ACK rate measured from the A0
// candidate of its packet, when there is one.
func (b *bbr) limitByA0(rs *RateSample) {
	if rs.DeliveryRate == 0 {
		return
	}
	a0, ok := b.a0.choose(rs.PriorDelivered)
	if !ok || rs.Now <= a0.at || rs.TotalDelivered <= a0.delivered {
		return
	}
	ackRate := mulDiv(rs.TotalDelivered-a0.delivered, uint64(time.Second), uint64(rs.Now-a0.at))
	rs.DeliveryRate = min(rs.DeliveryRate, ackRate)
}
