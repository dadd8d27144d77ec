package main

import (
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/synack-go/synack/trace"
	"github.com/synack-go/synack/wire"
)

// demoTracer prints each event of both stacks once (segments as they are
// sent), records them for the ladder, and picks the segments the link is
// to lose.
//
// It needs no lock: the stacks run on the scenario's simulation, one
// goroutine at a time.
type demoTracer struct {
	on     bool
	cwnd   bool // print congestion window changes
	text   *trace.Text
	out    io.Writer
	times  bool
	rec    trace.Recorder
	losses *losses
	// What each stack last sent on each connection and last received, to
	// name the probes it answers (see trace.ProbeNote).
	lastOut map[demoConnKey]wire.TCPSegment
	lastIn  map[string]*trace.Event
}

// demoConnKey is a connection as one stack sees it.
type demoConnKey struct {
	stack         string
	local, remote netip.AddrPort
}

// Trace implements trace.Tracer.
func (t *demoTracer) Trace(e *trace.Event) {
	if !t.on {
		return
	}
	t.rec.Trace(e)
	switch e.Kind {
	case trace.SegmentIn:
		c, seg := *e, *e.Seg // header fields only: the payload is not read
		c.Seg = &seg
		t.lastIn[e.Stack] = &c
		return // printed when it was sent
	case trace.SegmentOut:
		t.lastOut[demoConnKey{e.Stack, e.Local, e.Remote}] = *e.Seg
	case trace.Congestion:
		if !t.cwnd {
			return
		}
	case trace.StateChange:
		if e.From == "CLOSED" && e.To == "LISTEN" {
			// A stack makes a connection's passive end when the SYN
			// arrives; the listener was there before, and listen says so
			// once, under its own address, when it starts.
			return
		}
	case trace.Drop:
		if note := t.probe(e); note != "" {
			t.line(e, note)
			return
		}
	}
	t.text.Trace(e)
	if e.Kind == trace.SegmentOut && t.losses.pick(e.Stack, e.Seg) {
		t.line(&trace.Event{At: e.At, Stack: "link", Local: e.Local, Remote: e.Remote}, "the link loses this segment")
	}
}

// probe returns trace.ProbeNote's text when Drop e threw away a probe that
// just arrived on its stack: an ACK one below what the stack acknowledges.
func (t *demoTracer) probe(e *trace.Event) string {
	in := t.lastIn[e.Stack]
	if e.Why != "out-of-window" || in == nil || in.Local != e.Local || in.Remote != e.Remote {
		return ""
	}
	ours, ok := t.lastOut[demoConnKey{e.Stack, e.Local, e.Remote}]
	s := in.Seg
	if !ok || s.Flags&(wire.SYN|wire.FIN|wire.RST|wire.ACK) != wire.ACK || len(s.Payload) > 1 || s.Seq.Add(1) != ours.Ack {
		return ""
	}
	return trace.ProbeNote(ours.Window)
}

// listening prints the listener's CLOSED -> LISTEN under its own address,
// at, on the stacks' clock.
func (t *demoTracer) listening(at time.Duration, addr netip.AddrPort) {
	if !t.on {
		return
	}
	t.out.Write(t.appendTime(nil, at))
	fmt.Fprintf(t.out, "[server] %s.%d: state CLOSED -> LISTEN (listen)\n", addr.Addr(), addr.Port())
}

// line prints an event line of the demo's own, in the Text's layout:
// "[link] 10.0.0.1.48236 > 10.0.0.2.80: the link loses this segment".
func (t *demoTracer) line(e *trace.Event, text string) {
	b := t.appendTime(nil, e.At)
	b = fmt.Appendf(b, "[%s] %s.%d > %s.%d: %s\n", e.Stack, e.Local.Addr(), e.Local.Port(), e.Remote.Addr(), e.Remote.Port(), text)
	t.out.Write(b)
}

// appendTime appends the time stamp of a line at at, as the Text's
// TimeStack, when the tracer prints times.
func (t *demoTracer) appendTime(b []byte, at time.Duration) []byte {
	if !t.times {
		return b
	}
	return fmt.Appendf(b, "%d.%06d ", at/time.Second, at%time.Second/time.Microsecond)
}

// newDemoTracer returns a tracer printing to out: ISN-relative numbers,
// and each event's virtual time when times.
func newDemoTracer(out io.Writer, cwnd, times, absolute bool, l *losses) *demoTracer {
	tf := trace.TimeNone
	if times {
		tf = trace.TimeStack
	}
	return &demoTracer{on: true, cwnd: cwnd, losses: l, out: out, times: times,
		lastOut: make(map[demoConnKey]wire.TCPSegment), lastIn: make(map[string]*trace.Event),
		text: trace.NewText(out, trace.TextOptions{Stack: true, FromISN: true, Absolute: absolute, Time: tf})}
}

// setOn turns printing and recording on or off.
func (t *demoTracer) setOn(on bool) { t.on = on }
