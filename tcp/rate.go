package tcp

import (
	"time"

	"github.com/synack-go/synack/tcp/cc"
)

// rateSnapshot is the per-packet state of delivery-rate estimation
// (draft-ietf-ccwg-bbr §4.1.2.1.2): what the connection had delivered and
// lost when the packet was sent. The transmit record keeps one per
// transmission (a retransmission takes a new one).
//
// The estimator's send times (P.send_time, P.first_send_time) are the
// packet's departure times on the pacer's schedule, as Linux's are the EDT
// it stamps on the skb (tcp_wstamp_ns, read by tcp_rate_skb_sent): a
// pacing timer served late sends a burst to catch up, and a burst's
// actual send times would shorten the send interval and let ACK
// compression inflate the sample (the send interval is the guard against
// it, §4.1.2.3). sendTime is when the packet actually left, for RTT
// samples and RACK.
type rateSnapshot struct {
	delivered     uint64        // P.delivered
	deliveredTime time.Duration // P.delivered_time
	firstSendTime time.Duration // P.first_send_time, on the pacer's schedule
	departTime    time.Duration // P.send_time, on the pacer's schedule
	sendTime      time.Duration // when it left: RACK's xmit_ts, RTT samples
	lost          uint64        // P.lost
	txInFlight    uint32        // P.tx_in_flight, this packet included
	appLimited    bool          // P.is_app_limited
	pending       bool          // sent, not yet delivered (the draft's P.delivered_time != 0)
}

// rateSampler is the delivery-rate estimator of draft-ietf-ccwg-bbr §4.1
// (from draft-cheng-iccrg-delivery-rate-estimation), sans-IO: the TCB
// tells it each send, each delivery and each loss, and after each ACK it
// generates the rate sample congestion control reads. It also keeps
// C.is_cwnd_limited per packet-timed round. It allocates nothing.
//
// How the TCB drives it:
//
//	onSent(&rec.rate, now, depart, inflightBefore, n) // each (re)transmission
//	beginAck()                                    // an ACK arrives
//	onDelivered(&rec.rate, rec.end, n, now, rtx)  // each newly (S)ACKed packet
//	onLost(&rec.rate, n, now)                     // each packet marked lost → OnPacketLost
//	rs := generate(now, inflight, srtt)           // → Controller.OnAck(rs)
//	checkAppLimited(...)                          // on a write, at ACK and timer processing
//	markCwndLimited()                             // the window stopped a send
type rateSampler struct {
	delivered     uint64        // C.delivered
	deliveredTime time.Duration // C.delivered_time
	firstSendTime time.Duration // C.first_send_time
	appLimited    uint64        // C.app_limited: 0, or the C.delivered that ends the bubble
	lost          uint64        // C.lost
	minRTT        time.Duration // C.min_rtt over the connection's life, 0 = none

	// The ACK being processed (InitRateSample, UpdateRateSample).
	rs          cc.RateSample
	hasData     bool
	priorLost   uint64 // P.lost of the newest packet delivered
	sendElapsed time.Duration
	ackElapsed  time.Duration
	lastID      Seq           // RS.last_acked_packet_id: the packet's end
	rttSent     time.Duration // send time behind rs.RTT

	// C.is_cwnd_limited over packet-timed rounds.
	roundEnd        uint64
	cwndLimited     bool // in the current round
	cwndLimitedPrev bool // in the last one
}

// onSent is OnPacketSent (draft §4.1.2.2): snapshot the connection into p
// for a packet of size bytes sent at now, departing at depart on the
// pacer's schedule (pacer.departure), with inflight bytes already in
// flight (before it).
func (s *rateSampler) onSent(p *rateSnapshot, now, depart time.Duration, inflight, size uint32) {
	if inflight == 0 {
		// Nothing in flight: the sample interval may start now.
		s.firstSendTime, s.deliveredTime = depart, now
	}
	// Field by field: a composite literal is built on the stack and
	// copied, once per segment sent.
	p.delivered = s.delivered
	p.deliveredTime = s.deliveredTime
	p.firstSendTime = s.firstSendTime
	p.departTime = depart
	p.sendTime = now
	p.lost = s.lost
	p.txInFlight = inflight + size
	p.appLimited = s.appLimited != 0
	p.pending = true
}

// beginAck is InitRateSample (draft §4.1.2.3).
func (s *rateSampler) beginAck() {
	s.rs = cc.RateSample{}
	s.hasData = false
	s.rttSent = 0
}

// onDelivered is UpdateRateSample (draft §4.1.2.3) for a packet of size
// bytes ending at end, newly acknowledged (cumulatively or by SACK) at now.
// retransmitted says its RTT is ambiguous (Karn): it then gives no RTT
// sample, though it still counts as delivered.
func (s *rateSampler) onDelivered(p *rateSnapshot, end Seq, size uint32, now time.Duration, retransmitted bool) {
	if !p.pending {
		return // already delivered
	}
	s.delivered += uint64(size)
	s.deliveredTime = now
	s.rs.NewlyAcked += size
	if !s.hasData || p.departTime > s.firstSendTime || (p.departTime == s.firstSendTime && end.Greater(s.lastID)) {
		// The most recently sent packet delivered so far (IsNewestPacket).
		s.hasData = true
		s.rs.PriorDelivered = p.delivered
		s.rs.IsAppLimited = p.appLimited
		s.rs.TxInFlight = p.txInFlight
		s.priorLost = p.lost
		s.sendElapsed = p.departTime - p.firstSendTime
		s.ackElapsed = s.deliveredTime - p.deliveredTime
		s.lastID = end
		s.firstSendTime = p.departTime
	}
	if !retransmitted && (s.rs.RTT == 0 || p.sendTime >= s.rttSent) {
		// RS.rtt from the most recently sent packet (draft §5.5.7.1).
		s.rs.RTT = max(now-p.sendTime, 1)
		s.rttSent = p.sendTime
	}
	p.pending = false
}

// onDeliveredOlder counts a packet of size bytes delivered by the same ACK
// as a newer one (onDelivered): it only adds to what was delivered, since
// the newer packet's snapshot makes the sample.
func (s *rateSampler) onDeliveredOlder(p *rateSnapshot, size uint32) {
	if !p.pending {
		return
	}
	s.delivered += uint64(size)
	s.rs.NewlyAcked += size
	p.pending = false
}

// onPartial counts n bytes of a packet cumulatively acknowledged before the
// rest of it (the peer took less than was sent): delivered, though the
// packet's sample waits for its last byte.
func (s *rateSampler) onPartial(n uint32, now time.Duration) {
	s.delivered += uint64(n)
	s.deliveredTime = now
	s.rs.NewlyAcked += n
}

// onLost counts a packet of size bytes marked lost and describes it for
// Controller.OnPacketLost (draft §5.2.4). A packet later found delivered
// after all (a spurious loss) still counts as delivered in onDelivered.
func (s *rateSampler) onLost(p *rateSnapshot, size uint32, now time.Duration) cc.LostPacket {
	s.lost += uint64(size)
	s.rs.NewlyLost += size
	return cc.LostPacket{
		Now:            now,
		Size:           size,
		TxInFlight:     p.txInFlight,
		LostAtSend:     p.lost,
		TotalLost:      s.lost,
		TotalDelivered: s.delivered,
		IsAppLimited:   p.appLimited,
	}
}

// generate is GenerateRateSample (draft §4.1.2.3): it completes the rate
// sample of the ACK processed at now, with inflight the bytes in flight
// after it (RFC 6675's pipe) and srtt the smoothed RTT. The sample is the
// sampler's own, valid until the next beginAck: it is ~120 bytes, and the
// ACK path used to copy it twice on its way to the controller.
func (s *rateSampler) generate(now time.Duration, inflight uint32, srtt time.Duration) *cc.RateSample {
	if s.appLimited != 0 && s.delivered > s.appLimited {
		s.appLimited = 0 // the bubble is acknowledged and gone
	}
	rs := &s.rs
	rs.Now, rs.Inflight, rs.SRTT, rs.TotalDelivered = now, inflight, srtt, s.delivered
	if rs.RTT > 0 && (s.minRTT == 0 || rs.RTT < s.minRTT) {
		s.minRTT = rs.RTT
	}
	if s.hasData && rs.PriorDelivered >= s.roundEnd {
		// A packet-timed round ended (draft §5.5.1).
		s.roundEnd = s.delivered
		s.cwndLimitedPrev, s.cwndLimited = s.cwndLimited, false
	}
	rs.IsCwndLimited = s.cwndLimited || s.cwndLimitedPrev
	if !s.hasData {
		return rs // nothing delivered on this ACK
	}
	rs.Lost = s.lost - min(s.priorLost, s.lost)
	rs.Interval = max(s.sendElapsed, s.ackElapsed)
	rs.Delivered = s.delivered - rs.PriorDelivered
	// Normally interval ≥ min RTT; a shorter one comes from a spurious
	// retransmission acknowledged early: no reliable sample.
	if rs.Interval <= 0 || rs.Interval < s.minRTT {
		return rs
	}
	rs.DeliveryRate = mulDiv64(rs.Delivered, uint64(time.Second), uint64(rs.Interval))
	return rs
}

// checkAppLimited is CheckIfApplicationLimited (draft §4.1.2.4): the TCB
// calls it when the application writes, and at the start of ACK and
// timer processing. There are never pending transmissions below us: a
// segment leaves the TCB when it is emitted.
func (s *rateSampler) checkAppLimited(noUnsentData bool, inflight, cwnd, lostOut, retransOut uint32) {
	if noUnsentData && inflight < cwnd && lostOut <= retransOut {
		s.markAppLimited(inflight)
	}
}

// markAppLimited is MarkConnectionAppLimited: samples of packets sent from
// now until the data in flight is delivered may understate the path.
func (s *rateSampler) markAppLimited(inflight uint32) {
	s.appLimited = max(s.delivered+uint64(inflight), 1)
}

// markCwndLimited records that the congestion window stopped a send this
// round: C.is_cwnd_limited (draft §2.2), RFC 7661's validated window.
func (s *rateSampler) markCwndLimited() { s.cwndLimited = true }
