package tcp

import "time"

// Shutdown closes the sending direction (RFC 9293 §3.10.4 CLOSE as a
// half-close): a FIN follows the queued data. Reads go on until the peer's
// FIN.
func (t *TCB) Shutdown(now time.Duration) {
	if t.shutWr {
		return
	}
	switch t.state {
	case StateClosed, StateListen:
		t.shutWr = true
		t.setState(StateClosed, "close")
	case StateSynSent:
		t.shutWr = true
		t.setState(StateClosed, "close")
	case StateSynReceived, StateEstablished:
		// RFC 9293 §3.10.4: the FIN follows any queued data; in SYN_RECEIVED
		// with nothing queued it goes out at once.
		t.shutWr = true
		if t.state == StateEstablished || t.snd.buf.n == 0 {
			t.setState(StateFinWait1, "close")
		}
	case StateCloseWait:
		t.shutWr = true
		t.setState(StateLastAck, "close")
	}
}

// Close is the user's CLOSE of both directions (RFC 9293 §3.10.4). Unread
// data makes it an abort with RST, as Linux does and RFC 2525 §2.17
// recommends; otherwise a FIN follows the queued data, and data arriving
// afterwards is answered with RST.
func (t *TCB) Close(now time.Duration) {
	if t.rcv.buf.n > 0 && t.state.synchronized() && t.state != StateTimeWait {
		t.Abort()
		return
	}
	t.userClosed = true
	t.Shutdown(now)
	if t.state == StateFinWait2 {
		t.tmr.close = now + t.cfg.timeWait()
	}
}

// CloseRead shuts down the receiving direction only (like shutdown(2) with
// SHUT_RD): reads return io.EOF, and data that arrives is acknowledged and
// discarded, so the peer is never stalled by a window nobody reads.
func (t *TCB) CloseRead() {
	t.readShut = true
	t.discardReceived()
}

func (t *TCB) discardReceived() {
	if t.rcv.buf.n > 0 {
		t.rcv.buf.discard(t.cfg.Buffers, t.cfg.Memory, int(t.rcv.buf.n))
		t.releaseRecv()
		t.ackNow = true // the window opened
	}
}

// PruneOutOfOrder drops the out-of-order data the TCB holds, freeing its
// pages, and returns how many bytes it dropped. The peer, told of that
// data by SACK, sends it again: RFC 2018 §8 lets a receiver renege, and
// RFC 9293 §3.10.7.4 only says such data SHOULD be held. The stack calls it
// under memory pressure (MemoryBudget); a TCB does it itself when the
// budget refuses in-order data.
func (t *TCB) PruneOutOfOrder() int {
	if t.rcv.ooo.len() == 0 {
		return 0
	}
	n := t.rcv.ooo.bytes()
	t.releaseOOO()
	t.rcv.buf.prune(t.cfg.Buffers, t.cfg.Memory, int(t.rcv.buf.n))
	if m := t.cfg.Memory; m != nil {
		m.pruned.Add(uint64(n))
	}
	return n
}

// Abort resets the connection (RFC 9293 §3.10.5): a RST goes out if the
// connection is synchronized or a SYN was sent, and the TCB is closed.
func (t *TCB) Abort() {
	switch t.state {
	case StateClosed, StateListen, StateTimeWait:
	case StateSynSent:
		// Nothing of ours is known to the peer beyond the SYN; RFC 9293
		// §3.10.5 sends no RST here.
	default:
		t.queueRST(t.snd.max, true)
	}
	t.userClosed, t.shutWr = true, true
	t.setState(StateClosed, "abort")
}
