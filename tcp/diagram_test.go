package tcp

import (
	"strings"
	"testing"
	"time"

	"github.com/synack-go/synack/wire"
)

// rfc9293Diagram is every edge of RFC 9293 Figure 5. (A segment carrying
// both the peer's FIN and the ACK of ours passes FIN_WAIT2 on its way to
// TIME_WAIT: §3.10.7.4 processes the ACK in the fifth step and the FIN in the
// eighth, as Linux does.)
var rfc9293Diagram = []transition{
	{StateClosed, StateListen},
	{StateClosed, StateSynSent},
	{StateListen, StateClosed},
	{StateListen, StateSynReceived},
	{StateListen, StateSynSent},
	{StateSynSent, StateClosed},
	{StateSynSent, StateSynReceived},
	{StateSynSent, StateEstablished},
	{StateSynReceived, StateListen},
	{StateSynReceived, StateEstablished},
	{StateSynReceived, StateFinWait1},
	{StateEstablished, StateFinWait1},
	{StateEstablished, StateCloseWait},
	{StateFinWait1, StateFinWait2},
	{StateFinWait1, StateClosing},
	{StateFinWait2, StateTimeWait},
	{StateClosing, StateTimeWait},
	{StateCloseWait, StateLastAck},
	{StateLastAck, StateClosed},
	{StateTimeWait, StateClosed},
}

// TestStateDiagram drives real segments through TCBs until every state and
// every transition of the RFC 9293 diagram has been taken.
func TestStateDiagram(t *testing.T) {
	seen := map[transition]bool{}
	record := func(s *sim) {
		for _, o := range s.obs {
			for _, tr := range o.trans {
				seen[tr] = true
			}
		}
	}
	scenarios := map[string]func(t *testing.T) *sim{
		"four-way close": func(t *testing.T) *sim {
			s := newSim(t, testConfig())
			s.connect()
			s.tcb[0].Close(s.now)
			s.poll(0)
			s.run(time.Second)
			s.tcb[1].Close(s.now)
			s.poll(1)
			s.run(2 * time.Minute)
			s.wantStates(StateClosed, StateClosed)
			return s
		},
		"simultaneous open and close": func(t *testing.T) *sim {
			s := newSim(t, testConfig())
			s.tcb[0].Connect(100, 0)
			s.tcb[1].Connect(900, 0)
			s.poll(0)
			s.poll(1)
			s.run(time.Second)
			s.tcb[0].Close(s.now)
			s.tcb[1].Close(s.now)
			s.poll(0)
			s.poll(1)
			s.run(2 * time.Minute)
			s.wantStates(StateClosed, StateClosed)
			return s
		},
		"listen then close, and listen then send": func(t *testing.T) *sim {
			s := newSim(t, testConfig())
			s.tcb[0].Listen(1)
			s.tcb[0].Close(0)
			s.tcb[1].Listen(2)
			s.tcb[1].Connect(2, 0) // RFC 9293 §3.10.2: SEND in LISTEN becomes active
			s.tcb[1].Abort()
			return s
		},
		"connect then close": func(t *testing.T) *sim {
			s := newSim(t, testConfig())
			s.tcb[0].Connect(1, 0)
			s.poll(0)
			s.tcb[0].Close(0)
			return s
		},
		"RST sends SYN_RECEIVED back to LISTEN": func(t *testing.T) *sim {
			s := newSim(t, testConfig())
			s.tcb[1].Listen(1_000_000)
			s.tcb[0].Connect(5000, 0)
			s.poll(0)
			s.step(time.Second) // SYN reaches B; its SYN-ACK is in flight
			var synack wire.TCPSegment
			for _, p := range s.flight {
				synack = p.seg
			}
			s.flight = nil
			// A answers the SYN-ACK with a RST (as if it had forgotten).
			s.tcb[1].Input(&wire.TCPSegment{SrcPort: 40000, DstPort: 80, Seq: 5001, Flags: wire.RST}, s.now)
			if s.tcb[1].State() != StateListen || synack.Flags&wire.SYN == 0 {
				t.Fatalf("state %v after RST, want LISTEN", s.tcb[1].State())
			}
			return s
		},
		"close in SYN_RECEIVED": func(t *testing.T) *sim {
			s := newSim(t, testConfig())
			s.tcb[1].Listen(1_000_000)
			s.tcb[0].Connect(5000, 0)
			s.poll(0)
			s.step(time.Second) // SYN reaches B
			s.tcb[1].Close(s.now)
			s.poll(1)
			s.run(time.Second)
			s.tcb[0].Close(s.now)
			s.poll(0)
			s.run(2 * time.Minute)
			s.wantStates(StateClosed, StateClosed)
			return s
		},
	}
	for name, f := range scenarios {
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) { record(f(t)) })
	}
	states := map[State]bool{}
	for _, tr := range rfc9293Diagram {
		states[tr.from] = true
		if !seen[tr] {
			t.Errorf("transition %v -> %v never taken", tr.from, tr.to)
		}
	}
	if len(states) != 11 {
		t.Errorf("diagram covers %d states, want 11", len(states))
	}
}
