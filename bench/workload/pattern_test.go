package workload

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestPatternRoundTrip feeds the verifier the stream a sender writes, cut
// at random places, and then a stream with one byte flipped.
func TestPatternRoundTrip(t *testing.T) {
	const write = 64 << 10
	p := newPattern(1, write)
	// The stream itself, built byte by byte: every write's slice must
	// match it, wherever in the period it starts.
	stream := make([]byte, 1<<22)
	for i := range stream {
		stream[i] = p[i%patternPeriod]
	}
	for off := int64(0); off+write <= int64(len(stream)); off += write - 7 {
		if !bytes.Equal(p.at(off, write), stream[off:off+write]) {
			t.Fatalf("the write at %d differs from the stream", off)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	v := verifier{p: p, max: write}
	for b := stream; len(b) > 0; {
		n := min(len(b), 1+r.IntN(write))
		if err := v.check(b[:n]); err != nil {
			t.Fatal(err)
		}
		b = b[n:]
	}
	stream[3<<20] ^= 1
	v = verifier{p: p, max: write}
	if err := v.check(stream); err == nil {
		t.Fatal("a flipped bit went unnoticed")
	}
}
