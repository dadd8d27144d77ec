package synack

// A connection's segments must reach the link in the order its TCB produced
// them: a segment that overtakes an earlier one carries an older
// acknowledgment or timestamp after a newer one, and the peer drops it by
// PAWS (RFC 7323 §5) or sees data reordered on a perfect link. Three kinds
// of goroutine poll a TCB, each under the connection's lock: an
// application call, whose batch is written before the lock is released
// (pollNow), and the read loops and the timer goroutine, whose batches
// collect the segments of many connections and are written later. So a
// held batch (txBatch.held) remembers, in each connection it took segments
// of, that it holds them unwritten (Conn.txHeld, and its generation in
// txGen); until it is written, a goroutine that would poll the connection
// into another batch hands the poll off to the holder instead (handOff),
// and the holder polls the connection again, into the same batch behind
// its earlier segments, before it lets go (release). The application's
// Write then returns with its data in the TCB's send buffer, as when the
// congestion window is closed, and the data leaves within the holder's
// batch. This is Linux's order: there a socket's packets enter the
// device's queue under the socket's lock.

// handOff asks b, which held c's segments in its generation gen when
// c.txGen was taken, to poll c again before it is written. It reports
// false, doing nothing, when b has been written since (c.mu held).
func (b *txBatch) handOff(c *Conn) bool {
	b.hmu.Lock()
	defer b.hmu.Unlock()
	if b.gen != c.txGen {
		c.txHeld = nil
		return false
	}
	if !c.repoll {
		c.repoll = true
		b.repoll = append(b.repoll, c)
	}
	return true
}

// release polls into a held batch the connections whose polls other
// goroutines handed off to it, until none is left, and writes it; from the
// moment its packets take their place in the link's order (written, or
// queued for the queue's writer goroutine), the connections it held are
// free of it. The caller holds no connection's lock.
func (b *txBatch) release() {
	for {
		b.seal()
		b.hmu.Lock()
		if len(b.repoll) > 0 {
			todo := b.repoll
			b.repoll, b.repollSpare = b.repollSpare[:0], nil
			b.hmu.Unlock()
			now := b.s.now()
			for i, c := range todo {
				c.mu.Lock()
				c.repoll = false
				if !c.gone {
					c.pollLocked(now, b)
				}
				c.mu.Unlock()
				todo[i] = nil
			}
			b.hmu.Lock()
			b.repollSpare = todo[:0]
			b.hmu.Unlock()
			continue
		}
		b.gen++
		w := b.s.lk.writer(b.q)
		if w == nil || len(b.pkts) == 0 {
			b.flush() // a handOff meanwhile waits for the write, then polls itself
			b.hmu.Unlock()
			return
		}
		inline, spilled := w.enterHeld(b)
		b.hmu.Unlock()
		if !spilled {
			w.finish(b, inline)
		}
		return
	}
}
