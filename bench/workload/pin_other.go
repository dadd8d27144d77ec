//go:build !linux

package workload

import "errors"

// pinCPUs: CPU affinity is set only on Linux here.
func pinCPUs(n int) error { return errors.New("-cpus needs Linux") }
