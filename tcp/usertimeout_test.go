package tcp

import (
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/synack-go/synack/wire"
)

// The user timeout (RFC 5482; RFC 9293 §3.8.3's USER TIMEOUT) is a timer of
// its own, not a check made when a retransmission timeout fires: the
// connection fails exactly when the timeout has passed since the episode
// began (the first RTO of data the peer does not acknowledge, as Linux
// counts from its first retransmission; for a closed window, since the
// peer was last heard), even when the user shortens it while the RTO,
// backed off, is due much later. Issue 12, bug F: the check waited for the
// next RTO, up to twice the timeout.
func TestUserTimeoutOwnDeadline(t *testing.T) {
	// closeAt runs s until TCB 0 closes (or limit) and returns when.
	closeAt := func(s *sim, limit time.Duration) time.Duration {
		a := s.tcb[0]
		for a.State() != StateClosed && s.step(limit) {
		}
		if a.State() != StateClosed || !errors.Is(a.Err(), syscall.ETIMEDOUT) {
			t.Fatalf("at %v: %v, err %v; want CLOSED with ETIMEDOUT", s.now, a.State(), a.Err())
		}
		return s.now
	}
	silent := func(from int, _ *wire.TCPSegment) bool { return from == 1 }

	t.Run("set-during-backoff", func(t *testing.T) {
		s := newSim(t, testConfig())
		s.connect()
		a := s.tcb[0]
		s.drop = silent
		s.write(0, []byte("lost"))
		s.run(13 * time.Second) // six RTOs; the seventh is due at about 25 s
		start := a.tmr.rexStart
		a.SetUserTimeout(14 * time.Second)
		if d := a.Deadline(); d > start+14*time.Second {
			t.Errorf("Deadline %v, after the user timeout's end %v", d, start+14*time.Second)
		}
		got := closeAt(s, time.Minute)
		t.Logf("14 s user timeout set at 13 s: failed %v after the episode began", got-start)
		if got != start+14*time.Second {
			t.Fatalf("failed at %v, want exactly %v (episode began at %v)", got, start+14*time.Second, start)
		}
	})

	t.Run("data-retry-timeout", func(t *testing.T) {
		cfg := testConfig()
		cfg.DataRetryTimeout = 1 * time.Second
		s := newSim(t, cfg)
		s.connect()
		a := s.tcb[0]
		s.drop = silent
		s.write(0, []byte("lost"))
		s.run(500 * time.Millisecond)
		start := a.tmr.rexStart
		got := closeAt(s, time.Minute)
		t.Logf("1 s DataRetryTimeout: failed %v after the episode began", got-start)
		if got != start+time.Second {
			t.Fatalf("failed at %v, want exactly %v", got, start+time.Second)
		}
	})

	t.Run("zero-window", func(t *testing.T) {
		cfg := testConfig()
		cfg.RecvBuf = minBufSize
		s := zeroWindowPair(t, cfg)
		a := s.tcb[0]
		heard := a.lastHeard
		s.drop = silent
		s.run(20 * time.Second)
		a.SetUserTimeout(21 * time.Second)
		got := closeAt(s, time.Hour)
		t.Logf("21 s user timeout set 20 s into a silent zero window: failed %v after the peer was last heard", got-heard)
		if got != heard+21*time.Second {
			t.Fatalf("failed at %v, want exactly %v", got, heard+21*time.Second)
		}
	})
}
