package wire

import "golang.org/x/sys/cpu"

// useAVX2 selects the vector sum. A variable, not a constant, so that the
// tests can compare both paths on the same machine.
var useAVX2 = cpu.X86.HasAVX2

// avx2Min is the length below which the scalar sum wins: the vector loop's
// set-up and the final fold cost about as much as 256 bytes of scalar adds
// (ours, measured with BenchmarkChecksum*).
const avx2Min = 256

// avx2Chunk bounds one sumAVX2 call so that no 32-bit lane overflows:
// a lane receives one 16-bit word per 32 bytes, so 64 KiB gives each lane
// at most 2048 words, far below 2^16 of them.
const avx2Chunk = 64 << 10

//go:noescape
func sumAVX2(b []byte, lanes *[16]uint32)

// sumSwapped is the one's-complement sum of b read as little-endian words;
// see sumSwappedGeneric. With AVX2 it adds 32 bytes per instruction into
// sixteen 32-bit lanes, which are then added up in 64 bits: a one's-
// complement sum may be computed in any grouping and any order (RFC 1071
// §2(A) and (B)), and lanes of zero-extended 16-bit words lose no carry.
func sumSwapped(b []byte) uint64 {
	if !useAVX2 || len(b) < avx2Min {
		return sumSwappedGeneric(b)
	}
	var acc, c uint64
	var lanes [16]uint32
	for len(b) >= 32 {
		n := min(len(b), avx2Chunk) &^ 31
		sumAVX2(b[:n], &lanes)
		var s uint64
		for _, l := range lanes {
			s += uint64(l)
		}
		acc, c = addCarry(acc, s, c)
		b = b[n:]
	}
	acc, c = addCarry(acc, sumSwappedGeneric(b), c)
	return endCarry(acc, c)
}
