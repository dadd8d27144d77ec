package main

import (
	"errors"
	"net"
	"sync"
	"time"

	"github.com/synack-go/synack/link"
	"github.com/synack-go/synack/link/pipe"
	"github.com/synack-go/synack/wire"
)

// lockstep joins the two ends of an in-memory pipe so that the link
// carries one packet at a time: a packet enters the pipe only when the
// stack that received the previous one has finished with it (its read
// loop asks for the next one) and no step of the scenario is running.
// Each event then has a single cause and a single place in the trace,
// however the goroutines are scheduled, which is what makes a demo print
// the same lines on every run. Packets wait in one FIFO queue, in the order
// they were written.
//
// A lockstep also loses the segments its losses say, at the moment they
// are written: a deterministic filter in place of random loss.
type lockstep struct {
	mu      sync.Mutex
	queue   []queued
	busy    int  // the end processing the packet last delivered, or -1
	held    bool // a step is running: deliver nothing yet
	closed  bool
	ends    [2]*lockstepEnd
	written [2]int // packets written by each end, lost ones included
	losses  *losses
}

// queued is a packet waiting for the link.
type queued struct {
	to  int
	pkt []byte
}

// newLockstep returns the two ends of a new lockstep link: 0 for the
// client, 1 for the server.
func newLockstep(l *losses) (*lockstep, [2]link.Endpoint) {
	a, b := pipe.New(pipe.Config{})
	ls := &lockstep{busy: -1, losses: l}
	ls.ends = [2]*lockstepEnd{{ls: ls, i: 0, inner: a}, {ls: ls, i: 1, inner: b}}
	return ls, [2]link.Endpoint{ls.ends[0], ls.ends[1]}
}

// pump hands the next packet to the pipe if the link is free (ls.mu held).
func (ls *lockstep) pump() {
	if ls.held || ls.closed || ls.busy >= 0 || len(ls.queue) == 0 {
		return
	}
	q := ls.queue[0]
	ls.queue[0] = queued{}
	ls.queue = ls.queue[1:]
	ls.busy = q.to
	if err := ls.ends[1-q.to].inner.WriteBatch([][]byte{q.pkt}); err != nil {
		ls.busy = -1 // the pipe is closed: nothing will arrive
	}
}

// hold stops deliveries until release: what a step writes meanwhile waits.
func (ls *lockstep) hold() {
	ls.mu.Lock()
	ls.held = true
	ls.mu.Unlock()
}

// release lets deliveries go on.
func (ls *lockstep) release() {
	ls.mu.Lock()
	ls.held = false
	ls.pump()
	ls.mu.Unlock()
}

// isQuiet reports whether nothing is in flight or being processed.
func (ls *lockstep) isQuiet() bool {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.closed || !ls.held && ls.busy < 0 && len(ls.queue) == 0
}

// writes returns how many packets end i has written so far.
func (ls *lockstep) writes(i int) int {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.written[i]
}

// errStuck is what waits return when a scenario does not reach the state
// it waits for: a bug, reported rather than hung on.
var errStuck = errors.New("demo: the scenario is stuck")

// waitUntil polls cond until it holds, for at most limit.
func waitUntil(limit time.Duration, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return errStuck
		}
		time.Sleep(100 * time.Microsecond)
	}
	return nil
}

// lockstepEnd is one end of a lockstep link, a link.Endpoint.
type lockstepEnd struct {
	ls    *lockstep
	i     int
	inner link.Endpoint
}

// MTU returns the pipe's MTU.
func (e *lockstepEnd) MTU() int { return e.inner.MTU() }

// BatchSize returns the pipe's batch size; reads return one packet anyway.
func (e *lockstepEnd) BatchSize() int { return e.inner.BatchSize() }

// WriteBatch queues pkts for the other end, losing those the losses mark.
func (e *lockstepEnd) WriteBatch(pkts [][]byte) error {
	ls := e.ls
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.closed {
		return net.ErrClosed
	}
	for _, p := range pkts {
		ls.written[e.i]++
		if ls.losses.take(p) {
			continue
		}
		ls.queue = append(ls.queue, queued{to: 1 - e.i, pkt: append([]byte(nil), p...)})
	}
	ls.pump()
	return nil
}

// ReadBatch says that the packet this end read last has been processed,
// lets the next one go, and reads one packet.
func (e *lockstepEnd) ReadBatch(bufs [][]byte, sizes []int) (int, error) {
	ls := e.ls
	ls.mu.Lock()
	if ls.busy == e.i {
		ls.busy = -1
	}
	ls.pump()
	ls.mu.Unlock()
	if len(bufs) == 0 {
		return 0, nil
	}
	return e.inner.ReadBatch(bufs[:1], sizes[:1])
}

// Close closes the link, both ends.
func (e *lockstepEnd) Close() error {
	ls := e.ls
	ls.mu.Lock()
	ls.closed = true
	ls.queue = nil
	ls.mu.Unlock()
	return e.inner.Close()
}

// losses are the segments a scenario loses on the link. A rule picks a
// segment when its sender traces it (so the trace can say so on the next
// line); the link then drops the first packet that carries it.
type losses struct {
	mu     sync.Mutex
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
	l.mu.Lock()
	defer l.mu.Unlock()
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
	l.mu.Lock()
	defer l.mu.Unlock()
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
