package synack

import (
	"net/netip"

	"github.com/synack-go/synack/tcp"
	"github.com/synack-go/synack/trace"
)

// observer is a Conn seen as the tcp.Observer of its TCB: it counts drops
// and, when the stack has a tracer, turns what the TCB reports into trace
// events. A distinct type keeps these methods off Conn's API; converting
// *Conn to *observer allocates nothing.
type observer Conn

// StateChanged traces a state transition.
func (o *observer) StateChanged(from, to tcp.State, why string) {
	if o.s.tracer != nil {
		o.s.trace(&trace.Event{Kind: trace.StateChange, Local: o.key.local, Remote: o.key.remote,
			From: from.String(), To: to.String(), Why: why})
	}
}

// TimerFired traces a timer's expiry.
func (o *observer) TimerFired(name string) {
	if o.s.tracer != nil {
		o.s.trace(&trace.Event{Kind: trace.Timer, Local: o.key.local, Remote: o.key.remote, Why: name})
	}
}

// Dropped counts a segment the TCB discarded, and traces it.
func (o *observer) Dropped(r tcp.DropReason) {
	if int(r) < len(o.s.ctr.tcpDrops) {
		o.s.ctr.tcpDrops[r].Add(1)
	}
	o.s.traceDrop(o.key.local, o.key.remote, r.String())
}

// CongestionChanged traces a new congestion window or threshold, with the
// rule that set it as the event's Why.
func (o *observer) CongestionChanged(cwnd, ssthresh uint32, why tcp.CwndReason) {
	if o.s.tracer != nil {
		o.s.trace(&trace.Event{Kind: trace.Congestion, Local: o.key.local, Remote: o.key.remote,
			Cwnd: cwnd, Ssthresh: ssthresh, Why: why.String()})
	}
}

// traceDrop traces a discarded packet or segment, if tracing is on.
func (s *Stack) traceDrop(local, remote netip.AddrPort, why string) {
	if s.tracer != nil {
		s.trace(&trace.Event{Kind: trace.Drop, Local: local, Remote: remote, Why: why})
	}
}
