package tcp

import (
	"sync/atomic"
)

// MemoryBudget bounds the bytes of buffers the TCBs sharing it hold, like
// Linux's tcp_mem: a stack's connections share one. Every page of a
// receive buffer and every send ring is charged to it while held.
//
// From three quarters of the limit on the budget is under pressure, and
// stays so until use falls below half of it: connections then offer no
// window beyond the pages they hold, take no new out-of-order data (and
// the stack prunes what they hold, PruneOutOfOrder), and the stack
// refuses new connections. At the limit nothing more is granted, except
// the first page of each buffer, so that every connection can still move
// data: the budget can be passed by at most a page per buffer.
//
// It is safe for concurrent use; a nil *MemoryBudget grants everything.
type MemoryBudget struct {
	limit     int64
	used      atomic.Int64
	pressure  atomic.Bool
	pressures atomic.Uint64
	refused   atomic.Uint64
	pruned    atomic.Uint64
}

// NewMemoryBudget returns a budget of limit bytes (at least 64 KiB).
func NewMemoryBudget(limit int64) *MemoryBudget {
	return &MemoryBudget{limit: max(limit, 64<<10)}
}

// MemoryStats describes a MemoryBudget.
type MemoryStats struct {
	Limit     int64  // bytes the budget allows
	Used      int64  // bytes of buffers held now
	Pressure  bool   // under pressure now
	Pressures uint64 // times the budget came under pressure
	Refused   uint64 // allocations refused at the limit: data dropped or not queued
	Pruned    uint64 // bytes of out-of-order data dropped to free memory
}

// Stats returns the budget's use and counters.
func (m *MemoryBudget) Stats() MemoryStats {
	if m == nil {
		return MemoryStats{}
	}
	return MemoryStats{Limit: m.limit, Used: m.used.Load(), Pressure: m.pressure.Load(),
		Pressures: m.pressures.Load(), Refused: m.refused.Load(), Pruned: m.pruned.Load()}
}

// AtLimit reports whether the buffers held have reached the limit.
func (m *MemoryBudget) AtLimit() bool { return m != nil && m.used.Load() >= m.limit }

// UnderPressure reports whether the budget is under pressure.
func (m *MemoryBudget) UnderPressure() bool { return m != nil && m.pressure.Load() }

// charge takes n bytes from the budget and reports whether it could: always
// below the limit, and at the limit only when must is set.
func (m *MemoryBudget) charge(n int64, must bool) bool {
	if m == nil {
		return true
	}
	u := m.used.Add(n)
	if u > m.limit && !must {
		m.used.Add(-n)
		m.refused.Add(1)
		m.enterPressure()
		return false
	}
	if u >= m.limit/4*3 {
		m.enterPressure()
	}
	return true
}

// uncharge gives n bytes back.
func (m *MemoryBudget) uncharge(n int64) {
	if m == nil {
		return
	}
	if m.used.Add(-n) < m.limit/2 && m.pressure.Load() {
		m.pressure.Store(false)
	}
}

func (m *MemoryBudget) enterPressure() {
	if !m.pressure.Load() && m.pressure.CompareAndSwap(false, true) {
		m.pressures.Add(1)
	}
}
