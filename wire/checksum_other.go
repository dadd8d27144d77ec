//go:build !amd64

package wire

// sumSwapped is the one's-complement sum of b read as little-endian words;
// see sumSwappedGeneric.
func sumSwapped(b []byte) uint64 { return sumSwappedGeneric(b) }
