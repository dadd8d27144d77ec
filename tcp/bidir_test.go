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
