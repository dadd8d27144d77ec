package wire

// Seq is a TCP sequence number: a point in the 32-bit modular sequence space
// of RFC 9293 §3.4. Comparisons are only meaningful between numbers less than
// 2^31 apart; never compare the raw uint32 values.
type Seq uint32

// Add returns s advanced by n bytes of sequence space.
func (s Seq) Add(n uint32) Seq { return s + Seq(n) }

// Sub returns the signed distance s - t.
func (s Seq) Sub(t Seq) int32 { return int32(s - t) }

// Less reports whether s comes strictly before t.
func (s Seq) Less(t Seq) bool { return int32(s-t) < 0 }

// LessEq reports whether s comes before or equals t.
func (s Seq) LessEq(t Seq) bool { return int32(s-t) <= 0 }

// Greater reports whether s comes strictly after t.
func (s Seq) Greater(t Seq) bool { return int32(s-t) > 0 }

// GreaterEq reports whether s comes after or equals t.
func (s Seq) GreaterEq(t Seq) bool { return int32(s-t) >= 0 }

// Within reports whether lo <= s < hi in sequence space (an empty range when
// lo == hi).
func (s Seq) Within(lo, hi Seq) bool { return uint32(s-lo) < uint32(hi-lo) }

// Max returns the later of s and t.
func (s Seq) Max(t Seq) Seq {
	if s.Less(t) {
		return t
	}
	return s
}

// Min returns the earlier of s and t.
func (s Seq) Min(t Seq) Seq {
	if s.Less(t) {
		return s
	}
	return t
}
