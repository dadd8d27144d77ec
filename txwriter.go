package synack

import "sync"

// txWriter writes one link queue's packets on a goroutine of its own, on
// links with offloads: an application's Write then builds its TSO packets
// and returns while the writer's system call (which on a TUN device runs
// the kernel's receive path) goes on, so the two overlap on two cores as
// a NIC's DMA overlaps the CPU. Batches are written in the order they came
// to the queue: an application's are handed over (handOver), the read
// loop's and the timers' are written by their own goroutine when the
// queue is idle and queued in a batch of their own when it is not
// (enterHeld, spill), or wait their turn when it is long (writeInOrder),
// so no segment overtakes one sent before it.
type txWriter struct {
	s        *Stack
	mu       sync.Mutex
	turn     sync.Cond // signalled when a batch is written or the writer stops
	queue    []txEntry
	reserved int  // places in queue reserved for batches being built (reserve)
	writing  bool // a batch is being written, by the goroutine or a caller
	closed   bool
	wake     chan struct{}
}

// txEntry is a batch waiting for the writer.
type txEntry struct {
	b    *txBatch
	wait bool // its owner waits for it to be written (writeInOrder)
}

// maxHandedOver bounds the batches applications may hand over (or reserve
// places for) before they wait: a few hundred KiB of packets, as a NIC's
// transmit ring. A place is reserved while its batch is built (reserve),
// so about two of six are being built while four wait for the writer;
// with four, eight flows on one TUN queue moved 12% less (22.5 against
// 25.5 Gbit/s, tun-bulk, shared machine).
const maxHandedOver = 6

func (w *txWriter) init(s *Stack) {
	w.s = s
	w.turn.L = &w.mu
	w.wake = make(chan struct{}, 1)
}

// handOver gives b to the writer, which recycles it once written; after
// Close, b is dropped. A caller that reserved a place for b (reserve) takes
// it, and one that waits for room later (late: waitRoom) goes in at once;
// any other waits while maxHandedOver batches are queued or reserved.
func (w *txWriter) handOver(b *txBatch, how handOverMode) {
	w.mu.Lock()
	switch how {
	case handOverReserved:
		w.reserved--
	case handOverWait:
		for !w.room() && !w.closed {
			w.turn.Wait()
		}
	}
	if w.closed {
		w.mu.Unlock()
		b.drop()
		w.s.batches.recycle(b)
		return
	}
	w.queue = append(w.queue, txEntry{b: b})
	w.mu.Unlock()
	signal(w.wake)
}

// handOverMode says how handOver finds b a place in the queue.
type handOverMode uint8

const (
	handOverWait     handOverMode = iota // wait for room
	handOverReserved                     // take the place reserve took
	handOverLate                         // go in, and waitRoom once no lock is held
)

// waitRoom waits while maxHandedOver batches are queued or reserved, or
// until the writer stops: after a late handOver, with no connection's lock
// held, so that each caller goes past the bound by one batch at most.
func (w *txWriter) waitRoom() {
	w.mu.Lock()
	for !w.room() && !w.closed {
		w.turn.Wait()
	}
	w.mu.Unlock()
}

// maxSpilled bounds the batches in a writer's queue past which spill
// waits for the write: what applications may hand over, and one each for
// the read loop and the timer goroutine.
const maxSpilled = maxHandedOver + 2

// spill queues b, a batch a goroutine spilled in the middle of a poll
// (txBatch.spill), without waiting, unless the writer stopped or holds
// maxSpilled batches already: it reports whether it took b.
func (w *txWriter) spill(b *txBatch) bool {
	w.mu.Lock()
	if w.closed || len(w.queue)+w.reserved >= maxSpilled {
		w.mu.Unlock()
		return false
	}
	w.queue = append(w.queue, txEntry{b: b})
	w.mu.Unlock()
	signal(w.wake)
	return true
}

// reserve waits until the queue has room for one more batch and reserves
// it, for a batch the caller is about to build: Write waits there before
// it locks its connection, not in handOver with the lock held, where a read
// loop or the timer goroutine polling the connection meanwhile would wait
// behind it for the writer's system calls, and with them every other
// connection they serve. The caller then hands its batch over (reserved)
// or gives the place back (unreserve).
func (w *txWriter) reserve() {
	w.mu.Lock()
	for !w.room() && !w.closed {
		w.turn.Wait()
	}
	w.reserved++
	w.mu.Unlock()
}

// unreserve gives back a place reserve took, for a batch left empty.
func (w *txWriter) unreserve() {
	w.mu.Lock()
	w.reserved--
	w.turn.Broadcast()
	w.mu.Unlock()
}

// room reports whether another batch may be handed over (w.mu held).
func (w *txWriter) room() bool { return len(w.queue)+w.reserved < maxHandedOver }

// writeInOrder writes b after what was handed over before it: at once on
// the caller's goroutine when the queue is idle, else by the writer, the
// caller waiting. b is empty when it returns.
func (w *txWriter) writeInOrder(b *txBatch) { w.finish(b, w.enter(b)) }

// enter gives b its place in the queue's order: it reports true when the
// queue is idle and the caller is to write b at once, else b waits in the
// queue for the writer. The caller then calls finish.
func (w *txWriter) enter(b *txBatch) (inline bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.writing && len(w.queue) == 0 && !w.closed {
		w.writing = true
		return true
	}
	b.queued = true
	w.queue = append(w.queue, txEntry{b: b, wait: true})
	signal(w.wake)
	return false
}

// enterHeld is enter for a read loop's or the timer goroutine's batch
// (txorder.go), which serves many connections: when the queue is busy,
// b's packets wait for the writer in a batch of their own (spilled), so
// that the caller goes on at once, while the queue holds fewer than
// maxSpilled batches; beyond, b waits in the queue. Unless it spilled, the
// caller then calls finish.
func (w *txWriter) enterHeld(b *txBatch) (inline, spilled bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case !w.writing && len(w.queue) == 0 && !w.closed:
		w.writing = true
		return true, false
	case !w.closed && len(w.queue)+w.reserved < maxSpilled:
		o := w.s.batches.get()
		o.swapPackets(b)
		w.queue = append(w.queue, txEntry{b: o})
		signal(w.wake)
		return false, true
	}
	b.queued = true
	w.queue = append(w.queue, txEntry{b: b, wait: true})
	signal(w.wake)
	return false, false
}

// finish writes b, which enter placed, or waits until the writer has.
func (w *txWriter) finish(b *txBatch, inline bool) {
	if inline {
		b.write()
		w.mu.Lock()
		w.writing = false
		more := len(w.queue) > 0
		w.turn.Broadcast()
		w.mu.Unlock()
		if more {
			signal(w.wake)
		}
		return
	}
	w.mu.Lock()
	for b.queued && !w.closed {
		w.turn.Wait()
	}
	w.mu.Unlock()
	if b.queued { // closed before its turn: the writer is gone
		b.queued = false
		b.drop()
	}
}

// run is the writer goroutine: it writes what is queued, in order, until
// the stack closes.
func (w *txWriter) run() {
	for {
		select {
		case <-w.wake:
		case <-w.s.done:
			w.mu.Lock()
			w.closed = true
			w.turn.Broadcast()
			w.mu.Unlock()
			return
		}
		w.mu.Lock()
		for len(w.queue) > 0 && !w.writing {
			e := w.queue[0]
			copy(w.queue, w.queue[1:])
			w.queue[len(w.queue)-1] = txEntry{}
			w.queue = w.queue[:len(w.queue)-1]
			w.writing = true
			w.mu.Unlock()
			e.b.write()
			if !e.wait {
				w.s.batches.recycle(e.b)
			}
			w.mu.Lock()
			if e.wait {
				e.b.queued = false
			}
			w.writing = false
			w.turn.Broadcast()
		}
		w.mu.Unlock()
	}
}

// drop empties a batch whose packets will not be written (the stack is
// closing).
func (b *txBatch) drop() {
	if len(b.pkts) == 0 {
		return
	}
	clear(b.pkts)
	b.pkts = b.pkts[:0]
	if b.meta != nil {
		clear(b.meta)
	}
	b.segs, b.rsts, b.used = 0, 0, 0
}
