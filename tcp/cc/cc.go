// Package cc holds congestion control for package tcp behind one small
// interface, so that NewReno, CUBIC and later BBR are interchangeable.
package cc

import "time"

// Controller decides the congestion window of one connection. The TCB tells
// it what happened (ACKs, fast retransmit, timeouts) and asks for cwnd and
// ssthresh. All sizes are bytes. A Controller is not safe for concurrent use.
type Controller interface {
	// Name returns the algorithm's name, as Linux's TCP_CONGESTION spells it.
	Name() string
	// Cwnd returns the congestion window.
	Cwnd() uint32
	// Ssthresh returns the slow-start threshold.
	Ssthresh() uint32
	// SetMSS sets the sender's segment size; it is called before any other
	// event and whenever the path MTU changes.
	SetMSS(mss uint32)
	// OnAck reports that a cumulative ACK newly acknowledged acked bytes
	// outside loss recovery; inflight is what was outstanding before it and
	// rtt the latest smoothed RTT (0 if none).
	OnAck(acked, inflight uint32, rtt, now time.Duration)
	// OnFastRetransmit reports that duplicate ACKs started loss recovery
	// (RFC 5681 §3.2 step 2).
	OnFastRetransmit(inflight uint32, now time.Duration)
	// OnRecoveryExit reports the full ACK that ends recovery (RFC 6582 §3.2
	// step 3).
	OnRecoveryExit(inflight uint32, now time.Duration)
	// OnRTO reports a retransmission timeout (RFC 5681 §3.1).
	OnRTO(inflight uint32, now time.Duration)
	// OnIdle reports that the sender restarts after being idle for more than
	// an RTO (RFC 5681 §4.1).
	OnIdle(now time.Duration)
}
