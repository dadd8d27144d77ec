//go:build !unix

package workload

// noFileLimit: no descriptor limit this package can read here.
func noFileLimit() (uint64, bool) { return 0, false }

// raiseNoFile does nothing: the proxy workloads need Linux.
func raiseNoFile() {}
