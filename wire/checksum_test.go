package wire

import (
	"net/netip"
	"testing"
)

// naiveSum is the RFC 1071 reference: 16-bit words summed in 32 bits,
// carries folded back, an odd byte padded with zero.
func naiveSum(b []byte) uint32 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
		s = s&0xffff + s>>16
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
		s = s&0xffff + s>>16
	}
	return s
}

func naiveChecksum(b []byte) uint16 { return ^uint16(naiveSum(b)) }

func TestChecksumRFC1071Example(t *testing.T) {
	// RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2.
	b := []byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}
	if got, want := Fold(Sum(b, 0)), ^uint16(0xddf2); got != want {
		t.Fatalf("Fold(Sum) = %#04x, want %#04x", got, want)
	}
}

func TestFold(t *testing.T) {
	for _, tc := range []struct {
		acc  uint64
		want uint16
	}{
		{0, 0xffff},
		{0xffff, 0},
		{0x1_0000, 0xfffe},
		{^uint64(0), 0},
		{0xffff_0000_0000_0001, 0xfffe},
		{0x0001_0002_0003_0004, ^uint16(10)},
	} {
		if got := Fold(tc.acc); got != tc.want {
			t.Errorf("Fold(%#x) = %#04x, want %#04x", tc.acc, got, tc.want)
		}
	}
}

func TestSumMatchesNaive(t *testing.T) {
	r := newRand(1)
	buf := make([]byte, 4096)
	for i := range buf {
		buf[i] = byte(r.Uint32())
	}
	for range 3000 {
		off := r.IntN(16)
		n := r.IntN(200)
		if r.IntN(4) == 0 {
			n = r.IntN(len(buf) - off)
		}
		b := buf[off : off+n]
		if got, want := Fold(Sum(b, 0)), naiveChecksum(b); got != want {
			t.Fatalf("off %d len %d: Fold(Sum) = %#04x, naive %#04x", off, n, got, want)
		}
		// Split at an even point: the running sum carries across calls.
		k := r.IntN(n/2+1) * 2
		if got, want := Fold(Sum(b[k:], Sum(b[:k], 0))), naiveChecksum(b); got != want {
			t.Fatalf("off %d len %d split %d: %#04x, naive %#04x", off, n, k, got, want)
		}
	}
}

func TestSumCarries(t *testing.T) {
	// All-ones data drives every 64-bit addition to carry.
	ones := make([]byte, 1027)
	for i := range ones {
		ones[i] = 0xff
	}
	for n := range len(ones) {
		b := ones[:n]
		if got, want := Fold(Sum(b, 0)), naiveChecksum(b); got != want {
			t.Fatalf("len %d: %#04x, naive %#04x", n, got, want)
		}
		// A starting accumulator of 2^64-1 (negative zero) must not change
		// the result, except that it turns an all-zero sum into "-0".
		want := naiveChecksum(b)
		if n == 0 {
			want = 0
		}
		if got := Fold(Sum(b, ^uint64(0))); got != want {
			t.Fatalf("len %d acc -0: %#04x, want %#04x", n, got, want)
		}
	}
}

func TestPseudoHeaderSum(t *testing.T) {
	r := newRand(2)
	for i := range 200 {
		v6 := i%2 == 1
		src, dst := randAddrs(r, v6)
		seg := make([]byte, r.IntN(1500))
		for j := range seg {
			seg[j] = byte(r.Uint32())
		}
		var ph []byte
		if v6 {
			ph = append(ph, src.AsSlice()...)
			ph = append(ph, dst.AsSlice()...)
			ph = append(ph, byte(len(seg)>>24), byte(len(seg)>>16), byte(len(seg)>>8), byte(len(seg)), 0, 0, 0, ProtoTCP)
		} else {
			ph = append(ph, src.AsSlice()...)
			ph = append(ph, dst.AsSlice()...)
			ph = append(ph, 0, ProtoTCP, byte(len(seg)>>8), byte(len(seg)))
		}
		want := naiveChecksum(append(ph, seg...))
		if got := Fold(Sum(seg, PseudoHeaderSum(src, dst, ProtoTCP, len(seg)))); got != want {
			t.Fatalf("%v -> %v len %d: %#04x, naive %#04x", src, dst, len(seg), got, want)
		}
	}
}

func TestPseudoHeaderSumOddAddrs(t *testing.T) {
	// Mixed families and the zero Addr must not panic.
	v4 := netip.MustParseAddr("192.0.2.1")
	v6 := netip.MustParseAddr("2001:db8::1")
	for _, p := range [][2]netip.Addr{{v4, v6}, {v6, v4}, {{}, {}}, {v4, {}}, {netip.MustParseAddr("::ffff:192.0.2.1"), v4}} {
		_ = PseudoHeaderSum(p[0], p[1], ProtoTCP, 20)
	}
}
