package main

import (
	"fmt"
	"io"
	"net/netip"
	"slices"
	"time"

	"github.com/synack-go/synack/link/pcap"
	"github.com/synack-go/synack/tcp"
	"github.com/synack-go/synack/trace"
	"github.com/synack-go/synack/wire"
)

// playSimultaneousOpen has two TCBs open a connection to each other at the
// same instant, each from a fixed port to the other's: their SYNs cross,
// each end moves from SYN_SENT to SYN_RECV and answers with a SYN-ACK, and
// both become ESTABLISHED. A Stack cannot do this yet (Dial picks a random
// local port), so the demo drives the two TCBs itself, on a virtual clock
// and a link with a 1 ms delay each way.
func playSimultaneousOpen(out io.Writer, o demoOptions) ([]trace.Event, error) {
	w := &syncWriter{w: out}
	tr := newDemoTracer(w, o.cwnd, o.times, &losses{})
	sim := &tcbSim{tracer: tr, delay: time.Millisecond}
	if o.pcap != nil {
		pw, err := pcap.NewWriter(o.pcap)
		if err != nil {
			return nil, err
		}
		sim.pcap, sim.epoch = pw, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	a := netip.MustParseAddrPort("10.0.0.1:5000")
	b := netip.MustParseAddrPort("10.0.0.2:6000")
	cfg := tcp.Config{DisableTimestamps: true, TimeWait: demoTimeWait, DelayedAck: -1}
	sim.ends[0] = sim.newEnd(0, "a", a, b, &cfg)
	sim.ends[1] = sim.newEnd(1, "b", b, a, &cfg)
	fmt.Fprintf(w, "# a (%v) and b (%v) each open a connection to the other at the same instant\n", a, b)
	sim.ends[0].tcb.Connect(1_000_000, 0)
	sim.ends[1].tcb.Connect(7_000_000, 0)
	sim.poll(0)
	sim.poll(1)
	sim.run(time.Second)
	for _, e := range sim.ends {
		if e.tcb.State() != tcp.StateEstablished {
			return nil, fmt.Errorf("demo: %s ended in %v, want ESTABLISHED", e.name, e.tcb.State())
		}
	}
	fmt.Fprintln(w, "# both ends are ESTABLISHED after four segments, with no LISTEN anywhere")
	tr.setOn(false)
	return tr.rec.Events(), sim.err
}

// tcbSim joins two TCBs by a link with a fixed delay, on a virtual clock,
// as package tcp's own tests do.
type tcbSim struct {
	now    time.Duration
	delay  time.Duration
	ends   [2]*simEnd
	flight []simPacket
	tracer trace.Tracer
	pcap   *pcap.Writer
	epoch  time.Time // the capture's time at virtual time zero
	err    error
}

// simPacket is a segment in flight.
type simPacket struct {
	at  time.Duration
	to  int
	seg wire.TCPSegment
}

// simEnd is one TCB of the simulation; it is the TCB's Emitter and
// Observer, and turns what the TCB does into trace events.
type simEnd struct {
	sim           *tcbSim
	i             int
	name          string
	local, remote netip.AddrPort
	tcb           *tcp.TCB
}

func (s *tcbSim) newEnd(i int, name string, local, remote netip.AddrPort, cfg *tcp.Config) *simEnd {
	e := &simEnd{sim: s, i: i, name: name, local: local, remote: remote}
	e.tcb = tcp.New(cfg, local.Port(), remote.Port())
	e.tcb.SetObserver(e)
	return e
}

func (e *simEnd) trace(ev trace.Event) {
	ev.At, ev.Stack, ev.Local, ev.Remote = e.sim.now, e.name, e.local, e.remote
	e.sim.tracer.Trace(&ev)
}

// Emit implements tcp.Emitter: the segment is traced, captured and sent.
func (e *simEnd) Emit(seg *wire.TCPSegment) {
	e.trace(trace.Event{Kind: trace.SegmentOut, Seg: seg})
	c := *seg
	c.Payload = append([]byte(nil), seg.Payload...)
	if e.sim.pcap != nil && e.sim.err == nil {
		hl := wire.IPHeaderLen(e.remote.Addr())
		pkt := make([]byte, hl+c.Len())
		wire.PutIPHeader(pkt, e.local.Addr(), e.remote.Addr(), wire.ProtoTCP, c.Len(), 64)
		c.Emit(pkt[hl:])
		wire.TCP(pkt[hl:]).SetChecksum(e.local.Addr(), e.remote.Addr())
		e.sim.err = e.sim.pcap.WritePacket(e.sim.epoch.Add(e.sim.now), pkt)
	}
	e.sim.flight = append(e.sim.flight, simPacket{at: e.sim.now + e.sim.delay, to: 1 - e.i, seg: c})
}

// StateChanged implements tcp.Observer.
func (e *simEnd) StateChanged(from, to tcp.State, why string) {
	e.trace(trace.Event{Kind: trace.StateChange, From: from.String(), To: to.String(), Why: why})
}

// TimerFired implements tcp.Observer.
func (e *simEnd) TimerFired(name string) { e.trace(trace.Event{Kind: trace.Timer, Why: name}) }

// Dropped implements tcp.Observer.
func (e *simEnd) Dropped(r tcp.DropReason) { e.trace(trace.Event{Kind: trace.Drop, Why: r.String()}) }

// CongestionChanged implements tcp.Observer.
func (e *simEnd) CongestionChanged(cwnd, ssthresh uint32) {
	e.trace(trace.Event{Kind: trace.Congestion, Cwnd: cwnd, Ssthresh: ssthresh})
}

func (s *tcbSim) poll(i int) { s.ends[i].tcb.Poll(s.now, s.ends[i]) }

// run delivers segments and fires timers in time order until nothing is
// due before until.
func (s *tcbSim) run(until time.Duration) {
	for {
		next := tcp.NoDeadline
		for _, p := range s.flight {
			next = min(next, p.at)
		}
		for _, e := range s.ends {
			if e.tcb.State() != tcp.StateClosed {
				next = min(next, e.tcb.Deadline())
			}
		}
		if next > until {
			return
		}
		s.now = max(s.now, next)
		if i := slices.IndexFunc(s.flight, func(p simPacket) bool { return p.at <= s.now }); i >= 0 {
			p := s.flight[i]
			s.flight = slices.Delete(s.flight, i, i+1)
			e := s.ends[p.to]
			e.trace(trace.Event{Kind: trace.SegmentIn, Seg: &p.seg})
			e.tcb.Input(&p.seg, s.now)
			s.poll(p.to)
			continue
		}
		for i, e := range s.ends {
			if e.tcb.State() != tcp.StateClosed && e.tcb.Deadline() <= s.now {
				s.poll(i)
			}
		}
	}
}
