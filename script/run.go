package script

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Options tune a run.
type Options struct {
	// Overrides are the command line's --name=value options, which win
	// over the script's option lines.
	Overrides Overrides
	// Exec runs the script's shell commands (init, timed, cleanup);
	// without it they are never run, and only the sysctls of the init
	// command are read and applied by the target.
	Exec bool
	// Verbose, when not nil, receives what the run ignores (sysctls the
	// target has no equivalent for, commands not run, option lines) and
	// each packet skipped.
	Verbose io.Writer
	// Seed chooses the remote ports; runs with the same seed choose the
	// same ones.
	Seed uint64
}

// Result is the outcome of a run.
type Result struct {
	// Err is nil when the script passed; otherwise a *Error naming the
	// line of the first mismatch, or an error of the target.
	Err error
	// Ignored lists what the run did not apply: sysctls the target has no
	// equivalent for, commands not run (see Options.Exec).
	Ignored []string
	// Packets are every packet in and out, with their times, for ladder
	// diagrams.
	Packets []Captured
	// Elapsed is the run's clock when it ended.
	Elapsed time.Duration
}

// Captured is one IP packet of a run.
type Captured struct {
	At      time.Duration
	Inbound bool // sent by the script to the stack
	Data    []byte
}

// Line returns the line of the script the run failed at, or 0.
func (r *Result) Line() int {
	var e *Error
	if errors.As(r.Err, &e) {
		return e.Line
	}
	return 0
}

// runner is the state of one run.
type runner struct {
	s    *Script
	cfg  *Config
	t    Target
	opts *Options
	dir  string

	anchor      time.Duration // when the previous event finished
	prevSched   time.Duration // the previous event's scheduled time
	prevInbound bool          // the previous event was an inbound packet

	queue   []*livePacket // sent by the stack, not yet examined
	pending *pendingCall
	socks   map[int]*sock // by the script's fd
	sut     *sock         // the socket under test
	stray   *conn         // the flow of inbound packets with no socket
	ports   *rand.Rand
	asserts []error // code block failures, reported at the end

	packets []Captured
}

// Run runs s against t and returns the outcome. It starts t (which must be
// new) and closes it before returning.
func Run(s *Script, t Target, opts Options) *Result {
	res := &Result{}
	r := &runner{s: s, t: t, opts: &opts, socks: make(map[int]*sock), dir: filepath.Dir(s.File)}
	r.ports = rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x5eed))
	cfg, err := NewConfig(s, opts.Overrides)
	if err != nil {
		res.Err = err
		return res
	}
	r.cfg = cfg
	res.Ignored = append(res.Ignored, cfg.Ignored...)
	setup, err := ReadSetup(s.Init, s.File, r.dir)
	if err != nil {
		res.Err = err
		return res
	}
	ignored, err := t.Start(cfg, setup)
	res.Ignored = append(res.Ignored, ignored...)
	if err != nil {
		res.Err = fmt.Errorf("%s: starting the target: %w", s.File, err)
		t.Stop()
		return res
	}
	if opts.Exec {
		if s.Init != nil {
			if err := r.exec(s.Init); err != nil {
				res.Err = err
			}
		}
	} else {
		for _, c := range setup.Ignored {
			res.Ignored = append(res.Ignored, c+" (not run: no --exec)")
		}
	}
	if res.Err == nil {
		t.ZeroClock()
		res.Err = r.events()
	}
	if res.Err == nil {
		res.Err = r.finish()
	}
	if res.Err == nil && len(r.asserts) > 0 {
		res.Err = r.asserts[0]
	}
	if opts.Exec && s.Cleanup != nil {
		if err := r.exec(s.Cleanup); err != nil && res.Err == nil {
			res.Err = err
		}
	} else if s.Cleanup != nil {
		res.Ignored = append(res.Ignored, fmt.Sprintf("%s:%d: cleanup command (not run: no --exec)", s.File, s.Cleanup.Line))
	}
	res.Elapsed = t.Now()
	r.collect()
	res.Packets = r.packets
	if err := t.Stop(); err != nil && res.Err == nil {
		res.Err = fmt.Errorf("%s: closing the target: %w", s.File, err)
	}
	return res
}

// errorf makes the error of a line.
func (r *runner) errorf(line int, format string, args ...any) error {
	return &Error{File: r.s.File, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// events runs every event in order.
func (r *runner) events() error {
	for _, ev := range r.s.Events {
		if err := r.event(ev); err != nil {
			return err
		}
	}
	return nil
}

// schedule computes when an event is due: [lo, hi] (equal unless a
// window), and the tolerance.
func (r *runner) schedule(ev *Event) (lo, hi time.Duration, tol time.Duration) {
	anchor := r.anchor
	inbound := ev.Packet != nil && ev.Packet.Dir == Inbound
	if inbound && r.prevInbound {
		anchor = r.prevSched
	}
	tm := &ev.Time
	switch tm.Kind {
	case TimeAny:
		return anchor, 1 << 62, 0
	case TimeAbsolute:
		lo = tm.Start
	default:
		lo = anchor + tm.Start
	}
	hi = lo
	if tm.Range {
		hi = tm.End
		if tm.EndKind == TimeRelative {
			hi = anchor + tm.End
		}
	}
	return lo, hi, r.cfg.tolerance(hi - anchor)
}

func (r *runner) event(ev *Event) error {
	lo, hi, tol := r.schedule(ev)
	inbound := false
	switch {
	case ev.Packet != nil && ev.Packet.Dir == Outbound:
		if err := r.outbound(ev, lo, hi, tol); err != nil {
			return err
		}
	case ev.Packet != nil:
		if err := r.waitUntil(ev, lo, tol); err != nil {
			return err
		}
		if err := r.inbound(ev); err != nil {
			return err
		}
		r.anchor = r.t.Now()
		inbound = true
	case ev.Call != nil:
		if r.pending != nil {
			// One blocking call at a time: the next call waits for it.
			if err := r.awaitPending(); err != nil {
				return err
			}
		}
		if err := r.waitUntil(ev, lo, tol); err != nil {
			return err
		}
		if err := r.call(ev, lo); err != nil {
			return err
		}
	case ev.Command != nil:
		if err := r.waitUntil(ev, lo, tol); err != nil {
			return err
		}
		if r.opts.Exec {
			if err := r.exec(ev.Command); err != nil {
				return err
			}
		} else {
			logf(r.opts.Verbose, "%s:%d: command not run (no --exec): %s\n", r.s.File, ev.Line, ev.Command.Text)
		}
		r.anchor = r.t.Now()
	case ev.Code != nil:
		if err := r.waitUntil(ev, lo, tol); err != nil {
			return err
		}
		if err := r.code(ev); err != nil {
			return err
		}
		r.anchor = r.t.Now()
	}
	r.prevSched, r.prevInbound = lo, inbound
	return nil
}

// waitUntil lets time pass until at, checking on the way any blocking
// call that returns; an event found already late by more than tol fails.
func (r *runner) waitUntil(ev *Event, at, tol time.Duration) error {
	for {
		if err := r.checkPending(); err != nil {
			return err
		}
		now := r.t.Now()
		if now >= at {
			if now > at+tol {
				return r.errorf(ev.Line, "event is late: scheduled at %s s, but the previous event ended at %s s", secs(at), secs(now))
			}
			return nil
		}
		r.wait(at)
	}
}

// collect moves the packets the stack sent into the queue.
func (r *runner) collect() {
	for _, sp := range r.t.Sent() {
		r.packets = append(r.packets, Captured{At: sp.At, Data: sp.Pkt})
		p, err := parseLive(sp.Pkt, sp.At)
		if err != nil {
			logf(r.opts.Verbose, "%s: at %s s the stack sent a packet that does not parse (%v); skipped\n", r.s.File, secs(sp.At), err)
			continue
		}
		r.queue = append(r.queue, p)
	}
}

// finish waits for a pending blocking call after the last event.
func (r *runner) finish() error {
	if r.pending != nil {
		return r.awaitPending()
	}
	return nil
}

// exec runs a shell command of the script (only with Options.Exec).
func (r *runner) exec(c *Command) error {
	var cmd *exec.Cmd
	if cm, ok := r.t.(interface{ Command(string) *exec.Cmd }); ok {
		cmd = cm.Command(c.Text)
	} else {
		cmd = exec.Command("sh", "-c", c.Text)
	}
	cmd.Dir = r.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return r.errorf(c.Line, "command failed: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}
