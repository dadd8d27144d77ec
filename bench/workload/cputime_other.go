//go:build !unix

package workload

import "time"

// cpuTime is unknown here (no getrusage): CPU figures read 0.
func cpuTime() time.Duration { return 0 }
