package tcp

import (
	"slices"
	"testing"
	"time"

	"github.com/synack-go/synack/wire"
)

// Each report of a new congestion window says which rule set it: the
// initial window, slow start's growth, recovery's reduction at a loss the
// SACK scoreboard found (RFC 6675), and the RTO's (RFC 5681 §3.1). Every
// reason has a name.
func TestCwndReasons(t *testing.T) {
	cfg := testConfig()
	cfg.CongestionControl = "reno"
	s := newSim(t, cfg)
	s.quiet = true
	s.connect()
	s.write(0, make([]byte, 30*1448))
	s.run(time.Second)
	s.readAll(1)
	lost := false
	s.drop = func(from int, seg *wire.TCPSegment) bool {
		if from == 0 && len(seg.Payload) > 0 && !lost {
			lost = true
			return true
		}
		return false
	}
	s.write(0, make([]byte, 30*1448))
	s.run(time.Second)
	s.readAll(1)
	s.drop = func(int, *wire.TCPSegment) bool { return true }
	s.write(0, make([]byte, 1448))
	s.run(2 * time.Second)
	got := s.obs[0].cwnd
	for _, want := range []CwndReason{CwndInitial, CwndSlowStart, CwndRecovery, CwndRTO} {
		if !slices.Contains(got, want) {
			t.Errorf("no cwnd report for %q in %v", want, got)
		}
	}
	for r := range numCwndReasons {
		if r.String() == "" || r.String() == "unknown" {
			t.Errorf("reason %d has no name", r)
		}
	}
}
