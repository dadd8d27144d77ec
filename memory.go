package synack

import "time"

// pruneInterval spaces the sweeps that prune out-of-order data while the
// stack is under memory pressure.
const pruneInterval = 100 * time.Millisecond

// relieve runs after each batch of packets while the memory budget is
// under pressure: at most every pruneInterval it drops the out-of-order
// data of every connection (tcp.TCB.PruneOutOfOrder), which is what a
// receiver may drop first and its peer sends again (RFC 2018 §8). At the
// limit itself it also resets the orphans (connections their users have
// closed) that still hold data, as Linux's tcp_out_of_resources does:
// nobody waits for them, and their buffers are the only ones that cannot
// drain otherwise. It takes each connection's lock with TryLock under its
// shard's read lock (the other order, c.mu then the shard's, is
// publishState's): a connection busy right now waits for the next sweep;
// the resets go out after the sweep, in tx, the read loop's batch.
func (s *Stack) relieve(tx *txBatch) {
	now := s.now()
	last := time.Duration(s.lastPrune.Load())
	if last != 0 && now-last < pruneInterval || !s.lastPrune.CompareAndSwap(int64(last), int64(max(now, 1))) {
		return
	}
	atLimit := s.mem.AtLimit()
	var doomed []*Conn
	for i := range s.flows.shards {
		sh := &s.flows.shards[i]
		sh.mu.RLock()
		for _, c := range sh.tcp {
			if c.mu.TryLock() {
				if !c.gone {
					c.tcb.PruneOutOfOrder()
					if r, w := c.tcb.Buffered(); atLimit && c.orphaned && r+w > 0 {
						doomed = append(doomed, c)
					}
				}
				c.mu.Unlock()
			}
		}
		sh.mu.RUnlock()
	}
	for _, c := range doomed {
		c.mu.Lock()
		if !c.gone {
			s.ctr.orphansReset.Add(1)
			s.traceDrop(c.key.local, c.key.remote, "orphan-out-of-memory")
			c.tcb.Abort()
			c.pollLocked(s.now(), tx)
		}
		c.mu.Unlock()
	}
}
