package sim

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Goroutines run one at a time, in the order they began to wait, and time
// moves only when none can run.
func TestSchedulingOrder(t *testing.T) {
	s := New(Config{})
	defer s.Close()
	var log []string
	for i := range 3 {
		s.Go(func() {
			log = append(log, fmt.Sprintf("%d start %v", i, s.Elapsed()))
			s.Sleep(time.Duration(3-i) * time.Millisecond)
			log = append(log, fmt.Sprintf("%d woke %v", i, s.Elapsed()))
		})
	}
	if len(log) != 0 {
		t.Fatal("goroutines ran before the main one waited")
	}
	if err := s.RunFor(10 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	want := "0 start 0s,1 start 0s,2 start 0s,2 woke 1ms,1 woke 2ms,0 woke 3ms"
	if got := strings.Join(log, ","); got != want {
		t.Fatalf("ran\n%s\nwant\n%s", got, want)
	}
	if s.Elapsed() != 10*time.Millisecond {
		t.Fatalf("RunFor(10ms) left the clock at %v", s.Elapsed())
	}
}

// A condition is checked whenever the running goroutine gives way, and a
// deadline ends a wait whose condition never holds.
func TestWaitConditionAndDeadline(t *testing.T) {
	s := New(Config{})
	defer s.Close()
	flag := false
	s.Go(func() {
		s.Sleep(5 * time.Millisecond)
		flag = true
	})
	if err := s.Wait(func() bool { return flag }, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if s.Elapsed() != 5*time.Millisecond {
		t.Fatalf("woke at %v, want 5ms", s.Elapsed())
	}
	err := s.Wait(func() bool { return false }, s.Now().Add(time.Second))
	if !errors.Is(err, os.ErrDeadlineExceeded) || s.Elapsed() != 1005*time.Millisecond {
		t.Fatalf("wait past its deadline: %v at %v", err, s.Elapsed())
	}
	if err := s.Wait(func() bool { return false }, s.Now()); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("wait with a deadline already past: %v", err)
	}
}

// When every goroutine waits and nothing is scheduled, the main goroutine's
// wait fails with ErrDeadlock and shows where the others wait.
func TestDeadlock(t *testing.T) {
	s := New(Config{})
	defer s.Close()
	s.Go(func() { s.Wait(func() bool { return false }, time.Time{}) })
	err := s.Wait(func() bool { return false }, time.Time{})
	if !errors.Is(err, ErrDeadlock) {
		t.Fatalf("got %v, want ErrDeadlock", err)
	}
	if !strings.Contains(err.Error(), "TestDeadlock.func1") {
		t.Fatalf("the report does not show the waiting goroutine:\n%v", err)
	}
}

// A run whose events never stop ends at Config.Limit.
func TestLimit(t *testing.T) {
	s := New(Config{Limit: time.Minute})
	defer s.Close()
	var tick func()
	tick = func() { s.AfterFunc(time.Second, tick) }
	tick()
	err := s.Wait(func() bool { return false }, time.Time{})
	if !errors.Is(err, ErrLimit) || s.Elapsed() != time.Minute {
		t.Fatalf("got %v at %v, want ErrLimit at 1m", err, s.Elapsed())
	}
	if err := s.RunFor(time.Hour); !errors.Is(err, ErrLimit) || s.Elapsed() != time.Minute {
		t.Fatalf("RunFor past the limit with events due: %v at %v, want ErrLimit at 1m", err, s.Elapsed())
	}

	// With nothing pending, time may jump past the limit: nothing runs away.
	s2 := New(Config{Limit: time.Minute})
	defer s2.Close()
	if err := s2.RunFor(time.Hour); err != nil || s2.Elapsed() != time.Hour {
		t.Fatalf("RunFor(1h) with nothing pending: %v at %v", err, s2.Elapsed())
	}
}

// RunUntil returns once everything due by then has run, including what
// those goroutines start at the same instant.
func TestRunUntilRunsTheInstant(t *testing.T) {
	s := New(Config{})
	defer s.Close()
	n := 0
	s.AfterFunc(time.Second, func() {
		s.Go(func() {
			n++
			s.Go(func() { n++ })
		})
	})
	s.RunUntil(s.Start().Add(time.Second))
	if n != 2 || s.Elapsed() != time.Second {
		t.Fatalf("n = %d at %v, want 2 at 1s", n, s.Elapsed())
	}
	if _, ok := s.Next(); ok {
		t.Fatal("Next reports an event when none is left")
	}
	s.AfterFunc(time.Minute, func() {})
	if at, ok := s.Next(); !ok || at.Sub(s.Start()) != time.Minute+time.Second {
		t.Fatalf("Next = %v, %v", at, ok)
	}
}

// Close ends waiting goroutines with Goexit, running their deferred calls,
// even those that wait again.
func TestCloseEndsGoroutines(t *testing.T) {
	s := New(Config{})
	var ran []string
	for i := range 2 {
		s.Go(func() {
			defer func() { ran = append(ran, fmt.Sprint(i)) }()
			defer s.Sleep(time.Second) // a wait during Close exits at once
			s.Wait(func() bool { return false }, time.Time{})
			ran = append(ran, "not reached")
		})
	}
	s.Go(func() { ran = append(ran, "never started") })
	s.RunFor(0)
	ran = ran[1:] // the third ran
	s.Close()
	if strings.Join(ran, ",") != "0,1" {
		t.Fatalf("deferred calls ran: %v", ran)
	}
	if err := s.Wait(func() bool { return false }, time.Time{}); err != ErrClosed {
		t.Fatalf("wait after Close: %v", err)
	}
	s.Close()
}

// A context from WithTimeout ends on virtual time, as DeadlineExceeded.
func TestWithTimeout(t *testing.T) {
	s := New(Config{})
	defer s.Close()
	ctx, cancel := s.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := s.Wait(func() bool { return ctx.Err() != nil }, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != context.DeadlineExceeded || s.Elapsed() != 30*time.Millisecond {
		t.Fatalf("%v at %v", ctx.Err(), s.Elapsed())
	}
	ctx, cancel = s.WithTimeout(context.Background(), time.Second)
	cancel()
	if ctx.Err() != context.Canceled {
		t.Fatalf("cancelled: %v", ctx.Err())
	}
	if _, ok := s.Next(); ok {
		t.Fatal("a cancelled context left its timer scheduled")
	}
}

// A goroutine that exits with t.Fatal's Goexit hands the baton on.
func TestGoexit(t *testing.T) {
	s := New(Config{})
	defer s.Close()
	done := false
	s.Go(func() {
		defer func() { done = true }()
		s.Sleep(time.Millisecond)
		runtime.Goexit()
	})
	if err := s.Wait(func() bool { return done }, time.Time{}); err != nil {
		t.Fatal(err)
	}
}
