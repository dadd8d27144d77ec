package cc

import (
	"math"
	"math/bits"
)

// mulDiv returns a*b/c without intermediate overflow, saturating at
// MaxUint64; c must not be zero.
func mulDiv(a, b, c uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	if hi == 0 {
		return lo / c // the common case: a plain 64-bit division
	}
	if hi >= c {
		return math.MaxUint64
	}
	q, _ := bits.Div64(hi, lo, c)
	return q
}
