package synack

import (
	"time"

	"github.com/synack-go/synack/tcp"
)

// TSO sizing, as Linux's tcp_tso_autosize (net/ipv4/tcp_output.c): a
// packet carries about a millisecond of the connection's pacing rate, plus
// up to the whole 64 KiB when the RTT is short, and at least two segments.
// Large packets save per-packet work; small ones keep a slow connection's
// bursts short. The pacing rate is the TCB's (tcp.TCB.PacingRate: BBR's,
// or Linux's internal pacing for NewReno and CUBIC); when it does not pace
// (Config.NoPacing, or before the first ACK), Linux's default stands in:
// cwnd per smoothed RTT, doubled in slow start and 1.2 times after
// (tcp_update_pacing_rate).
const (
	tsoMaxPacket   = 65535                  // the IPv4 total length's limit; Linux's gso_max_size is 64 KiB
	tsoPacingShift = 10                     // sk_pacing_shift: rate >> 10 is about 1 ms of data
	tsoRTTUnit     = 512 * time.Microsecond // tcp_tso_rtt_log = 9: min RTT in 512 µs units
	tsoMinSegs     = 2                      // tcp_min_tso_segs
	tcpMaxHeader   = 60
)

// tsoAutosize returns the largest TSO packet, IP header of hl bytes
// included, for what t may send now.
func tsoAutosize(t *tcp.TCB, hl int) int {
	cwnd, ssthresh, srtt, mss := t.SendRate()
	if mss == 0 {
		return 0
	}
	bytes := uint64(tsoMaxPacket)
	rate := t.PacingRate()
	if rate == 0 && srtt > 0 {
		ratio := uint64(120)
		if cwnd < ssthresh/2 {
			ratio = 200
		}
		rate = uint64(cwnd) * ratio / 100 * uint64(time.Second) / uint64(srtt) // bytes per second
	}
	if rate > 0 {
		b := rate >> tsoPacingShift
		if r := uint64(srtt / tsoRTTUnit); r < 32 {
			b += tsoMaxPacket >> r
		}
		bytes = min(b, tsoMaxPacket)
	}
	segs := max(bytes/uint64(mss), tsoMinSegs)
	return int(min(segs*uint64(mss)+uint64(hl+tcpMaxHeader), tsoMaxPacket))
}
