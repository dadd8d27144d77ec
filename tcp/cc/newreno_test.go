package cc

import (
	"math"
	"testing"
)

const mss = 1448

// RFC 6928 §2: the initial window is min(10*MSS, max(2*MSS, 14600)).
func TestInitialWindow(t *testing.T) {
	for _, tc := range []struct{ mss, want uint32 }{{1448, 14480}, {1460, 14600}, {536, 5360}, {9000, 18000}} {
		if got := NewReno(tc.mss).Cwnd(); got != tc.want {
			t.Errorf("MSS %d: IW %d, want %d", tc.mss, got, tc.want)
		}
	}
	if NewReno(mss).Ssthresh() != math.MaxUint32 {
		t.Error("initial ssthresh is not arbitrarily high")
	}
}

// Slow start: cwnd grows by at most one MSS per ACK (RFC 5681 §3.1), so one
// window of ACKs for one segment each doubles it.
func TestSlowStart(t *testing.T) {
	c := NewReno(mss)
	start := c.Cwnd()
	for range start / mss {
		c.OnAck(mss, start, 0, 0)
	}
	if c.Cwnd() != 2*start {
		t.Fatalf("after one window: cwnd %d, want %d", c.Cwnd(), 2*start)
	}
	c.OnAck(10*mss, c.Cwnd(), 0, 0) // a stretch ACK still adds one MSS
	if c.Cwnd() != 2*start+mss {
		t.Fatalf("stretch ACK: cwnd %d, want %d", c.Cwnd(), 2*start+mss)
	}
}

// Congestion avoidance: one MSS per window's worth of acknowledged bytes.
func TestCongestionAvoidance(t *testing.T) {
	c := NewReno(mss)
	c.OnFastRetransmit(20*mss, 0) // ssthresh = cwnd = 10 MSS
	c.OnRecoveryExit(20*mss, 0)
	w := c.Cwnd()
	if w != 10*mss || c.Ssthresh() != 10*mss {
		t.Fatalf("cwnd %d ssthresh %d, want %d", w, c.Ssthresh(), 10*mss)
	}
	for range 9 {
		c.OnAck(mss, w, 0, 0)
	}
	if c.Cwnd() != w {
		t.Fatalf("grew before a full window was acked: %d", c.Cwnd())
	}
	c.OnAck(mss, w, 0, 0)
	if c.Cwnd() != w+mss {
		t.Fatalf("after a window: cwnd %d, want %d", c.Cwnd(), w+mss)
	}
}

// Fast retransmit halves the flight (never below 2 MSS); RTO drops cwnd to
// one MSS; recovery exit deflates to min(ssthresh, flight+MSS).
func TestLossReactions(t *testing.T) {
	c := NewReno(mss)
	c.OnFastRetransmit(30*mss, 0)
	if c.Ssthresh() != 15*mss || c.Cwnd() != 15*mss {
		t.Fatalf("fast retransmit: cwnd %d ssthresh %d", c.Cwnd(), c.Ssthresh())
	}
	c.OnRecoveryExit(3*mss, 0)
	if c.Cwnd() != 4*mss {
		t.Fatalf("recovery exit with small flight: cwnd %d, want %d", c.Cwnd(), 4*mss)
	}
	c.OnFastRetransmit(mss, 0)
	if c.Ssthresh() != 2*mss {
		t.Fatalf("ssthresh floor: %d", c.Ssthresh())
	}
	c.OnRTO(40*mss, 0)
	if c.Cwnd() != mss || c.Ssthresh() != 20*mss {
		t.Fatalf("RTO: cwnd %d ssthresh %d", c.Cwnd(), c.Ssthresh())
	}
}

// RFC 5681 §4.1: after idle, cwnd is at most the restart window (IW).
func TestIdleRestart(t *testing.T) {
	c := NewReno(mss)
	for range 100 {
		c.OnAck(mss, c.Cwnd(), 0, 0)
	}
	c.OnIdle(0)
	if c.Cwnd() != 10*mss {
		t.Fatalf("after idle: cwnd %d, want %d", c.Cwnd(), 10*mss)
	}
}

func BenchmarkOnAck(b *testing.B) {
	c := NewReno(mss)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		c.OnAck(mss, 100*mss, 0, 0)
	}
}
