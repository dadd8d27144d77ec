package tcp

import (
	"testing"
	"time"

	"github.com/synack-go/synack/wire"
)

func TestDropCountsString(t *testing.T) {
	var d DropCounts
	if got := d.String(); got != "none" {
		t.Errorf("no drops: %q", got)
	}
	d[DropOutOfWindow], d[DropPAWS] = 3, 1
	if got := d.String(); got != "out-of-window=3 paws=1" {
		t.Errorf("String = %q", got)
	}
}

// Stats carries the tcp_info fields ss -ti shows: bytes unacknowledged,
// the RTO backoff, the buffers' sizes, the receiver's RTT and space, and
// the recovery unit's (RecoveryStats, embedded); it does not allocate.
func TestStatsTCPInfo(t *testing.T) {
	s := newSim(t, testConfig())
	s.connect()
	a, b := s.tcb[0], s.tcb[1]
	s.write(0, make([]byte, 100<<10))
	s.run(time.Second)
	s.readAll(1)
	s.write(0, make([]byte, 100<<10))
	s.run(time.Second)
	s.readAll(1)
	sb := b.Stats()
	if sb.RcvRTT < 10*time.Millisecond || sb.RcvRTT > 12*time.Millisecond || sb.RcvSpace == 0 || sb.RcvBuf < 1<<20 {
		t.Errorf("receiver: RcvRTT %v (want about 10 ms), RcvSpace %d, RcvBuf %d", sb.RcvRTT, sb.RcvSpace, sb.RcvBuf)
	}
	s.drop = func(from int, _ *wire.TCPSegment) bool { return true }
	s.write(0, make([]byte, 1000))
	s.run(3 * time.Second)
	sa := a.Stats()
	if sa.Unacked != 1000 || sa.Backoff == 0 || uint64(sa.Backoff) != sa.RTOs || sa.SndBuf == 0 {
		t.Errorf("sender with its data lost: Unacked %d, Backoff %d (RTOs %d), SndBuf %d", sa.Unacked, sa.Backoff, sa.RTOs, sa.SndBuf)
	}
	if sa.CC != "cubic" || sa.CAStateName != "loss" || sa.Lost == 0 || sa.MinRTT == 0 {
		t.Errorf("recovery stats: cc %q, ca_state %q, lost %d, min_rtt %v", sa.CC, sa.CAStateName, sa.Lost, sa.MinRTT)
	}
	if n := testing.AllocsPerRun(100, func() { _ = a.Stats() }); n != 0 {
		t.Errorf("Stats allocates %v times", n)
	}
}
