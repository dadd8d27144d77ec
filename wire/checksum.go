package wire

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
)

// Sum adds the bytes of b, taken as big-endian 16-bit words, to the running
// one's-complement accumulator acc and returns the new accumulator
// (RFC 1071, https://www.rfc-editor.org/rfc/rfc1071). An odd final byte is
// padded with a zero low byte, so when a checksum covers several pieces, every
// piece but the last must have an even length. Start with acc = 0 (or a
// [PseudoHeaderSum]) and finish with [Fold].
//
// The sum runs 8 bytes at a time in a 64-bit accumulator with end-around
// carry: 2^64 ≡ 1 modulo 2^16-1, so the 64-bit one's-complement sum folds to
// the same 16-bit sum as adding 16-bit words. The words are loaded in the
// machine's little-endian order, which needs no byte swap per load: RFC 1071
// §2(B) shows the sum is byte-order independent, the result being the
// big-endian sum with its two bytes swapped, which one swap at the end puts
// right. Any alignment of b works.
func Sum(b []byte, acc uint64) uint64 {
	le := sumSwapped(b)
	acc, c := bits.Add64(acc, uint64(bits.ReverseBytes16(fold16(le))), 0)
	return acc + c
}

// sumSwappedGeneric is the one's-complement sum of b read as little-endian
// 64-bit words, zero-padded at the end: the byte-swapped image of the
// big-endian sum (see Sum). sumSwapped may use vector instructions instead.
func sumSwappedGeneric(b []byte) uint64 {
	// The carry out of each addition is fed into the next one, and only the
	// last carry is added back at the end.
	var acc, c uint64
	for len(b) >= 64 {
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b), c)
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b[8:]), c)
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b[16:]), c)
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b[24:]), c)
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b[32:]), c)
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b[40:]), c)
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b[48:]), c)
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b[56:]), c)
		b = b[64:]
	}
	for len(b) >= 8 {
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b), c)
		b = b[8:]
	}
	// The tail is under 8 bytes: gather it into one word, each byte at the
	// place a little-endian load would have put it.
	var w uint64
	shift := 0
	if len(b) >= 4 {
		w = uint64(binary.LittleEndian.Uint32(b))
		shift = 32
		b = b[4:]
	}
	if len(b) >= 2 {
		w |= uint64(binary.LittleEndian.Uint16(b)) << shift
		shift += 16
		b = b[2:]
	}
	if len(b) == 1 {
		w |= uint64(b[0]) << shift
	}
	acc, c = bits.Add64(acc, w, c)
	return endCarry(acc, c)
}

// addCarry adds v to acc with the carry of the previous addition.
func addCarry(acc, v, c uint64) (uint64, uint64) { return bits.Add64(acc, v, c) }

// endCarry adds the final carry c back into acc (end-around carry). Adding 1
// to 2^64-1 carries once more, into a sum that is then 0.
func endCarry(acc, c uint64) uint64 {
	acc, c = bits.Add64(acc, 0, c)
	return acc + c
}

// Fold folds the accumulator acc to 16 bits with end-around carry and returns
// its complement: the value to store in a checksum field. Over data that
// already holds a correct checksum, Fold returns 0.
func Fold(acc uint64) uint16 { return ^fold16(acc) }

// fold16 folds the accumulator to its 16-bit one's-complement sum.
func fold16(acc uint64) uint16 {
	s := acc>>32 + acc&0xffffffff // at most 33 bits
	s = s>>32 + s&0xffffffff      // at most 32 bits
	s = s>>16 + s&0xffff          // at most 17 bits
	s = s>>16 + s&0xffff          // at most 0x10000
	s = s>>16 + s&0xffff          // 16 bits
	return uint16(s)
}

// PseudoHeaderSum returns the accumulator for the pseudo-header that TCP's
// checksum covers: RFC 9293 §3.1 for IPv4 (addresses, protocol, 16-bit
// length) and RFC 8200 §8.1 for IPv6 (addresses, 32-bit length, next header).
// length is the transport header plus data in bytes. If both addresses are
// IPv4 the IPv4 form is used, otherwise the IPv6 form (an IPv4 address then
// counts as its IPv4-mapped IPv6 form). Feed the result to [Sum] as acc.
func PseudoHeaderSum(src, dst netip.Addr, proto uint8, length int) uint64 {
	// Adding wider big-endian values is the same as adding their 16-bit
	// words, modulo 2^16-1; no single addition here can overflow 64 bits
	// except the IPv6 address halves, which carry explicitly.
	acc := uint64(proto) + uint64(uint32(length))
	if src.Is4() && dst.Is4() {
		s, d := src.As4(), dst.As4()
		return acc + uint64(binary.BigEndian.Uint32(s[:])) + uint64(binary.BigEndian.Uint32(d[:]))
	}
	s, d := src.As16(), dst.As16()
	var c uint64
	acc, c = bits.Add64(acc, binary.BigEndian.Uint64(s[:8]), 0)
	acc, c = bits.Add64(acc, binary.BigEndian.Uint64(s[8:]), c)
	acc, c = bits.Add64(acc, binary.BigEndian.Uint64(d[:8]), c)
	acc, c = bits.Add64(acc, binary.BigEndian.Uint64(d[8:]), c)
	return endCarry(acc, c)
}
