package sim

import (
	"encoding/binary"
	"io"
	"math/rand/v2"
)

// Rand returns a new stream of pseudo-random bytes, for a stack's
// Options.Rand: the n-th stream of a Sim depends only on its seed and n,
// so stacks made in the same order get the same keys, initial sequence
// numbers and ports in every run.
func (s *Sim) Rand() io.Reader {
	var key [32]byte
	for i := range 4 {
		binary.LittleEndian.PutUint64(key[8*i:], s.derive(uint64(i)))
	}
	return rand.NewChaCha8(key)
}

// derive returns the next value of the Sim's stream of seeds, mixed with
// salt; every call gives another.
func (s *Sim) derive(salt uint64) uint64 {
	s.streams++
	return splitMix(splitMix(s.seed^splitMix(s.streams)) ^ salt)
}

// splitMix is SplitMix64's finalizer: it spreads every bit of z.
func splitMix(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}
