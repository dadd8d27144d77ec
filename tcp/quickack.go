package tcp

import "time"

// Quick-ACK mode, as Linux's (tcp_incr_quickack, tcp_event_data_recv): a
// receiver acknowledges the first segments of a connection, and the first
// after the connection has been idle, at once instead of delaying the ACK.
// A sender in slow start (or restarting after idle, RFC 5681 §4.1) has
// only a few segments in flight and its window grows with each ACK: a
// delayed ACK there costs it up to 40 ms per round for no ACK saved.
// RFC 9293 §3.8.6.3 lets a receiver ACK more often than every second
// segment; delayed ACKs are a MAY ("SHOULD" only bounds the delay).
// https://www.rfc-editor.org/rfc/rfc9293#section-3.8.6.3

// Interactive (pingpong) mode, as Linux's (tcp_event_data_sent with
// tcp_pingpong_thresh 1, inet_csk_exit_pingpong_mode): a connection that
// sends data within the delayed-ACK time after data arrived is answering
// requests, and its answers carry the ACKs. Quick-ACK episodes are then
// off, so that a request after an idle period is not acknowledged alone
// just before its answer (two packets where one does). A delayed ACK
// that the timer has to send alone ends the mode.

// maxQuickAcks bounds a quick-ACK episode, Linux's TCP_MAX_QUICKACKS.
const maxQuickAcks = 16

// quickAckState is the receiver's quick-ACK bookkeeping.
type quickAckState struct {
	left     uint8         // immediate ACKs left in this episode
	off      bool          // SetQuickAck(false): no episodes (Linux's pingpong mode, held)
	pingpong bool          // interactive: answers carry the ACKs (above)
	dataSeen bool          // in-order data has arrived before
	dataAt   time.Duration // when in-order data last arrived
}

// noteDataIn runs when in-order data arrives, before RCV.NXT moves: at the
// first data of the connection, and the first after more than an RTO
// without data, a quick-ACK episode starts with one immediate ACK per
// segment the advertised window holds, halved (the sender's window grows
// by about one segment per ACK), between 2 and maxQuickAcks.
func (t *TCB) noteDataIn(now time.Duration) {
	q := &t.rcv.quick
	if !q.dataSeen || now-q.dataAt > t.rtt.rto {
		t.startQuickAcks()
	}
	q.dataSeen, q.dataAt = true, now
}

// startQuickAcks starts (or lengthens) a quick-ACK episode: Linux's
// tcp_incr_quickack.
func (t *TCB) startQuickAcks() {
	q := &t.rcv.quick
	n := t.rcvWindow() / (2 * max(t.rcv.segMSS, 1))
	if n == 0 {
		n = 2
	}
	q.left = max(q.left, uint8(min(n, maxQuickAcks)))
}

// enterQuickAck runs when data arrives that we hold already, or beyond the
// window: our ACKs are not reaching the sender, or it retransmits in vain
// (a delayed ACK it timed out on). As Linux's tcp_enter_quickack_mode, the
// next segments are acknowledged at once and the connection is no longer
// taken for interactive.
func (t *TCB) enterQuickAck() {
	t.startQuickAcks()
	t.rcv.quick.pingpong = false
}

// inQuickAck reports whether data that just arrived is acknowledged at once.
func (t *TCB) inQuickAck() bool {
	q := &t.rcv.quick
	return q.left > 0 && !q.off && !q.pingpong
}

// InQuickAck reports whether the receiver is in a quick-ACK episode, where
// each data segment is acknowledged at once: a runtime that batches the
// ACKs of a read batch (stretch ACKs) must not hold these back, or the
// sender in slow start, after idle or repairing a loss, loses the ACKs its
// window grows by.
func (t *TCB) InQuickAck() bool { return t.inQuickAck() }

// noteDataOut runs when a data segment leaves: within the delayed-ACK time
// of the last data that arrived, it is an answer, and the connection
// interactive.
func (t *TCB) noteDataOut(now time.Duration) {
	q := &t.rcv.quick
	if q.dataSeen && now-q.dataAt < t.cfg.delayedAck() {
		q.pingpong = true
	}
}

// delayedAckAlone runs when the delayed-ACK timer sends its ACK: no answer
// came to carry it, so the connection is not interactive (any more).
func (t *TCB) delayedAckAlone() { t.rcv.quick.pingpong = false }

// quickAckSent counts an ACK that acknowledges new data against the episode.
func (t *TCB) quickAckSent() {
	if t.rcv.quick.left > 0 && t.rcv.nxt != t.ts.lastAckSent {
		t.rcv.quick.left--
	}
}
