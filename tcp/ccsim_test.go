package tcp

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/synack-go/synack/tcp/cc"
)

// A sans-IO bottleneck simulator on virtual time, to check congestion
// controllers at the unit level: an idealized sender (unlimited data, one
// ACK per packet, perfect selective acknowledgment, loss marked once three
// later packets are acknowledged as RFC 6675 and RACK's packet threshold
// would, a timeout when ACKs stop) drives a cc.Controller through the
// rateSampler and the pacer; the path is a bottleneck of a fixed rate with
// a drop-tail queue, a fixed propagation delay, and seeded random loss
// after the bottleneck. These are sanity checks of the controllers, not
// the end-to-end benchmark (bench/compare).

// simPath describes the path.
type simPath struct {
	rate   uint64        // bottleneck, bytes per second
	rtt    time.Duration // two-way propagation delay
	buffer uint64        // drop-tail queue, bytes
	loss   float64       // random loss after the bottleneck
	seed   uint64

	// A wall-clock path's scheduling, seeded: ACKs reach the sender in
	// bursts (ACK compression), as a link or a receiver that runs late
	// releases them: an ACK that finds no burst forming is held up to
	// ackBatch, and those that arrive meanwhile go with it; the sender
	// answers each ACK of a burst in turn. The pacer's wake-ups come up
	// to paceLate late, and the sender then catches up with a burst.
	ackBatch time.Duration
	paceLate time.Duration

	// From rateAt on, the bottleneck runs at rateAfter instead (another
	// flow left it, or joined).
	rateAt    time.Duration
	rateAfter uint64
}

const simMSS = 1448

// simResult is what a run measured after its warm-up.
type simResult struct {
	goodput     float64       // bits per second of new data delivered
	queueDelay  time.Duration // mean queueing delay of packets sent
	maxQueue    time.Duration
	retransmits int
	sent        int
	phases      []string // the controller's phases, in the order entered
	timeouts    int
}

func (r simResult) String() string {
	return fmt.Sprintf("%6.1f Mbit/s, queue %5.1f ms mean %5.1f ms max, %d/%d resent, %d RTOs",
		r.goodput/1e6, ms64(r.queueDelay), ms64(r.maxQueue), r.retransmits, r.sent, r.timeouts)
}

func ms64(d time.Duration) float64 { return float64(d) / 1e6 }

// simPacket is one transmission.
type simPacket struct {
	seg     int // data segment it carries
	rate    rateSnapshot
	sentAt  time.Duration
	state   uint8 // inFlight, acked, lost, dropped-but-unknown is still inFlight
	retrans bool
}

const (
	pktInFlight = iota
	pktAcked
	pktLost
)

type simAck struct {
	at  time.Duration
	pkt int
}

// simRun runs controller c over path p for dur, measuring after warmup.
func simRun(c cc.Controller, p simPath, dur, warmup time.Duration) simResult {
	var (
		rng       = rand.New(rand.NewPCG(p.seed, 0x5eed))
		jit       = rand.New(rand.NewPCG(p.seed, 0x717))
		batchEnd  time.Duration
		s         rateSampler
		pc        pacer
		pkts      = make([]simPacket, 0, int(dur.Seconds()*float64(max(p.rate, p.rateAfter))/simMSS)+1024)
		acks      []simAck
		ackHead   int
		rexmitQ   []int
		segDone   = map[int]bool{}
		nextSeg   int
		pipe      uint32
		linkFree  time.Duration
		now       time.Duration
		largest   = -1
		scan      int
		inRecov   bool
		recoverID int
		srtt      time.Duration
		rttvar    time.Duration
		lastAckAt time.Duration
		res       simResult
		goodBytes uint64
		qSum      time.Duration
		qN        int
		phase     string
	)
	c.SetSACK(true)
	notePhase := func() {
		if ph := c.Phase(); ph != phase {
			phase = ph
			res.phases = append(res.phases, ph)
		}
	}
	notePhase()
	pc.setRate(c.PacingRate(), c.SendQuantum())
	rto := func() time.Duration {
		if srtt == 0 {
			return time.Second
		}
		return max(srtt+4*rttvar, 200*time.Millisecond)
	}
	send := func() {
		for {
			if pipe+simMSS > c.Cwnd() {
				s.markCwndLimited()
				return
			}
			if pc.allow(now) == 0 {
				return
			}
			seg := nextSeg
			retrans := false
			for len(rexmitQ) > 0 {
				seg, rexmitQ = rexmitQ[0], rexmitQ[1:]
				if !segDone[seg] {
					retrans = true
					break
				}
			}
			if !retrans {
				seg = nextSeg
				nextSeg++
			}
			id := len(pkts)
			pkts = append(pkts, simPacket{seg: seg, sentAt: now, retrans: retrans})
			s.onSent(&pkts[id].rate, now, pc.departure(now), pipe, simMSS)
			pipe += simMSS
			pc.onSent(now, simMSS)
			if now >= warmup {
				res.sent++
				if retrans {
					res.retransmits++
				}
			}
			// The bottleneck: drop-tail queue, then the wire.
			rate := p.rate
			if p.rateAt > 0 && now >= p.rateAt {
				rate = p.rateAfter
			}
			start := max(now, linkFree)
			queued := mulDiv64(uint64(start-now), rate, uint64(time.Second))
			if queued+simMSS > p.buffer {
				continue // tail drop: the sender finds out from later ACKs
			}
			linkFree = start + time.Duration(mulDiv64(simMSS, uint64(time.Second), rate))
			if now >= warmup {
				q := start - now
				qSum += q
				qN++
				res.maxQueue = max(res.maxQueue, q)
			}
			if p.loss > 0 && rng.Float64() < p.loss {
				continue // random loss after the bottleneck
			}
			acks = append(acks, simAck{at: linkFree + p.rtt, pkt: id})
		}
	}
	onAck := func(a simAck) {
		s.beginAck()
		pk := &pkts[a.pkt]
		if pk.state != pktAcked {
			if pk.state == pktInFlight {
				pipe -= simMSS
			}
			pk.state = pktAcked
			s.onDelivered(&pk.rate, Seq(uint32(a.pkt+1)*simMSS), simMSS, now, pk.retrans)
			if !segDone[pk.seg] {
				segDone[pk.seg] = true
				if now >= warmup {
					goodBytes += simMSS
				}
			}
		}
		largest = max(largest, a.pkt)
		lastAckAt = now
		// Loss detection: three later packets acknowledged.
		newlyLost := false
		for ; scan < largest-2; scan++ {
			q := &pkts[scan]
			if q.state != pktInFlight {
				continue
			}
			q.state = pktLost
			pipe -= simMSS
			c.OnPacketLost(s.onLost(&q.rate, simMSS, now))
			rexmitQ = append(rexmitQ, q.seg)
			newlyLost = true
		}
		switch {
		case newlyLost && !inRecov:
			inRecov, recoverID = true, len(pkts)-1
			c.OnCongestionEvent(cc.CongestionEvent{Now: now, Rule: cc.RuleRACK, Inflight: pipe + s.rs.NewlyLost})
		case inRecov && a.pkt > recoverID:
			inRecov = false
			c.OnRecoveryExit(now)
		}
		rs := s.generate(now, pipe, srtt)
		if rs.RTT > 0 {
			if srtt == 0 {
				srtt, rttvar = rs.RTT, rs.RTT/2
			} else {
				d := srtt - rs.RTT
				if d < 0 {
					d = -d
				}
				rttvar = (3*rttvar + d) / 4
				srtt = (7*srtt + rs.RTT) / 8
			}
			rs.SRTT = srtt
		}
		c.OnAck(rs)
		pc.setRate(c.PacingRate(), c.SendQuantum())
		notePhase()
	}
	for now < dur {
		send()
		// The next event: an ACK, the pacer, or the timeout.
		next := now + rto()
		if pipe > 0 {
			next = lastAckAt + rto()
		}
		if ackHead < len(acks) {
			if at := acks[ackHead].at; p.ackBatch > 0 && at > batchEnd {
				batchEnd = at + time.Duration(jit.Int64N(int64(p.ackBatch)))
			}
			next = min(next, max(acks[ackHead].at, batchEnd))
		}
		if pn := pc.next(); pn > now && pipe+simMSS <= c.Cwnd() {
			if p.paceLate > 0 {
				pn += time.Duration(jit.Int64N(int64(p.paceLate)))
			}
			next = min(next, pn)
		}
		now = max(next, now)
		for ackHead < len(acks) && acks[ackHead].at <= now && (p.ackBatch == 0 || now >= batchEnd) {
			onAck(acks[ackHead])
			ackHead++
			if p.ackBatch > 0 {
				send() // the stack answers each ACK of a burst in turn
			}
		}
		if pipe > 0 && now >= lastAckAt+rto() {
			// Retransmission timeout: everything in flight is lost.
			res.timeouts++
			c.OnRTO(now, pipe)
			for i := scan; i < len(pkts); i++ {
				if pkts[i].state == pktInFlight {
					pkts[i].state = pktLost
					c.OnPacketLost(s.onLost(&pkts[i].rate, simMSS, now))
					rexmitQ = append(rexmitQ, pkts[i].seg)
				}
			}
			pipe = 0
			inRecov, recoverID = true, len(pkts)-1
			lastAckAt = now
			notePhase()
		}
	}
	res.goodput = float64(goodBytes) * 8 / (dur - warmup).Seconds()
	if qN > 0 {
		res.queueDelay = qSum / time.Duration(qN)
	}
	return res
}

// The path of bench/compare's lossy-goodput workload: 200 Mbit/s, 20 ms.
var lossyPath = simPath{rate: 200e6 / 8, rtt: 20 * time.Millisecond, buffer: 500_000, seed: 1}

// mathis is the Mathis et al. throughput bound for Reno, in bits per
// second: MSS/RTT · √(3/2) / √p.
func mathis(p float64) float64 {
	return simMSS * 8 / lossyPath.rtt.Seconds() * math.Sqrt(1.5) / math.Sqrt(p)
}

func simDuration(t *testing.T) (time.Duration, time.Duration) {
	if testing.Short() {
		return 8 * time.Second, 2 * time.Second
	}
	return 20 * time.Second, 2 * time.Second
}

var simLosses = []float64{0, 0.001, 0.01, 0.03}

// BBR on a 200 Mbit/s, 20 ms path with random loss. The draft's BBRv3
// keeps ≥ 90% without loss, but lowers its short-term model after every
// round with any loss (§5.5.10.3), so it loses some throughput already at
// 0.1–1% where its 2% loss threshold is not crossed, and most of it at 3%,
// where every bandwidth probe counts as too high (§5.5.10.2). With its loss
// threshold raised to 0.2 and LossTolerant, it keeps ≥ 90% at every rate,
// and so does synack's bbr (synackBBR: the same, with ProbeBW_UP bounded
// by its queue).
func TestSimBBRRandomLoss(t *testing.T) {
	dur, warm := simDuration(t)
	v3Floor := map[float64]float64{0: 0.9, 0.001: 0.8, 0.01: 0.7, 0.03: 0}
	for _, loss := range simLosses {
		p := lossyPath
		p.loss = loss
		link := 200e6 * (1 - loss)
		r := simRun(cc.NewBBR(simMSS, cc.BBRConfig{}), p, dur, warm)
		t.Logf("bbr v3        loss %4.1f%%: %v", loss*100, r)
		if r.goodput < v3Floor[loss]*link {
			t.Errorf("bbr at %.1f%% loss: %.1f Mbit/s, want ≥ %.0f%% of the link", loss*100, r.goodput/1e6, v3Floor[loss]*100)
		}
		if loss == 0.03 && r.goodput > 0.5*link {
			t.Errorf("bbr at 3%% loss: %.1f Mbit/s: the 2%% loss threshold no longer bites?", r.goodput/1e6)
		}
		tol2 := simRun(cc.NewBBR(simMSS, cc.BBRConfig{LossTolerant: true}), p, dur, warm)
		t.Logf("bbr v3 T 0.02 loss %4.1f%%: %v", loss*100, tol2)
		tol := simRun(cc.NewBBR(simMSS, cc.BBRConfig{LossThresh: 0.2, LossTolerant: true}), p, dur, warm)
		t.Logf("bbr v3 T 0.2  loss %4.1f%%: %v", loss*100, tol)
		syn := simRun(cc.NewBBR(simMSS, synackBBR(0)), p, dur, warm)
		t.Logf("bbr (synack)  loss %4.1f%%: %v", loss*100, syn)
		if tol.goodput < 0.9*link || syn.goodput < 0.9*link {
			t.Errorf("loss-tolerant bbr at %.1f%% loss: %.1f Mbit/s, synack's %.1f, want ≥ 90%% of the link", loss*100, tol.goodput/1e6, syn.goodput/1e6)
		}
	}
}

// CUBIC and NewReno collapse on random loss roughly as Mathis et al.
// predict (CUBIC's Reno-friendly region matches Reno's average window, RFC
// 9438 §4.3), and fill the link without loss.
func TestSimLossBasedRandomLoss(t *testing.T) {
	dur, warm := simDuration(t)
	for _, name := range []string{cc.NameReno, cc.NameCUBIC} {
		for _, loss := range simLosses {
			p := lossyPath
			p.loss = loss
			c, _ := cc.New(name, simMSS)
			r := simRun(c, p, dur, warm)
			if loss == 0 {
				t.Logf("%-5s loss %4.1f%%: %v", name, loss*100, r)
				if r.goodput < 0.85*200e6 {
					t.Errorf("%s without loss: %.1f Mbit/s, want ≥ 85%% of 200", name, r.goodput/1e6)
				}
				continue
			}
			m := mathis(loss)
			t.Logf("%-5s loss %4.1f%%: %v (Mathis %.1f Mbit/s, ratio %.2f)", name, loss*100, r, m/1e6, r.goodput/m)
			if r.goodput < m/2 || r.goodput > 2*m {
				t.Errorf("%s at %.1f%% loss: %.1f Mbit/s, Mathis says %.1f", name, loss*100, r.goodput/1e6, m/1e6)
			}
		}
	}
}

// Bufferbloat: with a 1 MB drop-tail buffer (two BDPs) and no random loss,
// BBR keeps the queue short while CUBIC fills it.
func TestSimBufferbloat(t *testing.T) {
	dur, warm := simDuration(t)
	p := lossyPath
	p.buffer = 1 << 20
	b := simRun(cc.NewBBR(simMSS, cc.BBRConfig{}), p, dur, warm)
	c := simRun(cc.NewCUBIC(simMSS, cc.CUBICConfig{}), p, dur, warm)
	t.Logf("bbr   1 MB buffer: %v", b)
	t.Logf("cubic 1 MB buffer: %v", c)
	full := time.Duration(float64(p.buffer) / float64(p.rate) * float64(time.Second))
	if b.queueDelay > 5*time.Millisecond || b.goodput < 0.9*200e6 {
		t.Errorf("bbr: mean queueing delay %v, goodput %.1f Mbit/s", b.queueDelay, b.goodput/1e6)
	}
	if c.queueDelay < full/2 {
		t.Errorf("cubic: mean queueing delay %v, want at least half the full buffer's %v", c.queueDelay, full)
	}
}

// BBR's state machine on a clean path (draft-ietf-ccwg-bbr Appendix A.1,
// A.3, A.10): Startup ends on the bandwidth plateau with max_bw within 2%
// of the bottleneck, Drain, the ProbeBW cycle, ProbeRTT after 5 s.
func TestSimBBRStates(t *testing.T) {
	c := cc.NewBBR(simMSS, cc.BBRConfig{})
	r := simRun(c, lossyPath, 12*time.Second, time.Second)
	want := []string{"startup", "drain", "probe_bw_down", "probe_bw_cruise", "probe_bw_refill", "probe_bw_up", "probe_rtt"}
	seen := map[string]bool{}
	for _, ph := range r.phases {
		seen[ph] = true
	}
	for _, ph := range want {
		if !seen[ph] {
			t.Errorf("never entered %s: %v", ph, r.phases)
		}
	}
	if r.phases[0] != "startup" || r.phases[1] != "drain" {
		t.Errorf("start: %v", r.phases[:min(3, len(r.phases))])
	}
	if r.retransmits != 0 {
		t.Errorf("%d retransmissions on a clean path with a BDP of buffer", r.retransmits)
	}
}

// HyStart++ leaves slow start before the first loss on a deep buffer: RFC
// 9406's point, fewer losses than RFC 5681 slow start.
func TestSimHyStartAvoidsOvershoot(t *testing.T) {
	p := lossyPath
	p.buffer = 1 << 20
	hs := simRun(cc.NewCUBIC(simMSS, cc.CUBICConfig{}), p, 3*time.Second, 0)
	ss := simRun(cc.NewCUBIC(simMSS, cc.CUBICConfig{NoHyStart: true}), p, 3*time.Second, 0)
	t.Logf("cubic+hystart++ %v %v", hs, hs.phases)
	t.Logf("cubic+ss        %v %v", ss, ss.phases)
	if hs.retransmits >= ss.retransmits {
		t.Errorf("HyStart++ resent %d segments, standard slow start %d", hs.retransmits, ss.retransmits)
	}
}

// The wall-clock path of bench/compare's bufferbloat and lossy-goodput
// cases on virtual time: ACKs held up to 2 ms and released in bursts, and
// a pacing timer up to 1 ms late. The ACK bursts and the pacer's catch-up
// bursts must not inflate BBR's bandwidth estimate: an estimate above the
// bottleneck paces ProbeBW_CRUISE faster than the link, and the queue then
// grows until the window (two BDPs) stops it, a BDP deep, 20 ms; on the
// 500,000-byte queue (one BDP) it overflows once a cycle.
//
// Nor may ProbeBW_UP overflow the one-BDP queue: synack's bbr ends it a
// round after it began, once a quarter BDP is queued
// (cc.BBRConfig.QueueBoundedProbe), so its queue stays near 5 ms and it
// resends nothing without random loss. Before, each UP lasted three rounds
// at pacing gain 1.25 (until the bandwidth plateau, §5.3.1.2: the 20% loss
// threshold never ended it), queued 11–13 ms on the path alone and, with
// the bursts, overflowed: 91 of 304,488 segments resent, all sent in UP, a
// 20 ms queue on the 1 MB buffer. The draft's UP is left as it is.
func TestSimBBRJitter(t *testing.T) {
	dur, warm := simDuration(t)
	p := lossyPath
	p.ackBatch, p.paceLate = 2*time.Millisecond, time.Millisecond
	deep := p
	deep.buffer = 1 << 20
	for _, cfg := range []struct {
		name         string
		cfg          cc.BBRConfig
		boundedProbe bool
	}{{"bbr", synackBBR(0), true}, {"bbr-draft", cc.BBRConfig{}, false}} {
		b := simRun(cc.NewBBR(simMSS, cfg.cfg), deep, dur, warm)
		t.Logf("%-9s 1 MB buffer: %v", cfg.name, b)
		if b.queueDelay > 5*time.Millisecond || b.goodput < 0.9*200e6 {
			t.Errorf("%s, 1 MB buffer: mean queueing delay %v, goodput %.1f Mbit/s", cfg.name, b.queueDelay, b.goodput/1e6)
		}
		l := simRun(cc.NewBBR(simMSS, cfg.cfg), p, dur, warm)
		t.Logf("%-9s 500 kB buffer: %v", cfg.name, l)
		if l.retransmits > l.sent/1000 || l.goodput < 0.9*200e6 {
			t.Errorf("%s, 500 kB buffer: %d of %d segments resent, goodput %.1f Mbit/s", cfg.name, l.retransmits, l.sent, l.goodput/1e6)
		}
		if !cfg.boundedProbe {
			continue
		}
		const probeQueue = 10 * time.Millisecond // a quarter BDP is 5 ms; the full 500 kB queue 20 ms
		if b.maxQueue > probeQueue || l.maxQueue > probeQueue {
			t.Errorf("%s: the queue reached %v (1 MB buffer) and %v (500 kB), want at most %v", cfg.name, b.maxQueue, l.maxQueue, probeQueue)
		}
		if l.retransmits != 0 {
			t.Errorf("%s, 500 kB buffer, no random loss: %d segments resent, want none", cfg.name, l.retransmits)
		}
	}
}

// A bandwidth probe still finds bandwidth that another flow leaves: the
// bottleneck goes from 50 to 200 Mbit/s at 4 s, and within the probe that
// follows (2–3 s apart) BBR's estimate grows 25% a round. Synack's bbr ends
// ProbeBW_UP once its queue is built (cc.BBRConfig.QueueBoundedProbe), and
// not while the flight exceeds the old BDP only because the path takes
// more: with the ACK bursts of TestSimBBRJitter it still fills the link
// in the eighth second. Without the ACK aggregation allowance in the
// target it ended every probe a round in, max_bw grew 25% a probe, and it
// delivered 89 Mbit/s there.
func TestSimBBRFindsBandwidth(t *testing.T) {
	p := lossyPath
	p.rate = 50e6 / 8
	p.rateAt, p.rateAfter = 4*time.Second, 200e6/8
	jitter := p
	jitter.ackBatch, jitter.paceLate = 2*time.Millisecond, time.Millisecond
	for _, path := range []simPath{p, jitter} {
		r := simRun(cc.NewBBR(simMSS, synackBBR(0)), path, 8*time.Second, 7*time.Second)
		t.Logf("bbr, ACK bursts %v, 50 then 200 Mbit/s, the eighth second: %v", path.ackBatch > 0, r)
		if r.goodput < 0.9*200e6 {
			t.Errorf("bbr, ACK bursts %v: %.1f Mbit/s in the eighth second, want ≥ 90%% of the new 200", path.ackBatch > 0, r.goodput/1e6)
		}
	}
}
