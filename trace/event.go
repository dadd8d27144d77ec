// Package trace carries what a stack sees and does, one [Event] at a time:
// segments in and out, state changes, timers, drops and congestion window
// updates, delivered synchronously to a [Tracer].
//
// A stack with no tracer pays nothing; with one, each event is a pointer to a
// value that lives on the caller's stack and is valid only during the call.
// Tracers that keep events must copy them, as [Recorder] does.
//
// Three tracers are provided: [Text] prints tcpdump-style lines, [Recorder]
// keeps copies for tests and ladder diagrams, and [Func] adapts a plain
// function (for filtering, counting or forwarding). [Multi] sends each event
// to several tracers.
//
// Recorded events draw as the ladder diagrams of a TCP course, one or
// several connections at once: [WriteLadder] as text, [WriteSVG] as a
// picture, [WriteHTML] as a page that steps through time and shows each
// segment under the pointer. [Capture] turns the packets of any capture
// into the same events, inferring both ends' states, so that a tcpdump of
// two kernels draws the same way.
package trace

import (
	"net/netip"
	"strconv"
	"time"

	"github.com/synack-go/synack/wire"
)

// Kind says what an [Event] reports, and so which of its fields are set.
type Kind uint8

// The kinds of event.
const (
	// SegmentIn is a TCP segment that arrived and passed its checksum: Seg,
	// Local (its destination) and Remote (its source) are set.
	SegmentIn Kind = iota
	// SegmentOut is a TCP segment the stack sends: Seg, Local (its source)
	// and Remote (its destination) are set.
	SegmentOut
	// StateChange is a connection moving between RFC 9293 states: From, To
	// and, when known, Why (the cause, such as "rcvd SYN-ACK").
	StateChange
	// Timer is a connection timer firing: Why names it ("retransmit",
	// "delayed-ack", "keepalive", "time-wait" ...).
	Timer
	// Drop is a segment or packet thrown away: Why is the reason, the same
	// name the stack counts it under in its statistics.
	Drop
	// Congestion is a change of the congestion window: Cwnd and Ssthresh,
	// in bytes.
	Congestion
)

var kindNames = [...]string{
	SegmentIn:   "SegmentIn",
	SegmentOut:  "SegmentOut",
	StateChange: "StateChange",
	Timer:       "Timer",
	Drop:        "Drop",
	Congestion:  "Congestion",
}

// String returns the kind's Go name, such as "SegmentIn", or "Kind(9)" for
// a value that is not one of the constants.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Event is one thing a stack saw or did. Which fields are set depends on
// Kind; the others are zero.
//
// An Event and everything it points to (Seg and its Payload) are valid only
// during the [Tracer.Trace] call that delivers it: the stack reuses them
// afterwards. A tracer that keeps an event must copy what it needs.
type Event struct {
	Kind Kind
	// At is the time of the event, measured from the moment the stack
	// started, on the stack's own clock.
	At time.Duration
	// Stack is the name of the stack that saw the event (its Options.Name);
	// it may be empty.
	Stack string
	// Local and Remote are the connection's endpoints as seen from this
	// stack; either may be the zero AddrPort when the event belongs to no
	// connection (for example a packet dropped before demultiplexing).
	Local, Remote netip.AddrPort
	// Seg is the segment, for SegmentIn and SegmentOut only.
	Seg *wire.TCPSegment
	// From and To are state names such as "SYN_SENT", for StateChange.
	From, To string
	// Why is the cause of a StateChange, the name of a Timer, the reason
	// for a Drop, or the rule that moved the window for a Congestion
	// ("PRR, RFC 6937").
	Why string
	// Cwnd and Ssthresh are the congestion window and slow-start threshold
	// in bytes, for Congestion.
	Cwnd, Ssthresh uint32
}

// Tracer receives events. The stack calls Trace synchronously, on whichever
// goroutine handles the event and possibly on several goroutines at once, so
// an implementation must be safe for concurrent use and must not block for
// long: traffic waits while it runs. Trace must not keep e or anything it
// points to after returning.
type Tracer interface {
	Trace(e *Event)
}

// Func adapts an ordinary function to the [Tracer] interface; the function
// must obey Tracer's rules (concurrent calls, no blocking, no keeping e).
type Func func(e *Event)

// Trace calls f(e).
func (f Func) Trace(e *Event) { f(e) }

// Multi returns a Tracer that hands each event to every given tracer in
// turn, in the order given. Nil tracers are left out and nested Multi
// tracers are flattened. With exactly one non-nil tracer Multi returns it
// unchanged; with none it returns nil, which a stack's options take as
// "tracing off" (calling Trace on that nil value panics).
func Multi(tracers ...Tracer) Tracer {
	var all multi
	for _, t := range tracers {
		switch t := t.(type) {
		case nil:
		case multi:
			all = append(all, t...)
		default:
			all = append(all, t)
		}
	}
	switch len(all) {
	case 0:
		return nil
	case 1:
		return all[0]
	}
	return all
}

// multi is the Tracer that Multi returns for two or more tracers.
type multi []Tracer

func (m multi) Trace(e *Event) {
	for _, t := range m {
		t.Trace(e)
	}
}
