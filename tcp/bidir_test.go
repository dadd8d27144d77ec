package tcp

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/synack-go/synack/wire"
)

// Both directions carry data over a lossy, reordering, duplicating network:
// the news of losses rides on data segments (no pure duplicate ACKs), and
// SACK-driven recovery must still repair them without waiting for the RTO.
func TestBidirectionalLoss(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		s := newSim(t, testConfig())
		rng := rand.New(rand.NewPCG(seed, 7))
		s.delay = 2 * time.Millisecond
		s.connect()
		s.quiet = true
		s.drop = func(int, *wire.TCPSegment) bool { return rng.Float64() < 0.05 }
		s.dup = func() bool { return rng.Float64() < 0.01 }
		s.extra = func() time.Duration {
			if rng.Float64() < 0.05 {
				return time.Duration(rng.IntN(3)) * time.Millisecond
			}
			return 0
		}
		var msg [2][]byte
		var got [2]bytes.Buffer
		var off [2]int
		for i := range msg {
			msg[i] = make([]byte, 1<<20)
			for j := range msg[i] {
				msg[i][j] = byte(rng.Uint32())
			}
		}
		buf := make([]byte, 64<<10)
		for step := 0; step < 100000 && (got[0].Len() < len(msg[1]) || got[1].Len() < len(msg[0])); step++ {
			for i := range 2 {
				if off[i] < len(msg[i]) {
					n, _ := s.tcb[i].Write(msg[i][off[i]:])
					off[i] += n
					s.poll(i)
				}
			}
			s.run(5 * time.Millisecond)
			for i := range 2 {
				for {
					n, _ := s.tcb[i].Read(buf)
					if n == 0 {
						break
					}
					got[i].Write(buf[:n])
				}
				s.poll(i)
			}
		}
		a, b := s.tcb[0].Stats(), s.tcb[1].Stats()
		t.Logf("seed %d: %v virtual; retransmits %d/%d, fast recoveries %d/%d, RTOs %d/%d", seed, s.now,
			a.Retransmits, b.Retransmits, a.FastRecov, b.FastRecov, a.RTOs, b.RTOs)
		if !bytes.Equal(got[1].Bytes(), msg[0]) || !bytes.Equal(got[0].Bytes(), msg[1]) {
			t.Fatalf("seed %d: transfer corrupted or incomplete: %d and %d bytes", seed, got[1].Len(), got[0].Len())
		}
		if a.RTOs+b.RTOs > (a.FastRecov+b.FastRecov)/4 {
			t.Errorf("seed %d: %d RTOs against %d fast recoveries: losses wait for the timer", seed, a.RTOs+b.RTOs, a.FastRecov+b.FastRecov)
		}
	}
}

// Both ends receive each other's data but every ACK is lost for a while,
// so both time out, go back to SND.UNA and resend what the other already
// has. Each then answers an old segment with an ACK that must be numbered
// SND.MAX, not the rewound SND.NXT: a number below the peer's RCV.NXT is
// unacceptable to it (RFC 9293 §3.10.7.4), and the two ends would drop each
// other's ACKs forever.
func TestBothTimeOutAfterLostACKs(t *testing.T) {
	s := newSim(t, testConfig())
	s.delay = time.Millisecond
	s.connect()
	const n = 20000
	s.write(0, make([]byte, n))
	s.write(1, make([]byte, n))
	blackoutEnd := s.now + 3*time.Second
	s.drop = func(int, *wire.TCPSegment) bool { return s.now < blackoutEnd } // the data is in flight already
	s.run(20 * time.Second)
	a, b := s.tcb[0], s.tcb[1]
	if a.Stats().RTOs == 0 || b.Stats().RTOs == 0 {
		t.Fatalf("RTOs %d/%d: the scenario needs both ends to time out", a.Stats().RTOs, b.Stats().RTOs)
	}
	if a.snd.una != a.snd.max || b.snd.una != b.snd.max {
		t.Fatalf("stuck: A has %d bytes unacknowledged, B %d", a.snd.max.Sub(a.snd.una), b.snd.max.Sub(b.snd.una))
	}
	if got := len(s.readAll(0)) + len(s.readAll(1)); got != 2*n {
		t.Fatalf("read %d bytes, want %d", got, 2*n)
	}
}
