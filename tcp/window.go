package tcp

// rcvFree is the receive buffer space beyond RCV.NXT: the most we can
// accept.
func (t *TCB) rcvFree() uint32 { return uint32(t.rcv.buf.free()) }

// rcvWindow is the window we last advertised, in bytes.
func (t *TCB) rcvWindow() uint32 {
	if t.rcv.adv.Greater(t.rcv.nxt) {
		return uint32(t.rcv.adv.Sub(t.rcv.nxt))
	}
	return 0
}

// advertise returns the window field for an outgoing segment. The right edge
// never moves left (RFC 9293 §3.8.6.2.2 "shrinking the window") and moves
// right only by at least min(buffer/2, MSS) at a time: receiver-side
// silly-window avoidance, RFC 9293 §3.8.6.2.2.
func (t *TCB) advertise() uint16 {
	free := t.rcvFree()
	if t.cfg.Memory.UnderPressure() {
		// Under memory pressure the window offers no more than the pages
		// held already (or one page) can take: it stops growing, though
		// its right edge never moves left.
		free = min(free, uint32(t.rcv.buf.tailRoom()))
	}
	edge := t.rcv.nxt.Add(free)
	if edge.Greater(t.rcv.adv) {
		grow := uint32(edge.Sub(t.rcv.adv))
		if grow >= min(uint32(t.rcv.buf.size/2), t.rcv.mss) || t.rcv.adv.LessEq(t.rcv.nxt) && grow >= t.rcv.mss ||
			edge.Sub(t.rcv.nxt) == t.rcv.buf.size {
			t.rcv.adv = edge
		}
	}
	w := t.rcvWindow() >> t.rcv.shift
	return uint16(min(w, 65535))
}

// maybeWindowUpdate sends a window update after a read frees enough space
// that the peer, perhaps stalled on a small window, should hear of it: when
// what is left of the advertised window is at most half the buffer and the
// window we could offer now is at least twice that, as Linux's
// tcp_cleanup_rbuf ("raised significantly"). A smaller opening waits for
// the next ACK: a reader that keeps up with a fast sender would otherwise
// answer every read with an ACK of its own.
func (t *TCB) maybeWindowUpdate() {
	if !t.state.synchronized() || t.finRcvd {
		return
	}
	old := t.rcvWindow()
	edge := t.rcv.nxt.Add(t.rcvFree())
	if !edge.Greater(t.rcv.adv) {
		return
	}
	now := uint32(edge.Sub(t.rcv.nxt))
	if old <= uint32(t.rcv.buf.size/2) && now >= 2*old && now-old >= min(uint32(t.rcv.buf.size/2), 2*t.rcv.mss) {
		t.ackNow = true
	}
}
