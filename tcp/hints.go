package tcp

import "time"

// What a runtime may ask a TCB to batch its I/O around it; the TCB still
// decides every segment.

// SendRate returns what a runtime needs to size the packets it hands a
// link with segmentation offload (TSO), as Linux's tcp_tso_autosize does
// from the pacing rate: the congestion window and the slow-start threshold
// in bytes (0 before the handshake), the smoothed RTT (0 before the first
// sample) and the send MSS. A runtime only joins consecutive segments.
func (t *TCB) SendRate() (cwnd, ssthresh uint32, srtt time.Duration, mss uint32) {
	if t.cc != nil {
		cwnd, ssthresh = t.cc.Cwnd(), t.cc.Ssthresh()
	}
	return cwnd, ssthresh, t.rtt.srtt, t.snd.mss
}

// HoldsOutOfOrder reports whether data above a hole is held: the peer is
// repairing a loss, and every segment should be answered at once (RFC 5681
// §4.2), not batched.
func (t *TCB) HoldsOutOfOrder() bool { return t.rcv.ooo.len() > 0 }
