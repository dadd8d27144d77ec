package udp

import "time"

// Default idle timeouts of a forwarded flow: a NAT's, as Linux's
// connection tracking has them (nf_conntrack_udp_timeout and
// nf_conntrack_udp_timeout_stream). RFC 4787 REQ-5 asks a NAT for at least
// two minutes; the shorter timeout for a flow that never got an answer is
// the common practice it documents (§4.3), and keeps a scan of many
// destinations from holding memory for long.
const (
	// DefaultIdleTimeout ends a flow seen one way only (no datagram sent
	// back yet) after 30 s without traffic.
	DefaultIdleTimeout = 30 * time.Second
	// DefaultStreamTimeout ends a flow seen both ways after 120 s without
	// traffic.
	DefaultStreamTimeout = 120 * time.Second
)

// Idle is a forwarded flow's idle timer: traffic either way pushes the
// deadline out, by the stream timeout once datagrams went both ways, else
// by the idle timeout. The zero value is a flow that has seen nothing; it
// reads no clock.
type Idle struct {
	last      time.Duration
	in, out   bool
	idle, str time.Duration
}

// NewIdle returns the timer of a flow that starts at now, with the given
// timeouts (<= 0 means the defaults).
func NewIdle(now, idle, stream time.Duration) Idle {
	if idle <= 0 {
		idle = DefaultIdleTimeout
	}
	if stream <= 0 {
		stream = DefaultStreamTimeout
	}
	return Idle{last: now, idle: idle, str: stream}
}

// Received records a datagram from the flow's peer at now.
func (f *Idle) Received(now time.Duration) { f.in, f.last = true, max(f.last, now) }

// Sent records a datagram to the flow's peer at now.
func (f *Idle) Sent(now time.Duration) { f.out, f.last = true, max(f.last, now) }

// BothWays reports whether datagrams went both ways.
func (f *Idle) BothWays() bool { return f.in && f.out }

// Deadline returns when the flow expires unless more traffic comes.
func (f *Idle) Deadline() time.Duration {
	if f.BothWays() {
		return f.last + f.str
	}
	return f.last + f.idle
}

// Expired reports whether the flow has been idle too long at now.
func (f *Idle) Expired(now time.Duration) bool { return now >= f.Deadline() }
