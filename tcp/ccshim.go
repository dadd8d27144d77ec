package tcp

import (
	"time"

	"github.com/synack-go/synack/tcp/cc"
)

// ccShim drives a cc.Controller from the events today's TCB reports (one
// timed segment per round trip, no per-segment transmit record), until the
// recovery rebuild of issue 12 feeds it real rate samples from a rateSampler.
// It synthesizes each ACK's rate sample: the ACK rate over the last
// smoothed RTT for the delivery rate, the smoothed RTT for the RTT, and a
// "cwnd-limited" guess from the flight before the ACK. NewReno and CUBIC need
// little more; BBR runs on it, but coarsely.
type ccShim struct {
	c       cc.Controller
	mss     uint32
	lastAck time.Duration // when an ACK last acknowledged new data
	sent    uint64        // bytes acknowledged so far: C.delivered
	lost    uint64        // segments presumed lost (one per fast retransmit), in bytes
	// Two checkpoints of (time, delivered), at least one SRTT apart, for
	// the ACK rate and for packet-timed rounds.
	prev, cur struct {
		at        time.Duration
		delivered uint64
	}
}

func newCCShim(c cc.Controller, mss uint32) *ccShim {
	return &ccShim{c: c, mss: mss}
}

func (s *ccShim) Cwnd() uint32     { return s.c.Cwnd() }
func (s *ccShim) Ssthresh() uint32 { return s.c.Ssthresh() }

func (s *ccShim) SetMSS(mss uint32) {
	s.mss = mss
	s.c.SetMSS(mss)
}

// OnAck reports acked bytes newly acknowledged outside recovery; inflight is
// what was outstanding before the ACK, srtt the smoothed RTT.
func (s *ccShim) OnAck(acked, inflight uint32, srtt, now time.Duration) {
	s.sent += uint64(acked)
	s.lastAck = now
	if srtt > 0 && now-s.cur.at >= srtt {
		s.prev, s.cur = s.cur, s.prev
		s.cur.at, s.cur.delivered = now, s.sent
	}
	rs := cc.RateSample{
		Now:            now,
		NewlyAcked:     acked,
		RTT:            srtt,
		SRTT:           srtt,
		PriorDelivered: s.prev.delivered,
		TxInFlight:     inflight,
		TotalDelivered: s.sent,
		Inflight:       inflight - min(acked, inflight),
		IsCwndLimited:  inflight+s.mss > s.c.Cwnd(),
	}
	if s.prev.at != 0 && now > s.prev.at {
		rs.Interval = now - s.prev.at
		rs.Delivered = s.sent - s.prev.delivered
		rs.DeliveryRate = mulDiv64(rs.Delivered, uint64(time.Second), uint64(rs.Interval))
	}
	s.c.OnAck(rs)
}

// OnFastRetransmit reports that duplicate ACKs or SACK started recovery:
// the segment at SND.UNA is presumed lost.
func (s *ccShim) OnFastRetransmit(inflight uint32, now time.Duration) {
	s.lost += uint64(s.mss)
	s.c.OnPacketLost(cc.LostPacket{Now: now, Size: s.mss, TxInFlight: inflight, TotalLost: s.lost, TotalDelivered: s.sent})
	s.c.OnCongestionEvent(cc.CongestionEvent{Now: now, Rule: cc.RuleDupAcks, Inflight: inflight})
}

// OnRecoveryExit reports the full ACK that ends recovery.
func (s *ccShim) OnRecoveryExit(inflight uint32, now time.Duration) { s.c.OnRecoveryExit(now) }

// OnRTO reports a retransmission timeout.
func (s *ccShim) OnRTO(inflight uint32, now time.Duration) { s.c.OnRTO(now, inflight) }

// OnIdle reports a restart after more than an RTO of idleness; the flight
// emptied at the last ACK, so that is when the idle period began. The TCB
// called it only past an RTO, so the RTO passed on is zero.
func (s *ccShim) OnIdle(now time.Duration) { s.c.OnIdleRestart(now, now-s.lastAck, 0) }
