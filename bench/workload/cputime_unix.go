//go:build unix

package workload

import (
	"syscall"
	"time"
)

// cpuTime returns the user plus system CPU time this process has used
// (getrusage(RUSAGE_SELF)): for two stacks in one process, both ends' cost;
// for the kernel over loopback, also the kernel's, which runs in the
// sockets' system calls and softirqs charged to them.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
