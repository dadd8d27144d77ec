package tcp

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/synack-go/synack/wire"
)

// The TCB runs every controller from its transmit record: a bulk transfer
// over a lossy, reordering link arrives intact with NewReno, CUBIC and BBR.
func TestEachController(t *testing.T) {
	for _, name := range CongestionControlNames() {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig()
			cfg.CongestionControl = name
			s := newSim(t, cfg)
			rng := rand.New(rand.NewPCG(7, 42))
			s.connect()
			s.quiet = true
			s.drop = func(int, *wire.TCPSegment) bool { return rng.Float64() < 0.02 }
			s.extra = func() time.Duration {
				if rng.Float64() < 0.02 {
					return 3 * time.Millisecond
				}
				return 0
			}
			msg := make([]byte, 1<<20)
			for i := range msg {
				msg[i] = byte(rng.Uint32())
			}
			var got bytes.Buffer
			off := 0
			buf := make([]byte, 64<<10)
			for i := 0; i < 100000 && got.Len() < len(msg); i++ {
				if off < len(msg) {
					n, _ := s.tcb[0].Write(msg[off:])
					off += n
					s.poll(0)
				}
				s.run(10 * time.Millisecond)
				for {
					n, _ := s.tcb[1].Read(buf)
					if n == 0 {
						break
					}
					got.Write(buf[:n])
				}
				s.poll(1)
			}
			if s.tcb[0].Congestion() != name {
				t.Fatalf("controller %q", s.tcb[0].Congestion())
			}
			st := s.tcb[0].Stats()
			t.Logf("%s: %v virtual, %d retransmits, %d fast recoveries, %d RTOs, cwnd %d", name, s.now, st.Retransmits, st.FastRecov, st.RTOs, st.Cwnd)
			if !bytes.Equal(got.Bytes(), msg) {
				t.Fatalf("received %d of %d bytes", got.Len(), len(msg))
			}
		})
	}
}
