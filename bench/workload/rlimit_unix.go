//go:build unix

package workload

import "syscall"

// noFileLimit is the process's soft limit on open descriptors.
func noFileLimit() (uint64, bool) {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) != nil {
		return 0, false
	}
	return uint64(lim.Cur), true
}

// raiseNoFile raises the descriptor limit to what 50,000 proxied flows
// need, as far as the process may (root may raise the hard limit).
func raiseNoFile() {
	const want = 3*50000 + 1000
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) != nil || lim.Cur >= want {
		return
	}
	up := syscall.Rlimit{Cur: want, Max: max(lim.Max, want)}
	if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &up) != nil {
		lim.Cur = lim.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
}
