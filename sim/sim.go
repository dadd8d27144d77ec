// Package sim runs synack stacks, their links and the code that uses them
// on virtual time, one goroutine at a time, so that a run takes only the
// CPU time it needs and the same seed replays the same packets, byte for
// byte.
//
// A Sim is a clock and a scheduler in one. It implements synack.Clock, so
// a stack built with Options{Clock: s} starts its goroutines on it and
// waits only through it; its links come from Pipe and wait the same way.
// Exactly one goroutine of the simulation runs at any moment: the one that
// made the Sim (its main goroutine), or one it started with Go. A running
// goroutine gives way only by waiting (Wait, Sleep, RunUntil, or a stack
// call that blocks, which waits through the Sim). The Sim then resumes the
// first waiting goroutine, in the order they began to wait, whose
// condition holds; when none can run, virtual time jumps to the next
// deadline or scheduled event. Go's runtime cannot tell a library when a
// goroutine blocks (testing/synctest hooks the runtime, inside tests only),
// so a goroutine of the simulation must never block any other way: not on
// a channel, a sync.Mutex held across a wait, or time.Sleep.
//
// Replay needs every other input fixed too: give each stack a Rand from
// the Sim (Options{Rand: s.Rand()}), create stacks and pipes in the same
// order, and take deadlines from the Sim's Now, not time.Now. Impairments
// draw from generators seeded by the Sim's seed.
//
// A test that goes wrong fails instead of hanging: when every goroutine is
// blocked and nothing is scheduled, the main goroutine's wait returns an
// error wrapping ErrDeadlock that shows where each goroutine waits, and
// virtual time stops at Config.Limit.
//
// An external driver (a script runner, a fuzzer) holds one end of a Pipe
// and steps time itself: it writes raw IP packets into its end, reads what
// the stack sent with ReadPacket (stamped with the virtual time it
// arrived), starts calls that may block with Go, and moves time with
// RunUntil, RunFor and Next.
package sim

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

// Config describes a simulation. The zero value is usable.
type Config struct {
	// Seed seeds every generator the Sim hands out: Rand's streams and
	// the impairments of Pipe's links. Equal seeds, with the same calls in
	// the same order, replay the same run.
	Seed int64

	// Start is the virtual time at New. Zero means 2000-01-01 00:00 UTC,
	// far from the wall clock, so that a deadline taken from time.Now by
	// mistake is plainly wrong.
	Start time.Time

	// Limit is how far virtual time may run from Start: a wait that would
	// need time to pass it fails with ErrLimit, so a run whose timers
	// never stop (a probe timer, a livelock) ends. Zero means one hour;
	// a negative value means no limit.
	Limit time.Duration
}

// DefaultStart is the virtual time of a Sim whose Config.Start is zero.
var DefaultStart = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// DefaultLimit is the Limit of a Sim whose Config.Limit is zero.
const DefaultLimit = time.Hour

var (
	// ErrDeadlock is wrapped by the error a wait of the main goroutine
	// returns when every goroutine of the simulation waits and nothing is
	// scheduled that could wake one.
	ErrDeadlock = errors.New("sim: deadlock: every goroutine waits and nothing is scheduled")

	// ErrLimit is wrapped by the error a wait of the main goroutine
	// returns when only time beyond Config.Limit could wake a goroutine.
	ErrLimit = errors.New("sim: virtual time limit reached")

	// ErrClosed is returned by waits of the main goroutine after Close.
	ErrClosed = errors.New("sim: closed")
)

// never is the deadline of a wait without one.
const never = time.Duration(1<<63 - 1)

// Sim is a simulation: a virtual clock, the goroutines that run on it, and
// the events scheduled on it. Its methods may be called only by the
// goroutine running in the simulation (the main goroutine, or one started
// with Go), and by AfterFunc callbacks where their doc allows.
type Sim struct {
	start time.Time
	limit time.Duration
	seed  uint64
	now   time.Duration // since start

	main   *goroutine
	cur    *goroutine   // the goroutine that runs
	waits  []*goroutine // waiting goroutines, in the order they began to wait
	events eventHeap
	seq    uint64 // orders events scheduled for one instant

	inEvent bool       // an AfterFunc callback runs
	closed  bool       // Close was called
	closer  *goroutine // the goroutine running Close
	streams uint64     // Rand streams and pipe generators handed out
}

// goroutine is one goroutine of the simulation, and how it waits.
type goroutine struct {
	wake   chan struct{} // the baton: a token means "you run now"
	ready  func() bool   // nil: wait for the deadline only
	at     time.Duration // deadline, or never
	idle   bool          // RunUntil: resume only when nothing else can run
	result error         // what the wait returns
	abort  bool          // Close: exit at once
}

func newGoroutine() *goroutine { return &goroutine{wake: make(chan struct{}, 1), at: never} }

// New returns a simulation at virtual time cfg.Start. The calling goroutine
// becomes its main goroutine: it runs now, and the goroutines started with
// Go run only while it waits.
func New(cfg Config) *Sim {
	s := &Sim{start: cfg.Start, limit: cfg.Limit, seed: uint64(cfg.Seed)}
	if s.start.IsZero() {
		s.start = DefaultStart
	}
	switch {
	case s.limit == 0:
		s.limit = DefaultLimit
	case s.limit < 0:
		s.limit = never
	}
	s.main = newGoroutine()
	s.cur = s.main
	return s
}

// Now returns the virtual time. It implements synack.Clock.
func (s *Sim) Now() time.Time { return s.start.Add(s.now) }

// Start returns the virtual time at New.
func (s *Sim) Start() time.Time { return s.start }

// Elapsed returns the virtual time since New.
func (s *Sim) Elapsed() time.Duration { return s.now }

// Go starts f on a new goroutine of the simulation. f runs once the caller
// waits, after the goroutines already able to run. When f returns or
// calls runtime.Goexit (t.Fatal does), the goroutine ends. Go implements
// synack.Clock. After Close, Go does nothing.
func (s *Sim) Go(f func()) {
	if s.closed {
		return
	}
	g := newGoroutine()
	s.enqueue(g, alwaysReady, never)
	go s.run(g, f)
}

func alwaysReady() bool { return true }

// run is the body of every goroutine started by Go.
func (s *Sim) run(g *goroutine, f func()) {
	<-g.wake
	returned := false
	defer func() {
		if !returned {
			if r := recover(); r != nil {
				panic(r) // a panic ends the program, as in any goroutine
			}
		}
		s.exit()
	}()
	if !g.abort {
		f()
	}
	returned = true
}

// exit hands the baton on from a goroutine that has returned.
func (s *Sim) exit() {
	if s.closed {
		s.cur = s.closer
		s.closer.wake <- struct{}{}
		return
	}
	next := s.pick()
	s.cur = next
	next.wake <- struct{}{}
}

// Wait blocks the calling goroutine of the simulation until ready reports
// true, or until the deadline passes when it is not zero, while the other
// goroutines run and virtual time moves. It returns nil when ready reported
// true (at once if it does already, without giving way), and
// os.ErrDeadlineExceeded at the deadline. In the main goroutine it returns
// an error wrapping ErrDeadlock or ErrLimit when nothing could ever make
// ready true, and ErrClosed after Close. Wait implements synack.Clock.
//
// The Sim calls ready while no goroutine of the simulation runs, any
// number of times; it must not block or wait.
func (s *Sim) Wait(ready func() bool, deadline time.Time) error {
	if ready != nil && ready() {
		return nil
	}
	at := never
	if !deadline.IsZero() {
		at = deadline.Sub(s.start)
		if at <= s.now {
			return os.ErrDeadlineExceeded
		}
	}
	return s.block(ready, at, false)
}

// Sleep blocks the calling goroutine for d of virtual time.
func (s *Sim) Sleep(d time.Duration) {
	if d > 0 {
		s.block(nil, s.now+d, false)
	}
}

// RunUntil lets the simulation run until virtual time t, and returns once
// everything due at t or before has run and every goroutine waits for
// something later. A t already past runs what can run now. It returns nil,
// ErrClosed after Close, or an error wrapping ErrLimit when t is beyond
// Config.Limit and something is due between the two (time stops at the
// limit).
func (s *Sim) RunUntil(t time.Time) error {
	return s.block(nil, max(t.Sub(s.start), s.now), true)
}

// RunFor is RunUntil(Now().Add(d)); RunFor(0) runs whatever can run now.
func (s *Sim) RunFor(d time.Duration) error { return s.RunUntil(s.Now().Add(max(d, 0))) }

// Next reports when something next happens: now if a goroutine of the
// simulation can run, else the earliest scheduled event or wait deadline.
// It reports false when nothing at all is pending. A driver steps from
// event to event with RunUntil(t) for each t that Next reports.
func (s *Sim) Next() (time.Time, bool) {
	next := never
	if len(s.events) > 0 {
		next = s.events[0].at
	}
	for _, g := range s.waits {
		if g.idle {
			continue
		}
		if g.ready != nil && g.ready() {
			return s.Now(), true
		}
		next = min(next, g.at)
	}
	if next == never {
		return time.Time{}, false
	}
	return s.start.Add(max(next, s.now)), true
}

// block parks the calling goroutine, runs the others, and returns the
// result of its wait.
func (s *Sim) block(ready func() bool, at time.Duration, idle bool) error {
	if s.inEvent {
		panic("sim: a wait in an AfterFunc callback")
	}
	g := s.cur
	if s.closed {
		if g.abort {
			runtime.Goexit()
		}
		return ErrClosed
	}
	s.enqueue(g, ready, at)
	g.idle = idle
	next := s.pick()
	if next != g {
		s.cur = next
		next.wake <- struct{}{}
		<-g.wake
	}
	g.idle = false
	if g.abort {
		runtime.Goexit()
	}
	return g.result
}

// enqueue adds g to the waiting goroutines.
func (s *Sim) enqueue(g *goroutine, ready func() bool, at time.Duration) {
	g.ready, g.at, g.result = ready, at, nil
	s.waits = append(s.waits, g)
}

// pick chooses the goroutine to run next, moving virtual time and firing
// events as needed, and takes it off the waiting list. The first waiting
// goroutine whose condition holds wins; then one whose deadline has come;
// then, when nothing can run before it, a RunUntil; else time moves to the
// next event or deadline. When nothing remains, the main goroutine's wait
// ends with an error.
func (s *Sim) pick() *goroutine {
	for {
		for i, g := range s.waits {
			if g.idle {
				continue
			}
			switch {
			case g.ready != nil && g.ready():
				g.result = nil
			case g.at <= s.now:
				g.result = os.ErrDeadlineExceeded
			default:
				continue
			}
			return s.take(i)
		}
		next := never
		if len(s.events) > 0 {
			next = s.events[0].at
		}
		idle := -1
		for i, g := range s.waits {
			switch {
			case !g.idle:
				next = min(next, g.at)
			case idle < 0 || g.at < s.waits[idle].at:
				idle = i
			}
		}
		// A RunUntil resumes when nothing happens before its time, which
		// may lie past the limit only when nothing at all is pending.
		if idle >= 0 && s.waits[idle].at < next && (s.waits[idle].at <= s.limit || next == never) {
			g := s.take(idle)
			s.now = max(s.now, g.at)
			g.result = nil
			return g
		}
		if next == never || next > s.limit {
			return s.fail(next == never)
		}
		s.now = next
		s.fire()
	}
}

// take removes and returns the i-th waiting goroutine.
func (s *Sim) take(i int) *goroutine {
	g := s.waits[i]
	copy(s.waits[i:], s.waits[i+1:])
	s.waits[len(s.waits)-1] = nil
	s.waits = s.waits[:len(s.waits)-1]
	return g
}

// fail ends the main goroutine's wait with ErrDeadlock (or ErrLimit),
// describing where every goroutine of the simulation waits.
func (s *Sim) fail(deadlock bool) *goroutine {
	for i, g := range s.waits {
		if g == s.main {
			s.take(i)
			why := ErrLimit
			if deadlock {
				why = ErrDeadlock
			}
			g.result = &stuckError{why: why, at: s.now, limit: s.limit, stacks: waitingStacks()}
			return g
		}
	}
	panic("sim: every goroutine waits but the main goroutine is not among them")
}

// stuckError is a deadlock or the time limit, with the stacks of the
// goroutines that wait.
type stuckError struct {
	why    error
	at     time.Duration
	limit  time.Duration
	stacks string
}

func (e *stuckError) Error() string {
	what := fmt.Sprintf("%v at %v", e.why, e.at)
	if e.why == ErrLimit {
		what = fmt.Sprintf("%v (%v) with goroutines still waiting", e.why, e.limit)
	}
	return what + "; the waiting goroutines:\n\n" + e.stacks
}

func (e *stuckError) Unwrap() error { return e.why }

// waitingStacks returns the stack traces of the goroutines parked in this
// package, for a deadlock report.
func waitingStacks() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		i := strings.Index(g, "\ngithub.com/synack-go/synack/sim.(*Sim).block(")
		if i < 0 {
			continue
		}
		// The goroutine that found the deadlock shows how; cut that.
		header, _, _ := strings.Cut(g, "\n")
		out = append(out, header+g[i:])
	}
	return strings.Join(out, "\n\n")
}

// Close ends the simulation. Every goroutine still waiting in it exits
// (with runtime.Goexit, so its deferred calls run; waits in those calls
// exit at once too); later waits of the main goroutine return ErrClosed,
// and Go does nothing. Only the main goroutine may call Close; a second
// Close does nothing. Close the stacks first to end them in order.
func (s *Sim) Close() {
	if s.closed {
		return
	}
	if s.cur != s.main {
		panic("sim: Close called by a goroutine other than the main one")
	}
	s.closed = true
	s.closer = s.cur
	for len(s.waits) > 0 {
		g := s.take(0)
		g.abort = true
		s.cur = g
		g.wake <- struct{}{}
		<-s.closer.wake
	}
	s.cur = s.closer
	for _, t := range s.events {
		t.idx = -1
	}
	s.events = nil
}
