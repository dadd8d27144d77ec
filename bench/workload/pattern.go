package workload

import (
	"bytes"
	"fmt"
	"math/rand/v2"
)

// patternPeriod is the period of the byte stream every bulk transfer sends.
// It is prime and just below 64 KiB, so that a segment delivered at the
// wrong offset by a multiple of the write size (a stale retransmission, a
// ring index off by one buffer) never matches the bytes expected there.
const patternPeriod = 65521

// pattern is the stream a bulk sender writes: byte x of the stream is
// p[x % patternPeriod], drawn once from a seeded generator. The sender
// slices its writes out of p without copying, and the receiver checks
// what it reads with bytes.Equal: verifying costs a memory compare, not a
// hash, so it does not weigh on the figures.
type pattern []byte

// newPattern returns a pattern holding the period followed by maxWrite
// more bytes of the stream, so that any write of up to maxWrite bytes is
// one slice.
func newPattern(seed uint64, maxWrite int) pattern {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	p := make(pattern, patternPeriod+maxWrite)
	for i := 0; i < patternPeriod; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < patternPeriod; j++ {
			p[i+j] = byte(v >> (8 * j))
		}
	}
	for i := patternPeriod; i < len(p); i++ {
		p[i] = p[i-patternPeriod] // writes may span more than one period
	}
	return p
}

// at returns the n bytes of the stream from offset off (n <= maxWrite).
func (p pattern) at(off int64, n int) []byte {
	i := int(off % patternPeriod)
	return p[i : i+n]
}

// verifier checks a received stream against the pattern.
type verifier struct {
	p   pattern
	off int64 // bytes checked so far
	max int   // the largest chunk at can return
}

// check verifies that b continues the stream, and returns an error saying
// at which offset it does not.
func (v *verifier) check(b []byte) error {
	for len(b) > 0 {
		n := min(len(b), v.max)
		if want := v.p.at(v.off, n); !bytes.Equal(b[:n], want) {
			i := 0
			for b[i] == want[i] {
				i++
			}
			return fmt.Errorf("corrupted stream: byte %d is %#02x, want %#02x", v.off+int64(i), b[i], want[i])
		}
		v.off += int64(n)
		b = b[n:]
	}
	return nil
}
