package wire

import "testing"

// The AVX2 sum and the scalar one agree with the RFC 1071 reference on
// every length around the vector thresholds, every alignment, all-ones
// data (the most carries) and inputs longer than one vector chunk.
func TestSumAVX2MatchesScalar(t *testing.T) {
	if !useAVX2 {
		t.Skip("this CPU has no AVX2: only the scalar sum runs here")
	}
	r := newRand(2)
	buf := make([]byte, 3*avx2Chunk+100)
	for i := range buf {
		buf[i] = byte(r.Uint32())
	}
	ones := make([]byte, 2*avx2Chunk+64)
	for i := range ones {
		ones[i] = 0xff
	}
	check := func(b []byte, what string) {
		t.Helper()
		want := naiveChecksum(b)
		if got := Fold(Sum(b, 0)); got != want {
			t.Fatalf("%s len %d: AVX2 sum %#04x, naive %#04x", what, len(b), got, want)
		}
		useAVX2 = false
		got := Fold(Sum(b, 0))
		useAVX2 = true
		if got != want {
			t.Fatalf("%s len %d: scalar sum %#04x, naive %#04x", what, len(b), got, want)
		}
	}
	for n := avx2Min - 40; n < avx2Min+200; n++ {
		for off := range 5 {
			check(buf[off:off+n], "random")
		}
	}
	for _, n := range []int{1500, 9000, avx2Chunk - 1, avx2Chunk, avx2Chunk + 33, 3*avx2Chunk + 99} {
		check(buf[1:1+n], "random")
		check(ones[:min(n, len(ones))], "ones")
	}
	for range 500 {
		off, n := r.IntN(32), r.IntN(len(buf)-32)
		check(buf[off:off+n], "random")
	}
}

// The scalar sum on the same inputs, for a side-by-side figure with
// BenchmarkChecksum1500 and BenchmarkChecksum64K.
func BenchmarkChecksumScalar1500(b *testing.B) { benchmarkScalar(b, 1500) }

func BenchmarkChecksumScalar64K(b *testing.B) { benchmarkScalar(b, 65495) }

func benchmarkScalar(b *testing.B, n int) {
	saved := useAVX2
	useAVX2 = false
	defer func() { useAVX2 = saved }()
	benchmarkChecksum(b, n)
}
