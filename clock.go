package synack

import (
	"errors"
	"net"
	"os"
	"sync"
	"time"
)

// Clock is the time a Stack lives in (Options.Clock): every reading of the
// time, every goroutine the stack starts and every wait in it go through
// the Clock, so a simulation (package sim) can run the stack on virtual
// time and replay it exactly. Nil means the wall clock, served by Go's own
// timers at no extra cost.
//
// A Clock schedules as well as tells the time. A simulated clock may move
// only when every goroutine of the simulation is blocked, and only the
// goroutine's own scheduler can know that: Go's runtime does not say when
// a goroutine blocks on a channel or a timer (testing/synctest hooks the
// runtime for that, inside tests only). So the stack starts its goroutines
// with Go and blocks only in Wait; its link must block the same way (a
// simulation's links do).
//
// Implementations must be safe for use by the goroutines they run.
type Clock interface {
	// Now returns the current time.
	Now() time.Time

	// Go runs f on a new goroutine that the clock knows about.
	Go(f func())

	// Wait blocks the calling goroutine until ready reports true, or until
	// the deadline passes when it is not zero. It returns nil when ready
	// reported true, os.ErrDeadlineExceeded at the deadline, and any other
	// error when the clock can wait no longer (a simulation that is
	// deadlocked or closed); the stack hands that error to the caller.
	// ready reads state that other goroutines of the clock change: the
	// clock calls it while they cannot run, and it must not block.
	Wait(ready func() bool, deadline time.Time) error
}

// now is the stack's monotonic clock, the time its TCBs see. The wall
// clock's branch stays small enough to inline.
func (s *Stack) now() time.Duration {
	if s.clock == nil {
		return time.Since(s.start)
	}
	return s.clockSince()
}

func (s *Stack) clockSince() time.Duration { return s.clock.Now().Sub(s.start) }

// timeNow is the clock's time: the stack's start, and tests' deadlines.
func (s *Stack) timeNow() time.Time {
	if s.clock == nil {
		return time.Now()
	}
	return s.clock.Now()
}

// deadline is a Read, Write or Accept deadline on the stack's clock: the
// time since the stack started, as now counts it; 0 means none. It takes
// 8 bytes in every connection where a time.Time takes 24.
type deadline time.Duration

// deadlineAt converts a deadline given to SetDeadline.
func (s *Stack) deadlineAt(t time.Time) deadline {
	if t.IsZero() {
		return 0
	}
	if d := deadline(t.Sub(s.start)); d != 0 {
		return d
	}
	return -1 // the instant the stack started: passed, and not "none"
}

// expired reports whether a deadline is set and has passed. Such a deadline
// fails calls at once, even when data is ready, as in package net.
func (s *Stack) expired(d deadline) bool {
	return d != 0 && s.now() >= time.Duration(d)
}

// waitToken blocks until ch holds a token, which it takes, the deadline d
// passes or the stack closes, and returns nil, os.ErrDeadlineExceeded or
// net.ErrClosed (or a Clock's own error). *tp is the caller's reusable
// timer on the wall clock, made on first use; tp may be nil where d is 0
// there (a Conn's deadlines have a timer of their own: conn_deadline.go).
func (s *Stack) waitToken(ch chan struct{}, d deadline, tp **time.Timer) error {
	if s.clock != nil {
		var at time.Time
		if d != 0 {
			at = s.start.Add(time.Duration(d))
		}
		return s.clockWait(ch, at)
	}
	if d == 0 {
		select {
		case <-ch:
			return nil
		case <-s.done:
			return net.ErrClosed
		}
	}
	left := time.Duration(d) - s.now()
	if left <= 0 {
		return os.ErrDeadlineExceeded
	}
	if *tp == nil {
		*tp = time.NewTimer(left)
	} else {
		(*tp).Reset(left)
	}
	t := *tp
	defer t.Stop()
	select {
	case <-ch:
		return nil
	case <-t.C:
		return os.ErrDeadlineExceeded
	case <-s.done:
		return net.ErrClosed
	}
}

// spawn starts one of the stack's goroutines, counted in s.wg and s.live.
func (s *Stack) spawn(f func()) {
	s.wg.Add(1)
	s.live.Add(1)
	run := func() {
		defer s.wg.Done()
		defer s.live.Add(-1)
		f()
	}
	if s.clock != nil {
		s.clock.Go(run)
		return
	}
	go run()
}

// goUser starts a goroutine that runs the application's code (a
// forwarder's handler): on the Clock's scheduler when there is one, and not
// counted among the stack's own.
func (s *Stack) goUser(f func()) {
	if s.clock != nil {
		s.clock.Go(f)
		return
	}
	go f()
}

// waitGoroutines waits for every goroutine spawn started to return.
func (s *Stack) waitGoroutines() {
	if s.clock == nil {
		s.wg.Wait()
		return
	}
	// A clock that can wait no longer (a closed simulation) ends the
	// goroutines itself.
	s.clock.Wait(func() bool { return s.live.Load() == 0 }, time.Time{})
}

// clockWait blocks on the Clock until ch holds a token, the deadline passes
// or the stack closes, as the selects of the wall-clock path do. It takes
// the token, and returns nil, os.ErrDeadlineExceeded, net.ErrClosed or the
// clock's own error.
func (s *Stack) clockWait(ch chan struct{}, deadline time.Time) error {
	err := s.clock.Wait(func() bool { return len(ch) > 0 || s.closed.Load() }, deadline)
	if err != nil {
		return err
	}
	if s.closed.Load() {
		return net.ErrClosed
	}
	<-ch
	return nil
}

// clockLock locks m, which a blocked call may hold (Conn's rmu and wmu,
// Listener's amu), waiting for it through the Clock: a goroutine blocked
// in sync.Mutex.Lock would stop a simulation.
func (s *Stack) clockLock(m *sync.Mutex) error {
	if m.TryLock() {
		return nil
	}
	err := s.clock.Wait(func() bool {
		if m.TryLock() {
			m.Unlock()
			return true
		}
		return false
	}, time.Time{})
	if err != nil {
		return err
	}
	m.Lock() // free: nothing else ran since ready said so
	return nil
}

// isDeadline reports whether a Clock's Wait error is its deadline.
func isDeadline(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }
