package synack

import (
	"math"
	"runtime/debug"
)

// defaultMemoryLimit is Options.MemoryLimit's zero value: an eighth of
// what the process may use (Linux's tcp_mem allows TCP about a tenth of
// the host's memory), at least 16 MiB. What the process may use is the
// smallest of the Go runtime's memory limit (GOMEMLIMIT or
// debug.SetMemoryLimit), the host's limit for it (on Linux, the cgroup's
// memory.max) and the host's memory; 8 GiB if none is known.
func defaultMemoryLimit() int64 {
	m := min(debug.SetMemoryLimit(-1), hostMemory())
	if m == math.MaxInt64 {
		m = 8 << 30
	}
	return max(m/8, 16<<20)
}
