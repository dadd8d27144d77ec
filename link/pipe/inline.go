package pipe

import (
	"github.com/synack-go/synack/link"
)

// SetInline implements link.Inliner for the first receive queue: see
// deliver for when the pipe calls fn.
func (e *Endpoint) SetInline(fn func(pkts [][]byte, meta []link.Meta)) { e.setInline(0, fn) }

// SetInline implements link.Inliner for one receive queue.
func (qe *queueEnd) SetInline(fn func(pkts [][]byte, meta []link.Meta)) { qe.e.setInline(qe.q, fn) }

func (e *Endpoint) setInline(q int, fn func(pkts [][]byte, meta []link.Meta)) {
	in := e.in[q]
	in.mu.Lock()
	in.inline = fn
	in.mu.Unlock()
}

// deliver gives pkts, which arrive at queue q, to its reader: inline, on
// the writer's goroutine, when the reader has opted in (SetInline), waits
// in a read with nothing queued, and no inline delivery is under way on
// either end of the pipe; else through the queue. One inline delivery per
// pipe at a time keeps it from recursing (what the reader's input sends
// back is queued) and from deadlocking: a writer holding its own stack's
// locks runs the other stack's input, which takes that stack's locks, and
// no goroutine of that stack can be waiting the other way round at once.
// Impaired pipes never get here inline: their packets keep their model's
// timing (arrive is called on the path's goroutine, or under its lock).
func (e *Endpoint) deliver(q int, pkts [][]byte) {
	in := e.in[q]
	p := e.pair
	if !e.inlineOK || !p.inlineBusy.CompareAndSwap(false, true) {
		in.push(pkts)
		return
	}
	fn := in.beginInline()
	if fn == nil {
		p.inlineBusy.Store(false)
		in.push(pkts)
		return
	}
	if !p.offload {
		fn(pkts, nil)
	} else {
		in.inlineOffload(fn, pkts)
	}
	in.endInline(len(pkts))
	p.inlineBusy.Store(false)
}

// inlineOffload strips the virtio-net header each packet carries across a
// pipe with offloads and hands the packets over with its meaning, as
// readPackets does.
// The scratch is the queue's: one inline delivery runs at a time.
func (q *queue) inlineOffload(fn func(pkts [][]byte, meta []link.Meta), pkts [][]byte) {
	if cap(q.meta) < len(pkts) {
		q.meta = make([]link.Meta, len(pkts))
		q.pkts = make([][]byte, len(pkts))
	}
	meta, plain := q.meta[:len(pkts)], q.pkts[:len(pkts)]
	for i, p := range pkts {
		// Only a Corrupt pipe damages headers, and it is never inline;
		// an empty packet, as readPackets makes of a damaged one, is
		// dropped as malformed by the reader all the same.
		if len(p) < link.VirtioNetHdrLen || link.DecodeVirtioNetHdr(p, &meta[i]) != nil {
			meta[i], plain[i] = link.Meta{}, p[:0]
			continue
		}
		plain[i] = p[link.VirtioNetHdrLen:]
	}
	fn(plain, meta)
	clear(meta)
	clear(plain)
}

// beginInline returns the reader's receive function when the reader waits
// with nothing queued, and keeps its read from returning until endInline;
// else nil.
func (q *queue) beginInline() func(pkts [][]byte, meta []link.Meta) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.inline == nil || q.closed || q.inlining || q.lent == nil || q.filled > 0 {
		return nil
	}
	q.inlining = true
	return q.inline
}

// endInline counts n packets delivered inline as queued and read, and lets
// the reader's read return with what arrived meanwhile.
func (q *queue) endInline(n int) {
	q.mu.Lock()
	q.inlining = false
	q.queued += uint64(n)
	q.read += uint64(n)
	q.inlined += uint64(n)
	wake := q.filled > 0 || q.closed
	q.mu.Unlock()
	if wake {
		q.nonEmpty.Broadcast()
	}
}
