package synack

import (
	"testing"
	"time"

	"github.com/synack-go/synack/link/pipe"
)

// TestLossyOffloadBulk moves 8 MiB over the lossy path of
// BenchmarkLossyPath with offloads: the sender's TCB emits TSO segments of
// up to 64 KiB, one transmit record each, and the pipe drops whole TSO
// packets (bursts of up to 44 segments), so SACK holes, partial ACKs, RACK
// and timeouts fall inside records that must split. The bytes arrive
// intact, with each congestion control, on virtual time.
func TestLossyOffloadBulk(t *testing.T) {
	if raceEnabled && testing.Short() {
		t.Skip("moves 32 MiB through the simulator")
	}
	for _, name := range []string{"reno", "cubic", "bbr", "bbr-draft"} {
		t.Run(name, func(t *testing.T) {
			path := pipe.Config{Offload: true, Loss: 0.01, Delay: 10 * time.Millisecond,
				RateBitsPerSec: 200e6, QueueBytes: 500000, Seed: 3}
			st, d := lossyTransfer(t, name, path, 8<<20)
			t.Logf("%.1f Mbit/s virtual, %d segments, %d retransmitted, %d recoveries, %d RTOs, %d probes",
				float64(8<<20)*8/d.Seconds()/1e6, st.SegsOut, st.Retransmits, st.FastRecov, st.RTOs, st.LossProbes)
		})
	}
}
