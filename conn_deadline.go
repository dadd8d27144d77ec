package synack

import "time"

// A connection's deadlines on the wall clock are kept as package net's
// poller keeps a socket's: a deadline that is set is marked passed when it
// passes, and the call waiting on it is woken then. The stack's timer
// queue, which polls the connection at its TCB's Deadline, polls it at the
// earlier deadline not yet passed as well (deadlineWake) and marks it
// (deadlinesAt). Read and Write then test a flag instead of reading the
// clock, and a call that blocks waits on its token alone: no timer of its
// own started and stopped, and no clock read, per call that blocks, nor a
// timer per connection. A connection that sets a deadline once and blocks
// in Read for every request (a server's) pays nothing per request.
//
// On a Clock (Options.Clock) the calls compare their deadline with the
// clock's time and wait with it (waitToken), so that a simulation sees
// every wait's deadline.

// readPassed reports whether the read deadline has passed (c.mu held).
func (c *Conn) readPassed() bool {
	if c.s.clock != nil {
		return c.s.expired(c.rdl)
	}
	return c.rdPassed
}

// writePassed reports whether the write deadline has passed (c.mu held).
func (c *Conn) writePassed() bool {
	if c.s.clock != nil {
		return c.s.expired(c.wdl)
	}
	return c.wdPassed
}

// waitDeadline is the deadline a blocking call gives waitToken: on the
// wall clock none, since the timer queue wakes the call.
func (c *Conn) waitDeadline(d deadline) deadline {
	if c.s.clock != nil {
		return d
	}
	return 0
}

// setDeadlines marks what has passed of the deadlines just set, and has
// the timer queue poll the connection at the others (c.mu held). On a Clock
// it does nothing.
func (c *Conn) setDeadlines() {
	if c.s.clock != nil {
		return
	}
	c.rdPassed, c.wdPassed = false, false
	if c.rdl == 0 && c.wdl == 0 {
		return // the queue's entry for them, if any, fires early: harmless
	}
	c.deadlinesAt(c.s.now())
	if !c.gone {
		c.s.timers.schedule(c, c.deadlineWake(c.tcb.Deadline()))
	}
}

// deadlinesAt marks the deadlines that have passed at now and wakes the
// calls that wait for them (c.mu held; wall clock).
func (c *Conn) deadlinesAt(now time.Duration) {
	if c.rdl != 0 && !c.rdPassed && now >= time.Duration(c.rdl) {
		c.rdPassed = true
		signal(c.rd)
	}
	if c.wdl != 0 && !c.wdPassed && now >= time.Duration(c.wdl) {
		c.wdPassed = true
		signal(c.wr)
	}
}

// deadlineWake returns when the timer queue must poll the connection, at
// its TCB's deadline at the latest: the earlier of its deadlines not yet
// passed, if that is earlier (c.mu held).
func (c *Conn) deadlineWake(at time.Duration) time.Duration {
	if c.s.clock != nil || c.closed {
		return at
	}
	if d := time.Duration(c.rdl); d != 0 && !c.rdPassed && d < at {
		at = d
	}
	if d := time.Duration(c.wdl); d != 0 && !c.wdPassed && d < at {
		at = d
	}
	return at
}
