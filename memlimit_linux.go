package synack

import (
	"math"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// hostMemory returns the memory this process may use as far as the host
// says: the cgroup v2 limit (memory.max) and the RAM, whichever is less;
// math.MaxInt64 if neither is known.
func hostMemory() int64 {
	m := int64(math.MaxInt64)
	if b, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && v > 0 {
			m = v
		}
	}
	var si syscall.Sysinfo_t
	if syscall.Sysinfo(&si) == nil && si.Totalram > 0 {
		m = min(m, int64(si.Totalram)*int64(max(si.Unit, 1)))
	}
	return m
}
