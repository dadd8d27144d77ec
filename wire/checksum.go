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
// the same 16-bit sum as adding 16-bit words. Any alignment of b works.
func Sum(b []byte, acc uint64) uint64 {
	// The carry out of each addition is fed into the next one, and only the
	// last carry is added back at the end.
	var c uint64
	for len(b) >= 32 {
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b), c)
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[8:]), c)
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[16:]), c)
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[24:]), c)
		b = b[32:]
	}
	for len(b) >= 8 {
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b), c)
		b = b[8:]
	}
	// The tail is under 8 bytes: gather it into one word, zero-padded on the
	// right so that 16-bit word boundaries stay where they were.
	var w uint64
	shift := 64
	if len(b) >= 4 {
		shift -= 32
		w = uint64(binary.BigEndian.Uint32(b)) << shift
		b = b[4:]
	}
	if len(b) >= 2 {
		shift -= 16
		w |= uint64(binary.BigEndian.Uint16(b)) << shift
		b = b[2:]
	}
	if len(b) == 1 {
		w |= uint64(b[0]) << (shift - 8)
	}
	acc, c = bits.Add64(acc, w, c)
	return endCarry(acc, c)
}

// endCarry adds the final carry c back into acc (end-around carry). Adding 1
// to 2^64-1 carries once more, into a sum that is then 0.
func endCarry(acc, c uint64) uint64 {
	acc, c = bits.Add64(acc, 0, c)
	return acc + c
}

// Fold folds the accumulator acc to 16 bits with end-around carry and returns
// its complement: the value to store in a checksum field. Over data that
// already holds a correct checksum, Fold returns 0.
func Fold(acc uint64) uint16 {
	s := acc>>32 + acc&0xffffffff // at most 33 bits
	s = s>>32 + s&0xffffffff      // at most 32 bits
	s = s>>16 + s&0xffff          // at most 17 bits
	s = s>>16 + s&0xffff          // at most 0x10000
	s = s>>16 + s&0xffff          // 16 bits
	return ^uint16(s)
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
