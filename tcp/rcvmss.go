package tcp

import "github.com/synack-go/synack/wire"

// The receiver's estimate of the peer's segment size, which decides what a
// "full-sized segment" is for delayed ACKs: RFC 9293 §3.8.6.3 says an ACK
// SHOULD be sent for at least every second full-sized segment, and
// RFC 5681 §4.2 that the receiver SHOULD do so. Our advertised MSS is a poor
// measure of it: a peer behind a smaller path MTU (a tunnel, or an ICMP
// packet-too-big) never sends a segment that large, and every ACK would
// then wait for the delayed-ACK timer, throttling the sender to a window
// per 40 ms. Like Linux's tcp_measure_rcv_mss, the estimate starts at the
// RFC 9293 §3.7.1 default MSS, rises to the largest segment seen (capped by
// what we advertised), and falls to a smaller size that arrives twice in a
// row without PSH (a sender that is not just at the end of a write).
// https://www.rfc-editor.org/rfc/rfc9293#section-3.8.6.3

// rcvMSSFloor is the smallest segment size the estimate takes from a run of
// equal segments: below it, equal sizes are more likely an application's
// writes than a path limit (Linux's TCP_MIN_MSS, 88).
const rcvMSSFloor = 88

// initRcvMSS sets the estimate before any data arrives.
func (r *recvState) initRcvMSS() {
	r.segMSS = min(r.mss, defaultMSS)
}

// measureSegment updates the estimate with an arriving segment's payload
// length and flags. It reports whether the segment counts as full-sized.
// A segment that does not is "pushed" (Linux's ICSK_ACK_PUSHED): the end
// of a write, which ackAfterRead acknowledges once the application has
// read it.
func (r *recvState) measureSegment(n int, flags wire.TCPFlags) bool {
	l := uint32(n)
	if l >= r.segMSS {
		r.segMSS = min(l, r.mss)
		r.lastSeg = l
		return true
	}
	if flags&(wire.PSH|wire.FIN|wire.URG) == 0 && l >= rcvMSSFloor {
		if l == r.lastSeg {
			r.segMSS = l
			return true
		}
		r.lastSeg = l
	}
	r.pushed = min(r.pushed+1, 2)
	return false
}

// ackAfterRead acknowledges at once, when a read has emptied the receive
// buffer, the short segments it took that wait for the delayed-ACK timer,
// as Linux's tcp_cleanup_rbuf: one such segment unless the connection is
// interactive (its answer will carry the ACK: quickack.go), two or more
// always. The sender is likely waiting for this ACK (the end of its write,
// held by Nagle's algorithm or its window); 40 ms later is no use to it,
// and nothing is left to read that a later ACK could cover.
func (t *TCB) ackAfterRead() {
	r := &t.rcv
	if t.tmr.delack == 0 || r.pushed == 0 || r.buf.n > 0 || r.ooo != nil {
		return
	}
	if r.pushed >= 2 || !r.quick.pingpong {
		t.ackNow = true
	}
}

// fullSegments is how many full-sized segments n bytes of data that just
// went in order count for toward "an ACK for at least every second
// full-sized segment"; full is measureSegment's verdict on the segment. A
// segment the link coalesced (GRO, or the peer's TSO packet never cut)
// counts as the segments it was made of, so that it is acknowledged at
// once, as Linux's __tcp_ack_snd_check does when more than one MSS
// arrived; without this it would wait for the delayed-ACK timer.
func (r *recvState) fullSegments(n int, full bool) int {
	k := n / int(max(r.segMSS, 1))
	if k == 0 && full {
		k = 1
	}
	return k
}
