package tcp

import (
	"math"
	"time"

	"github.com/synack-go/synack/tcp/cc"
)

// What a runtime may ask a TCB to batch its I/O around it; the TCB still
// decides every segment.

// SendRate returns the congestion window and the slow-start threshold in
// bytes (0 before the handshake; the initial window and no threshold
// before the first data is sent), the smoothed RTT (0 before the first
// sample) and the send MSS.
func (t *TCB) SendRate() (cwnd, ssthresh uint32, srtt time.Duration, mss uint32) {
	switch {
	case t.cc != nil:
		cwnd, ssthresh = t.cc.Cwnd(), t.cc.Ssthresh()
	case t.negotiated():
		cwnd, ssthresh = cc.InitialWindow(t.snd.mss), math.MaxUint32
	}
	return cwnd, ssthresh, t.rtt.srtt, t.snd.mss
}

// PacingRate returns the rate in bytes per second at which the TCB paces
// its segments (the congestion controller's: Linux's internal pacing for
// NewReno and CUBIC, BBR's own), or 0 when it does not pace yet. A
// runtime with segmentation offload sizes its packets from it, as
// Linux's tcp_tso_autosize does: about a millisecond of it per packet.
func (t *TCB) PacingRate() uint64 {
	if t.xs == nil {
		return 0
	}
	return t.xs.pace.rate
}

// HoldsOutOfOrder reports whether data above a hole is held: the peer is
// repairing a loss, and every segment should be answered at once (RFC 5681
// §4.2), not batched.
func (t *TCB) HoldsOutOfOrder() bool { return t.rcv.ooo.len() > 0 }
