//go:build !linux

package synack

import "math"

// hostMemory returns math.MaxInt64: elsewhere than on Linux the stack does
// not ask the host what memory the process may use.
func hostMemory() int64 { return math.MaxInt64 }
