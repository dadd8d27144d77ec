package tcp

import "time"

// tsState is the RFC 7323 timestamp state: whether both sides use the option,
// the peer's latest timestamp (TS.Recent) and what we last acknowledged.
type tsState struct {
	ok          bool
	recent      uint32        // TS.Recent
	recentAt    time.Duration // when TS.Recent was set, for the 24-day rule
	lastAckSent Seq           // Last.ACK.sent
	offset      uint32        // added to our millisecond clock
}

// tsNow is our timestamp clock: 1 ms ticks (RFC 7323 §5.4 asks for 1 ms to
// 1 s) plus the connection's offset.
func (t *TCB) tsNow(now time.Duration) uint32 {
	return uint32(now/time.Millisecond) + t.ts.offset
}
