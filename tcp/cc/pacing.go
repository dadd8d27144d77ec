package cc

import "time"

// Linux's internal pacing ratios (net.ipv4.tcp_pacing_ss_ratio and
// tcp_pacing_ca_ratio), in percent.
const (
	pacingSSRatio = 200
	pacingCARatio = 120
)

// Send-quantum bounds: draft-ietf-ccwg-bbr §5.6.3 (and Linux's
// tcp_tso_autosize, whose sk_pacing_shift of 10 is about 1 ms of the pacing
// rate, with tcp_min_tso_segs = 2 and a 64 KB GSO limit).
const (
	quantumTime = time.Millisecond
	maxQuantum  = 64 << 10
)

// LinuxPacingRate is the pacing rate Linux gives a connection whose
// controller does not set one (tcp_update_pacing_rate): ratio × max(cwnd,
// inflight) / srtt, with the ratio 200% while cwnd is below half of
// ssthresh (the window still doubles each round trip) and 120% otherwise.
// It returns 0 (do not pace) before the first RTT sample.
func LinuxPacingRate(cwnd, ssthresh, inflight uint32, srtt time.Duration) uint64 {
	if srtt <= 0 {
		return 0
	}
	return mulDiv(linuxPacingBytes(cwnd, ssthresh, inflight), uint64(time.Second), uint64(srtt)*100)
}

// linuxPacingBytes is LinuxPacingRate's numerator: the window in bytes
// times the ratio in percent.
func linuxPacingBytes(cwnd, ssthresh, inflight uint32) uint64 {
	ratio := uint64(pacingCARatio)
	if cwnd < ssthresh/2 {
		ratio = pacingSSRatio
	}
	return uint64(max(cwnd, inflight)) * ratio
}

// linuxPacing is LinuxPacingRate with its last answer kept: the TCB asks
// a controller for PacingRate and then, when the rate changed, for
// SendQuantum, which needs the rate again, after every ACK; this spares
// the second 64-bit division, and the first while the window and the RTT
// hold still.
type linuxPacing struct {
	bytes uint64        // linuxPacingBytes of the last question
	srtt  time.Duration // the srtt of the last question
	rate  uint64        // the answer
}

// get returns LinuxPacingRate(cwnd, ssthresh, inflight, srtt).
func (m *linuxPacing) get(cwnd, ssthresh, inflight uint32, srtt time.Duration) uint64 {
	if srtt <= 0 {
		return 0
	}
	if b := linuxPacingBytes(cwnd, ssthresh, inflight); b != m.bytes || srtt != m.srtt {
		m.bytes, m.srtt = b, srtt
		m.rate = mulDiv(b, uint64(time.Second), uint64(srtt)*100)
	}
	return m.rate
}

// sendQuantum is about 1 ms worth of rate, at least two segments and at most
// 64 KB: draft-ietf-ccwg-bbr §5.6.3 SetSendQuantum. Without a rate the
// quantum is two segments.
func sendQuantum(rate uint64, mss uint32) uint32 {
	q := mulDiv(rate, uint64(quantumTime), uint64(time.Second))
	return clamp32(max(min(q, maxQuantum), 2*uint64(mss)))
}
