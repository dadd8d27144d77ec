package trace

import (
	"sync"

	"github.com/synack-go/synack/wire"
)

// Recorder is a [Tracer] that keeps a copy of every event, for tests and for
// drawing ladder diagrams after the fact. The zero value is ready to use.
//
// Each kept segment is a copy of the traced [wire.TCPSegment] with its own
// header fields and options, but not its payload bytes: its Payload has the
// traced length and reads as zeros, and all kept payloads share one
// read-only buffer per Recorder (do not write to them). Keeping only lengths
// makes a recorder cheap enough to leave on for a whole transfer.
//
// Recorder is safe for concurrent use.
type Recorder struct {
	mu     sync.Mutex // guards the fields below
	events []Event
	zeros  []byte // the shared payload stand-in, as long as the longest payload seen
}

// Trace keeps a copy of e.
func (r *Recorder) Trace(e *Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := *e
	if e.Seg != nil {
		s := new(wire.TCPSegment)
		*s = *e.Seg
		if n := len(e.Seg.Payload); n > 0 {
			if n > len(r.zeros) {
				r.zeros = make([]byte, max(n, 2*len(r.zeros)))
			}
			s.Payload = r.zeros[:n:n]
		} else {
			s.Payload = nil
		}
		c.Seg = s
	}
	r.events = append(r.events, c)
}

// Events returns the events kept so far, oldest first, in a new slice that
// later events do not change. The segments the events point to are shared
// with the Recorder and with other calls' results: treat them as read-only.
func (r *Recorder) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Event, len(r.events))
	copy(out, r.events)
	return out
}

// Len returns the number of events kept so far.
func (r *Recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

// Reset forgets every event kept so far.
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = nil
}
