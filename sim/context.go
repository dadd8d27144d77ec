package sim

import (
	"context"
	"sync/atomic"
	"time"
)

// WithDeadline returns a copy of parent that ends at virtual time d, or
// when parent ends or cancel is called. Package context's own deadlines
// run on the wall clock, which means nothing in a simulation; a stack's
// Dial on a Sim watches contexts made here.
func (s *Sim) WithDeadline(parent context.Context, d time.Time) (context.Context, context.CancelFunc) {
	inner, cancel := context.WithCancel(parent)
	c := &deadlineCtx{Context: inner, deadline: d}
	if pd, ok := parent.Deadline(); ok && pd.Before(d) {
		c.deadline = pd
	}
	expire := func() {
		if inner.Err() == nil {
			c.expired.Store(true)
			cancel()
		}
	}
	if !s.Now().Before(c.deadline) {
		expire()
		return c, cancel
	}
	t := s.AfterFunc(c.deadline.Sub(s.Now()), expire)
	return c, func() {
		t.Stop()
		cancel()
	}
}

// WithTimeout is WithDeadline(parent, s.Now().Add(d)).
func (s *Sim) WithTimeout(parent context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return s.WithDeadline(parent, s.Now().Add(d))
}

// deadlineCtx is a cancelable context whose deadline is on virtual time.
type deadlineCtx struct {
	context.Context
	deadline time.Time
	expired  atomic.Bool
}

func (c *deadlineCtx) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *deadlineCtx) Err() error {
	if c.expired.Load() {
		return context.DeadlineExceeded
	}
	return c.Context.Err()
}
