package cc

import (
	"math"
	"testing"
	"time"
)

const mss = 1448

// ack is a rate sample for an ACK of n bytes by a cwnd-limited sender.
func ack(now time.Duration, n uint32) *RateSample {
	return &RateSample{Now: now, NewlyAcked: n, IsCwndLimited: true, SRTT: 20 * time.Millisecond}
}

// RFC 6928 §2: the initial window is min(10*MSS, max(2*MSS, 14600)).
func TestInitialWindow(t *testing.T) {
	for _, name := range Names() {
		for _, tc := range []struct{ mss, want uint32 }{{1448, 14480}, {1460, 14600}, {536, 5360}, {9000, 18000}} {
			c, err := New(name, tc.mss)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Cwnd(); got != tc.want {
				t.Errorf("%s MSS %d: IW %d, want %d", name, tc.mss, got, tc.want)
			}
		}
	}
	if NewReno(mss).Ssthresh() != math.MaxUint32 {
		t.Error("initial ssthresh is not arbitrarily high")
	}
}

func TestNewUnknown(t *testing.T) {
	if _, err := New("vegas", mss); err == nil {
		t.Fatal("New accepted an unknown name")
	}
	for _, name := range Names() {
		c, err := New(name, mss)
		if err != nil || c.Name() != name {
			t.Fatalf("New(%q) = %v, %v", name, c, err)
		}
	}
}

// Slow start with byte counting (RFC 3465 §2.2, L = 2): an ACK of one
// segment adds one segment, a stretch ACK of ten adds two.
func TestRenoSlowStartByteCounting(t *testing.T) {
	c := NewReno(mss)
	start := c.Cwnd()
	for range start / mss {
		c.OnAck(ack(0, mss))
	}
	if c.Cwnd() != 2*start {
		t.Fatalf("after one window: cwnd %d, want %d", c.Cwnd(), 2*start)
	}
	c.OnAck(ack(0, 10*mss))
	if c.Cwnd() != 2*start+2*mss {
		t.Fatalf("stretch ACK: cwnd %d, want %d (L = 2 SMSS)", c.Cwnd(), 2*start+2*mss)
	}
	c.OnAck(ack(0, 100)) // a short segment counts its bytes
	if c.Cwnd() != 2*start+2*mss+100 {
		t.Fatalf("short ACK: cwnd %d", c.Cwnd())
	}
	if c.Phase() != "slow_start" {
		t.Fatalf("phase %q", c.Phase())
	}
}

// Congestion avoidance: one MSS per window's worth of acknowledged bytes
// (RFC 5681 §3.1, RFC 3465 §2.1).
func TestRenoCongestionAvoidance(t *testing.T) {
	c := NewReno(mss)
	c.OnCongestionEvent(CongestionEvent{Rule: RuleDupAcks, Inflight: 20 * mss}) // ssthresh = cwnd = 10 MSS
	c.OnRecoveryExit(0)
	w := c.Cwnd()
	if w != 10*mss || c.Ssthresh() != 10*mss {
		t.Fatalf("cwnd %d ssthresh %d, want %d", w, c.Ssthresh(), 10*mss)
	}
	for range 9 {
		c.OnAck(ack(0, mss))
	}
	if c.Cwnd() != w {
		t.Fatalf("grew before a full window was acked: %d", c.Cwnd())
	}
	c.OnAck(ack(0, mss))
	if c.Cwnd() != w+mss || c.Phase() != "congestion_avoidance" {
		t.Fatalf("after a window: cwnd %d, want %d (%s)", c.Cwnd(), w+mss, c.Phase())
	}
}

// RFC 7661 §4.3: no growth while the window is not validated: not
// cwnd-limited and pipeACK below half the window.
func TestRenoGrowsOnlyWhenValidated(t *testing.T) {
	c := NewReno(mss)
	w := c.Cwnd()
	rs := &RateSample{NewlyAcked: mss, Delivered: uint64(w/2 - 1)}
	c.OnAck(rs)
	if c.Cwnd() != w {
		t.Fatalf("grew while application-limited: %d", c.Cwnd())
	}
	rs.Delivered = uint64(w / 2) // pipeACK ≥ cwnd/2: validated
	c.OnAck(rs)
	if c.Cwnd() != w+mss {
		t.Fatalf("validated phase: cwnd %d, want %d", c.Cwnd(), w+mss)
	}
}

// Fast retransmit halves the flight (never below 2 MSS) and recovery holds
// the window for PRR; recovery exit sets cwnd = ssthresh; RTO drops cwnd to
// one MSS and a second RTO holds ssthresh (RFC 5681 §3.1).
func TestRenoLossReactions(t *testing.T) {
	c := NewReno(mss)
	c.OnCongestionEvent(CongestionEvent{Rule: RuleSACK, Inflight: 30 * mss})
	if c.Ssthresh() != 15*mss || c.Cwnd() != 15*mss || !c.UsesPRR() || c.Phase() != "recovery" {
		t.Fatalf("fast retransmit: cwnd %d ssthresh %d %s", c.Cwnd(), c.Ssthresh(), c.Phase())
	}
	c.OnAck(ack(0, 5*mss))
	if c.Cwnd() != 15*mss {
		t.Fatalf("grew in recovery: %d", c.Cwnd())
	}
	c.OnRecoveryExit(0)
	if c.Cwnd() != 15*mss {
		t.Fatalf("recovery exit: cwnd %d, want ssthresh", c.Cwnd())
	}
	c.OnCongestionEvent(CongestionEvent{Rule: RuleRACK, Inflight: mss})
	if c.Ssthresh() != 2*mss {
		t.Fatalf("ssthresh floor: %d", c.Ssthresh())
	}
	c.OnRecoveryExit(0)
	c.OnRTO(0, 40*mss)
	if c.Cwnd() != mss || c.Ssthresh() != 20*mss {
		t.Fatalf("RTO: cwnd %d ssthresh %d", c.Cwnd(), c.Ssthresh())
	}
	c.OnRTO(0, 2*mss)
	if c.Ssthresh() != 20*mss {
		t.Fatalf("second RTO changed ssthresh to %d", c.Ssthresh())
	}
	c.OnAck(ack(0, mss)) // slow start after an RTO
	if c.Cwnd() != 2*mss {
		t.Fatalf("no slow start after RTO: %d", c.Cwnd())
	}
}

// RFC 4015 / Linux undo: a spurious congestion event gives the window back.
func TestRenoUndo(t *testing.T) {
	c := NewReno(mss)
	for range 20 {
		c.OnAck(ack(0, mss))
	}
	w, ss := c.Cwnd(), c.Ssthresh()
	c.OnCongestionEvent(CongestionEvent{Rule: RuleDupAcks, Inflight: w})
	c.OnSpuriousCongestion(0)
	if c.Cwnd() != w || c.Ssthresh() != ss || c.Phase() != "slow_start" {
		t.Fatalf("undo: cwnd %d ssthresh %d, want %d %d", c.Cwnd(), c.Ssthresh(), w, ss)
	}
	c.OnRTO(0, w)
	c.OnSpuriousCongestion(0)
	if c.Cwnd() != w {
		t.Fatalf("RTO undo: cwnd %d, want %d", c.Cwnd(), w)
	}
}

// RFC 5681 §4.1: after idle longer than an RTO, cwnd is at most the
// restart window (IW); a shorter pause changes nothing.
func TestRenoIdleRestart(t *testing.T) {
	c := NewReno(mss)
	for range 100 {
		c.OnAck(ack(0, mss))
	}
	w := c.Cwnd()
	c.OnIdleRestart(0, 100*time.Millisecond, 200*time.Millisecond)
	if c.Cwnd() != w {
		t.Fatalf("short idle cut cwnd to %d", c.Cwnd())
	}
	c.OnIdleRestart(0, time.Second, 200*time.Millisecond)
	if c.Cwnd() != 10*mss {
		t.Fatalf("after idle: cwnd %d, want %d", c.Cwnd(), 10*mss)
	}
}

// Linux's internal pacing: 200% of cwnd/srtt while cwnd < ssthresh/2, 120%
// otherwise; none before an RTT sample.
func TestLinuxPacingRate(t *testing.T) {
	srtt := 10 * time.Millisecond
	if r := LinuxPacingRate(100_000, math.MaxUint32, 0, srtt); r != 20_000_000 {
		t.Errorf("slow start: %d B/s, want 20e6", r)
	}
	if r := LinuxPacingRate(100_000, 150_000, 0, srtt); r != 12_000_000 {
		t.Errorf("congestion avoidance: %d B/s, want 12e6", r)
	}
	if r := LinuxPacingRate(100_000, 150_000, 200_000, srtt); r != 24_000_000 {
		t.Errorf("inflight above cwnd: %d B/s, want 24e6", r)
	}
	if LinuxPacingRate(100_000, 150_000, 0, 0) != 0 {
		t.Error("paces without an RTT")
	}
	c := NewReno(mss)
	if c.PacingRate() != 0 || c.SendQuantum() != 2*mss {
		t.Errorf("before an RTT: rate %d quantum %d", c.PacingRate(), c.SendQuantum())
	}
	c.OnAck(ack(0, mss))
	if c.PacingRate() == 0 {
		t.Error("reno does not pace by default")
	}
	if NewRenoConfig(mss, RenoConfig{NoPacing: true}).PacingRate() != 0 {
		t.Error("NoPacing paces")
	}
}

func TestSendQuantum(t *testing.T) {
	for _, tc := range []struct {
		rate uint64
		want uint32
	}{{0, 2 * mss}, {1_000_000, 2 * mss}, {10_000_000, 10_000}, {1e9, 64 << 10}} {
		if got := sendQuantum(tc.rate, mss); got != tc.want {
			t.Errorf("rate %d: quantum %d, want %d", tc.rate, got, tc.want)
		}
	}
}

func benchmarkOnAck(b *testing.B, c Controller) {
	b.ReportAllocs()
	rs := ack(0, mss)
	rs.DeliveryRate, rs.Delivered, rs.Interval, rs.RTT = 10e6, 100*mss, 20*time.Millisecond, 20*time.Millisecond
	for i := 0; i < b.N; i++ {
		rs.Now += 100 * time.Microsecond
		rs.PriorDelivered += mss
		rs.TotalDelivered += mss
		c.OnAck(rs)
	}
}

func BenchmarkOnAck(b *testing.B) {
	for _, name := range Names() {
		b.Run(name, func(b *testing.B) {
			c, _ := New(name, mss)
			benchmarkOnAck(b, c)
		})
	}
}

// Zero allocations per ACK for every controller.
func TestOnAckAllocs(t *testing.T) {
	for _, name := range Names() {
		c, _ := New(name, mss)
		rs := ack(0, mss)
		rs.DeliveryRate, rs.Delivered, rs.Interval, rs.RTT = 10e6, 100*mss, 20*time.Millisecond, 20*time.Millisecond
		n := testing.AllocsPerRun(1000, func() {
			rs.Now += 100 * time.Microsecond
			rs.PriorDelivered += mss
			rs.TotalDelivered += mss
			c.OnAck(rs)
			c.OnPacketLost(LostPacket{Now: rs.Now, Size: mss, TxInFlight: 50 * mss, TotalLost: 1})
			_ = c.Cwnd() + c.SendQuantum()
			_ = c.PacingRate()
		})
		if n != 0 {
			t.Errorf("%s: %v allocs per ACK", name, n)
		}
	}
}

// linuxPacing answers as LinuxPacingRate whatever the order of its
// questions: repeated ones (its kept answer), and ones that differ in any
// input alone, the ratio's switch at ssthresh/2 included.
func TestLinuxPacingKeepsAnswer(t *testing.T) {
	var m linuxPacing
	rng := uint64(1)
	next := func(n uint64) uint64 {
		rng = rng*6364136223846793005 + 1442695040888963407
		return (rng >> 33) % n
	}
	cw, ss, in, srtt := uint32(14480), uint32(math.MaxUint32), uint32(0), time.Duration(0)
	for i := range 100000 {
		switch next(6) {
		case 0:
			cw = uint32(next(1 << 20))
		case 1:
			ss = uint32(next(1 << 21))
		case 2:
			in = uint32(next(1 << 20))
		case 3:
			srtt = time.Duration(next(uint64(time.Second)))
		case 4:
			ss = 2*cw + uint32(next(3)) - 1 // at the ratio's switch
		}
		if got, want := m.get(cw, ss, in, srtt), LinuxPacingRate(cw, ss, in, srtt); got != want {
			t.Fatalf("question %d (%d, %d, %d, %v): %d, want %d", i, cw, ss, in, srtt, got, want)
		}
	}
}
