package tcp

import "time"

// SendRate returns what a runtime needs to size the packets it hands a
// link with segmentation offload (TSO), as Linux's tcp_tso_autosize does
// from the pacing rate: the congestion window and the slow-start threshold
// in bytes (0 before the handshake), the smoothed RTT (0 before the first
// sample) and the send MSS. The TCB still decides every segment; a runtime
// only joins consecutive ones.
func (t *TCB) SendRate() (cwnd, ssthresh uint32, srtt time.Duration, mss uint32) {
	if t.cc != nil {
		cwnd, ssthresh = t.cc.Cwnd(), t.cc.Ssthresh()
	}
	return cwnd, ssthresh, t.rtt.srtt, t.snd.mss
}
