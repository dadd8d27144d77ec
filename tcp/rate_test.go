package tcp

import (
	"math/rand/v2"
	"testing"
	"time"
)

const rmss = 1000

// flight is a test sender: packets of rmss bytes with their snapshots.
type flight struct {
	s        rateSampler
	pkts     []rateSnapshot
	inflight uint32
}

func (f *flight) send(now time.Duration) int {
	f.pkts = append(f.pkts, rateSnapshot{})
	f.s.onSent(&f.pkts[len(f.pkts)-1], now, now, f.inflight, rmss)
	f.inflight += rmss
	return len(f.pkts) - 1
}

// ack delivers packets ids at now and returns the rate sample.
func (f *flight) ack(now time.Duration, ids ...int) (rs rateSampleView) {
	f.s.beginAck()
	for _, i := range ids {
		if f.pkts[i].pending {
			f.inflight -= rmss
		}
		f.s.onDelivered(&f.pkts[i], Seq(rmss*(i+1)), rmss, now, false)
	}
	return rateSampleView(*f.s.generate(now, f.inflight, 20*time.Millisecond))
}

type rateSampleView = struct {
	Now            time.Duration
	NewlyAcked     uint32
	NewlyLost      uint32
	RTT            time.Duration
	SRTT           time.Duration
	DeliveryRate   uint64
	Delivered      uint64
	Interval       time.Duration
	PriorDelivered uint64
	IsAppLimited   bool
	TxInFlight     uint32
	Lost           uint64
	TotalDelivered uint64
	Inflight       uint32
	IsCwndLimited  bool
	SACKOnly       bool
}

const ms = time.Millisecond

// draft-ietf-ccwg-bbr §4.1.1.2: a sender paced at one packet per ms on a
// 20 ms path. The first flight's last packet was sent before anything was
// delivered, so its sample spans the whole flight (10 packets: 9 ms of
// sending, 29 ms of ACKs); in steady state each sample is one round trip
// of ACKs and gives exactly the sending rate, 1000 bytes per ms.
func TestRateSteadyFlight(t *testing.T) {
	var f flight
	var rs rateSampleView
	for now := time.Duration(0); now < 100*ms; now += ms {
		if i := int(now/ms) - 20; i >= 0 {
			rs = f.ack(now, i) // the ACK of the packet sent 20 ms ago
			if rs.RTT != 20*ms || rs.NewlyAcked != rmss {
				t.Fatalf("ack %d: rtt %v acked %d", i, rs.RTT, rs.NewlyAcked)
			}
			if i == 9 && (rs.Delivered != 10*rmss || rs.Interval != 29*ms || rs.PriorDelivered != 0) {
				t.Fatalf("first flight: delivered %d over %v (prior %d)", rs.Delivered, rs.Interval, rs.PriorDelivered)
			}
			if i >= 20 && rs.DeliveryRate != 1_000_000 {
				t.Fatalf("ack %d: %d B/s over %d bytes in %v, want 1e6", i, rs.DeliveryRate, rs.Delivered, rs.Interval)
			}
		}
		f.send(now)
	}
	if rs.TotalDelivered != 80*rmss || rs.Inflight != 19*rmss || rs.TxInFlight != 20*rmss {
		t.Fatalf("totals: delivered %d inflight %d tx_in_flight %d", rs.TotalDelivered, rs.Inflight, rs.TxInFlight)
	}
}

// draft §4.1.1.2.2–4: ACK compression. Aggregated ACKs can make the data
// look delivered faster than it was sent; the delivery rate is the lower
// of the ACK rate and the send rate, so the interval is the longer of
// ack_elapsed and send_elapsed.
func TestRateACKCompression(t *testing.T) {
	var s rateSampler
	s.minRTT = ms
	p := rateSnapshot{departTime: 29 * ms, sendTime: 29 * ms, firstSendTime: 0, deliveredTime: 25 * ms, pending: true}
	s.beginAck()
	s.delivered = 29 * rmss // 29 packets delivered while P was in flight
	s.onDelivered(&p, Seq(30*rmss), rmss, 30*ms, false)
	rs := s.generate(30*ms, 0, 20*ms)
	if rs.Interval != 29*ms || rs.DeliveryRate != 1_034_482 {
		t.Fatalf("interval %v rate %d: want the send interval, 29 ms, 30 packets in it", rs.Interval, rs.DeliveryRate)
	}
}

// draft §4.1.2.3: an interval shorter than the min RTT (a spurious
// retransmission acknowledged early) gives no rate.
func TestRateIntervalBelowMinRTT(t *testing.T) {
	var f flight
	f.send(0)
	f.ack(20*ms, 0)
	f.send(21 * ms)
	f.s.beginAck()
	f.s.onDelivered(&f.pkts[1], Seq(2*rmss), rmss, 22*ms, true) // "acked" after 1 ms
	rs := f.s.generate(22*ms, 0, 20*ms)
	if rs.DeliveryRate != 0 || rs.RTT != 0 || rs.NewlyAcked != rmss {
		t.Fatalf("rate %d rtt %v from an implausible sample", rs.DeliveryRate, rs.RTT)
	}
}

// draft §4.1.1.3 and §4.1.2.4: once the sender runs out of data, the
// samples of packets sent until the bubble is acknowledged are
// application-limited.
func TestRateAppLimited(t *testing.T) {
	var f flight
	for i := range 4 {
		f.send(time.Duration(i) * ms)
	}
	f.s.checkAppLimited(true, f.inflight, 10*rmss, 0, 0) // nothing to send, window open
	if f.s.appLimited != 4*rmss {
		t.Fatalf("C.app_limited = %d, want delivered+inflight = %d", f.s.appLimited, 4*rmss)
	}
	f.send(5 * ms) // sent inside the bubble
	rs := f.ack(20*ms, 0)
	if rs.IsAppLimited {
		t.Fatal("a packet sent before the bubble gave an app-limited sample")
	}
	for i := 1; i < 4; i++ {
		f.ack(20*ms+time.Duration(i)*ms, i)
	}
	rs = f.ack(25*ms, 4)
	if !rs.IsAppLimited {
		t.Fatal("the packet sent in the bubble gave a sample that is not app-limited")
	}
	if f.s.appLimited != 0 {
		t.Fatal("the bubble did not end once delivered passed it")
	}
	f.s.checkAppLimited(true, 9*rmss, 9*rmss, 0, 0) // window full: not app-limited
	f.s.checkAppLimited(false, 0, 9*rmss, 0, 0)     // data to send: not app-limited
	f.s.checkAppLimited(true, 0, 9*rmss, rmss, 0)   // a lost packet not yet resent
	if f.s.appLimited != 0 {
		t.Fatal("marked app-limited with the window full, data queued or a loss to repair")
	}
}

// A stretch ACK takes its sample from the most recently sent packet it
// covers, and RS.rtt from it too.
func TestRateStretchACKUsesNewest(t *testing.T) {
	var f flight
	for i := range 6 {
		f.send(time.Duration(i) * ms)
	}
	rs := f.ack(30*ms, 5, 0, 3) // SACK of 5, then cumulative 0..
	if rs.RTT != 25*ms || rs.TxInFlight != 6*rmss || rs.NewlyAcked != 3*rmss {
		t.Fatalf("rtt %v tx_in_flight %d acked %d: not from the newest packet", rs.RTT, rs.TxInFlight, rs.NewlyAcked)
	}
	if rs = f.ack(31*ms, 0, 5); rs.NewlyAcked != 0 {
		t.Fatalf("re-acknowledged packets counted again: %d", rs.NewlyAcked)
	}
}

// Losses: RS.lost is what was lost between the newest packet's send and
// its ACK; a LostPacket carries the packet's snapshot (draft §5.5.10.2).
func TestRateLost(t *testing.T) {
	var f flight
	for i := range 5 {
		f.send(time.Duration(i) * ms)
	}
	f.s.beginAck()
	lp := f.s.onLost(&f.pkts[1], rmss, 21*ms)
	f.inflight -= rmss
	if lp.TxInFlight != 2*rmss || lp.LostAtSend != 0 || lp.TotalLost != rmss || lp.Size != rmss {
		t.Fatalf("lost packet %+v", lp)
	}
	f.s.onDelivered(&f.pkts[4], Seq(5*rmss), rmss, 24*ms, false)
	f.inflight -= rmss
	rs := f.s.generate(24*ms, f.inflight, 20*ms)
	if rs.Lost != rmss || rs.NewlyLost != rmss {
		t.Fatalf("RS.lost %d newly_lost %d", rs.Lost, rs.NewlyLost)
	}
	f.send(25 * ms) // sent after the loss: P.lost = 1000
	if f.pkts[5].lost != rmss {
		t.Fatalf("P.lost %d", f.pkts[5].lost)
	}
}

// An idle sender restarts the sample clock at its first send.
func TestRateRestartFromIdle(t *testing.T) {
	var f flight
	f.send(0)
	f.ack(20*ms, 0)
	f.send(5 * time.Second)
	if p := f.pkts[1]; p.deliveredTime != 5*time.Second || p.firstSendTime != 5*time.Second {
		t.Fatalf("after idle: delivered_time %v first_send_time %v", p.deliveredTime, p.firstSendTime)
	}
	rs := f.ack(5*time.Second+20*ms, 1)
	if rs.Interval != 20*ms {
		t.Fatalf("interval %v spans the idle period", rs.Interval)
	}
}

// C.is_cwnd_limited: the window stopped a send in the last packet-timed
// round. The flag of a round shows from the ACK that ends it until the end
// of the next.
func TestRateCwndLimitedRounds(t *testing.T) {
	var f flight
	f.send(0)
	f.send(0)
	f.s.markCwndLimited()
	if rs := f.ack(20*ms, 0); !rs.IsCwndLimited {
		t.Fatal("not cwnd-limited at the end of the round it was")
	}
	f.send(20 * ms)
	if rs := f.ack(21*ms, 1); !rs.IsCwndLimited {
		t.Fatal("forgot within the next round")
	}
	if rs := f.ack(40*ms, 2); rs.IsCwndLimited {
		t.Fatal("still cwnd-limited after a round without it")
	}
}

func TestRateAllocs(t *testing.T) {
	var f flight
	f.pkts = make([]rateSnapshot, 0, 4096)
	now := time.Duration(0)
	if n := testing.AllocsPerRun(1000, func() {
		now += ms
		i := f.send(now)
		f.ack(now+20*ms, i)
	}); n != 0 {
		t.Fatalf("%v allocs per packet", n)
	}
}

// BenchmarkRateSampler is one packet's life: its send, its ACK, the sample.
func BenchmarkRateSampler(b *testing.B) {
	var s rateSampler
	var p rateSnapshot
	b.ReportAllocs()
	now := time.Duration(0)
	for i := 0; i < b.N; i++ {
		now += time.Microsecond
		s.onSent(&p, now, now, 100*rmss, rmss)
		s.beginAck()
		s.onDelivered(&p, Seq(i*rmss), rmss, now+20*ms, false)
		_ = s.generate(now+20*ms, 100*rmss, 20*ms)
	}
}

// A paced sender whose pacing timer is served late catches up with a
// burst, and on a path faster than its pacing rate the ACKs come back
// just as bunched (the sender's own bursts, ACK compression). The send
// interval is the guard against ACK compression (draft §4.1.2.3): on the
// pacer's schedule (the departure times, Linux's EDT) it spans the data
// at the pacing rate however late the timer was, so no sample exceeds
// the pacing rate; the actual send times would give samples up to a late
// wake-up faster.
func TestRateLatePacingTimer(t *testing.T) {
	const rate = 1_000_000 // 1 packet per ms
	var p pacer
	p.setRate(rate, 3*rmss)
	var s rateSampler
	type sent struct {
		snap rateSnapshot
		at   time.Duration
	}
	pkts := make([]sent, 0, 2000)
	var inflight uint32
	acked := 0
	now := time.Duration(0)
	rng := rand.New(rand.NewPCG(1, 2))
	for now < 2*time.Second {
		// The ACKs of packets sent 20 ms ago (the path is fast: they
		// come back as they left).
		for acked < len(pkts) && pkts[acked].at+20*ms <= now {
			s.beginAck()
			s.onDelivered(&pkts[acked].snap, Seq(rmss*(acked+1)), rmss, now, false)
			inflight -= rmss
			acked++
			rs := s.generate(now, inflight, 20*ms)
			if rs.DeliveryRate > rate*101/100 {
				t.Fatalf("at %v: sample %d B/s (%d bytes over %v), above the pacing rate %d",
					now, rs.DeliveryRate, rs.Delivered, rs.Interval, rate)
			}
		}
		for p.allow(now) > 0 {
			pkts = append(pkts, sent{at: now})
			s.onSent(&pkts[len(pkts)-1].snap, now, p.departure(now), inflight, rmss)
			inflight += rmss
			p.onSent(now, rmss)
		}
		// The next wake-up: the pacer's time, up to 2.5 ms late, or the
		// next ACK.
		next := p.next() + time.Duration(rng.Int64N(int64(2500*time.Microsecond)))
		if acked < len(pkts) {
			next = min(next, pkts[acked].at+20*ms)
		}
		now = max(next, now+1)
	}
	if acked < 1500 {
		t.Fatalf("%d packets acknowledged in 2 s at 1 per ms", acked)
	}
}
