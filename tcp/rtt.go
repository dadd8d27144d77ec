package tcp

import "time"

// rttState estimates the round-trip time and keeps the retransmission
// timeout: RFC 6298 §2. https://www.rfc-editor.org/rfc/rfc6298#section-2
type rttState struct {
	srtt    time.Duration
	rttvar  time.Duration
	rto     time.Duration // current RTO, including backoff
	hasRTT  bool
	timing  bool          // a segment is being timed (Karn's algorithm)
	timeSeq Seq           // the sequence whose ACK ends the measurement
	timeAt  time.Duration // when it was sent
}

func (r *rttState) init() { r.rto = initialRTO }

// sample feeds one measurement: RFC 6298 §2.2 and §2.3.
func (r *rttState) sample(m time.Duration) {
	if m <= 0 {
		m = time.Microsecond
	}
	if !r.hasRTT {
		r.srtt = m
		r.rttvar = m / 2
		r.hasRTT = true
	} else {
		d := r.srtt - m
		if d < 0 {
			d = -d
		}
		r.rttvar = (3*r.rttvar + d) / 4 // beta = 1/4
		r.srtt = (7*r.srtt + m) / 8     // alpha = 1/8
	}
	r.rto = r.baseRTO()
}

// baseRTO is SRTT + max(G, 4*RTTVAR) clamped to [minRTO, maxRTO]; the clock
// granularity G is taken as 1 ms.
func (r *rttState) baseRTO() time.Duration {
	if !r.hasRTT {
		return initialRTO
	}
	rto := r.srtt + max(time.Millisecond, 4*r.rttvar)
	return min(max(rto, minRTO), maxRTO)
}

// backoff doubles the RTO after a timeout: RFC 6298 §5.5.
func (r *rttState) backoff() {
	r.rto = min(2*r.rto, maxRTO)
	r.timing = false // Karn: no sample across a retransmission
}
