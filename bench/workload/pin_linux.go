package workload

import (
	"fmt"
	"os"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// pinnedEnv marks a process that pinCPUs started again on its CPUs.
const pinnedEnv = "SYNACK_BENCH_PINNED"

// pinCPUs runs the process on CPUs 0..n-1 only (-cpus n), as
// `taskset -c 0-(n-1)` would, so that a run can leave out the cost of
// waking a thread on another, idle CPU: on a virtual machine whose idle
// vCPUs halt (no cpuidle driver), that wake is some 10 µs and it makes
// mem-rr's tail. Affinity set now would bind only the calling thread, so
// the process sets it on that thread and executes itself again, which
// keeps the thread's mask for the new image; the Go runtime reads it and
// runs n Ps.
func pinCPUs(n int) error {
	if n > runtime.NumCPU() && os.Getenv(pinnedEnv) == "" {
		return fmt.Errorf("-cpus %d: this machine has %d", n, runtime.NumCPU())
	}
	if os.Getenv(pinnedEnv) != "" {
		var set unix.CPUSet
		if err := unix.SchedGetaffinity(0, &set); err != nil || set.Count() != n {
			return fmt.Errorf("-cpus %d: running on %d CPUs after pinning (%v)", n, set.Count(), err)
		}
		return nil
	}
	runtime.LockOSThread()
	var set unix.CPUSet
	for i := range n {
		set.Set(i)
	}
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return fmt.Errorf("-cpus %d: %w", n, err)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("-cpus %d: %w", n, err)
	}
	env := append(os.Environ(), pinnedEnv+"=1")
	err = syscall.Exec(exe, os.Args, env)
	return fmt.Errorf("-cpus %d: executing %s again: %w", n, exe, err)
}
