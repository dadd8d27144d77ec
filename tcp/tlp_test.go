package tcp

import (
	"strings"
	"testing"
	"time"

	"github.com/synack-go/synack/wire"
)

// tailScenario sends n full segments from A after a warm-up exchange (so
// that A has an RTT sample), with lose deciding which of them, or of B's
// answers, the network loses, and returns the sim after everything settled.
func tailScenario(t *testing.T, cfg *Config, n int, lose func(from int, seg *wire.TCPSegment) bool) *sim {
	t.Helper()
	s := newSim(t, cfg)
	s.connect()
	s.tcb[1].SetQuickAck(false) // B delays its ACKs, as after its quick-ACK episode
	s.write(0, make([]byte, 1000))
	s.run(time.Second)
	s.readAll(1)
	s.drop = lose
	s.write(0, make([]byte, n*1448))
	s.run(5 * time.Second)
	if got := len(s.readAll(1)); got != n*1448 {
		t.Fatalf("B read %d bytes, want %d\n%s", got, n*1448, strings.Join(s.log, "\n"))
	}
	if a := s.tcb[0]; a.snd.una != a.snd.max {
		t.Fatalf("A still has %d bytes unacknowledged", a.snd.max.Sub(a.snd.una))
	}
	return s
}

// RFC 8985 §7: the ACK for the last flight is lost. Instead of waiting
// 200 ms or more for its RTO, A sends a loss probe two round trips later,
// before B's delayed ACK for the odd segment, and B's answer to the probe
// acknowledges everything.
func TestLossProbeLostACKs(t *testing.T) {
	lost := 0
	s := tailScenario(t, testConfig(), 3, func(from int, seg *wire.TCPSegment) bool {
		if from == 1 && len(seg.Payload) == 0 && lost < 1 {
			lost++
			return true
		}
		return false
	})
	st := s.tcb[0].Stats()
	if st.LossProbes != 1 || st.RTOs != 0 {
		t.Fatalf("loss probes %d, RTOs %d: want one probe and no timeout\n%s", st.LossProbes, st.RTOs, strings.Join(s.log, "\n"))
	}
}

// RFC 8985 §7.3: the last segment is lost; nothing comes back to count as
// a duplicate ACK. The probe resends it (no new data is waiting) and the
// loss is repaired without a timeout. (With a single segment left in
// flight the probe allows for a delayed ACK, 200 ms, and the RTO comes
// first: RFC 8985 §7.2; so four segments here.)
func TestLossProbeLostTail(t *testing.T) {
	sent := 0
	s := tailScenario(t, testConfig(), 4, func(from int, seg *wire.TCPSegment) bool {
		if from == 0 && len(seg.Payload) > 0 {
			sent++
			return sent == 4
		}
		return false
	})
	st := s.tcb[0].Stats()
	if st.LossProbes != 1 || st.RTOs != 0 || st.Retransmits != 1 {
		t.Fatalf("loss probes %d, RTOs %d, retransmits %d: want one probe (the retransmission) and no timeout\n%s",
			st.LossProbes, st.RTOs, st.Retransmits, strings.Join(s.log, "\n"))
	}
}

// Without SACK a probe's answer says too little (RFC 8985 §7 builds on it),
// so the sender keeps to its retransmission timer.
func TestNoLossProbeWithoutSACK(t *testing.T) {
	cfg := testConfig()
	cfg.DisableSACK = true
	sent := 0
	s := tailScenario(t, cfg, 4, func(from int, seg *wire.TCPSegment) bool {
		if from == 0 && len(seg.Payload) > 0 {
			sent++
			return sent == 4
		}
		return false
	})
	st := s.tcb[0].Stats()
	if st.LossProbes != 0 || st.RTOs != 1 {
		t.Fatalf("loss probes %d, RTOs %d: want the RTO alone", st.LossProbes, st.RTOs)
	}
}
