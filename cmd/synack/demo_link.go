package main

import (
	"time"

	"github.com/synack-go/synack/link"
	"github.com/synack-go/synack/link/pipe"
	"github.com/synack-go/synack/sim"
	"github.com/synack-go/synack/wire"
)

// The demo's link is a pipe of the scenario's simulation (sim.Pipe) with a
// one-way delay, so that what one instant sends is in flight together: the
// SYNs of a simultaneous open cross, two clients' SYNs reach a server side
// by side. Its losses are the scenario's own, segments chosen by rule
// rather than drawn at random, so that the narration can say which.
const demoDelay = 5 * time.Millisecond

// demoLink returns the two ends of a scenario's link, 0 for the client and
// 1 for the server, as the simulation's pipe and as the stacks' endpoints
// (which lose what l picks).
func demoLink(s *sim.Sim, cfg pipe.Config, l *losses) ([2]*sim.Endpoint, [2]link.Endpoint) {
	if cfg.Delay == 0 {
		cfg.Delay = demoDelay
	}
	a, b := s.Pipe(cfg)
	return [2]*sim.Endpoint{a, b}, [2]link.Endpoint{&lossyEnd{a, l}, &lossyEnd{b, l}}
}

// lossyEnd is one end of the demo's link: it drops the packets that carry
// a segment the losses picked, and hands the rest to the pipe. Its stack
// reads one packet at a time, so that what a packet causes is traced
// before the next packet is read, and a capture of the end holds the
// packets in the order of the trace.
type lossyEnd struct {
	*sim.Endpoint
	losses *losses
}

// ReadBatch reads one packet.
func (e *lossyEnd) ReadBatch(bufs [][]byte, sizes []int) (int, error) {
	return e.Endpoint.ReadBatch(bufs[:min(len(bufs), 1)], sizes)
}

// WriteBatch sends pkts but those the losses mark.
func (e *lossyEnd) WriteBatch(pkts [][]byte) error {
	var keep [][]byte // nil until the first loss
	for i, p := range pkts {
		switch {
		case e.losses.take(p):
			if keep == nil {
				keep = append(make([][]byte, 0, len(pkts)), pkts[:i]...)
			}
		case keep != nil:
			keep = append(keep, p)
		}
	}
	if keep == nil {
		return e.Endpoint.WriteBatch(pkts)
	}
	return e.Endpoint.WriteBatch(keep)
}

// unread returns how many packets written at from the other end, to, has
// not read yet: in flight on the pipe, or waiting in to's queue.
func unread(from, to *sim.Endpoint) uint64 {
	f := from.Stats()
	arrives := f.Impair.Packets + f.Impair.Duplicated - f.Impair.Lost - f.Impair.QueueDrops - f.Impair.Discarded - f.QueueFull
	return arrives - to.Stats().Read
}

// losses are the segments a scenario loses on the link. A rule picks a
// segment when its sender traces it (so the trace can say so on the next
// line); the link then drops the first packet that carries it. Like
// everything in a simulation, losses are used by one goroutine at a time.
type losses struct {
	rules  []*lossRule
	marked map[segID]int // segments to lose, and how many copies
}

// lossRule loses the nth segment (counting from 1) that a stack sends and
// match accepts.
type lossRule struct {
	stack string
	match func(s *wire.TCPSegment) bool
	nth   int
	seen  int
}

// segID identifies a segment in a packet and in a trace event.
type segID struct {
	seq, ack   wire.Seq
	flags      wire.TCPFlags
	sport      uint16
	dport      uint16
	payloadLen int
}

func idOf(s *wire.TCPSegment) segID {
	return segID{s.Seq, s.Ack, s.Flags, s.SrcPort, s.DstPort, len(s.Payload)}
}

// pick reports whether the segment stack just sent is one to lose, and
// marks it for the link if so.
func (l *losses) pick(stack string, s *wire.TCPSegment) bool {
	for _, r := range l.rules {
		if r.stack != stack || !r.match(s) {
			continue
		}
		r.seen++
		if r.seen == r.nth {
			if l.marked == nil {
				l.marked = make(map[segID]int)
			}
			l.marked[idOf(s)]++
			return true
		}
	}
	return false
}

// take reports whether pkt carries a marked segment, unmarking it.
func (l *losses) take(pkt []byte) bool {
	if len(l.marked) == 0 {
		return false
	}
	var ip wire.IPPacket
	var seg wire.TCPSegment
	if wire.ParseIP(pkt, &ip) != nil || ip.Protocol != wire.ProtoTCP || seg.Parse(wire.TCP(ip.Payload)) != nil {
		return false
	}
	id := idOf(&seg)
	if l.marked[id] == 0 {
		return false
	}
	if l.marked[id]--; l.marked[id] == 0 {
		delete(l.marked, id)
	}
	return true
}
