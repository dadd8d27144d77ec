package tcp

import (
	"time"

	"github.com/synack-go/synack/wire"
)

// recovery is the loss-recovery state: NewReno's (RFC 6582) and, when both
// sides allow SACK, a scoreboard (RFC 6675) that tells which holes to resend.
type recovery struct {
	headSentAt time.Duration // when the segment at SND.UNA was last resent
	sb         *scoreboard   // the SACKed ranges; nil while there are none
	recover    Seq           // SND.MAX when recovery began: RFC 6582 "recover"
	rexmitNxt  Seq           // holes below this were retransmitted in this episode
	dupAcks    int32
	active     bool
	forceHead  bool // retransmit the segment at SND.UNA now
}

// scoreboard holds the SACKed ranges above SND.UNA: RFC 6675 §3.
type scoreboard struct {
	n      int
	r      [maxSACKScoreboard]seqRange
	sacked uint32 // bytes covered by r
}

type seqRange struct{ lo, hi Seq } // [lo, hi)

// update merges the SACK blocks of one ACK, ignoring blocks outside
// (una, max]: RFC 2018 §8 and RFC 6675 §4. It reports whether a block
// covered bytes not SACKed before: only such an ACK is a DupAck on a SACK
// connection (RFC 6675 §2).
func (s *scoreboard) update(blocks []wire.SACKBlock, una, max Seq) (news bool) {
	for _, b := range blocks {
		lo, hi := b.Left, b.Right
		if !lo.Less(hi) || !una.Less(hi) || hi.Greater(max) {
			continue // invalid, or a D-SACK/old block
		}
		lo = lo.Max(una)
		if !s.covers(lo, hi) {
			news = true
			s.insert(lo, hi)
		}
	}
	return news
}

// covers reports whether [lo, hi) lies inside one SACKed range.
func (s *scoreboard) covers(lo, hi Seq) bool {
	for i := 0; i < s.n; i++ {
		if s.r[i].lo.LessEq(lo) && hi.LessEq(s.r[i].hi) {
			return true
		}
	}
	return false
}

// insert adds [lo, hi), keeping ranges sorted and disjoint.
func (s *scoreboard) insert(lo, hi Seq) {
	i := 0
	for i < s.n && s.r[i].hi.Less(lo) {
		i++
	}
	j := i
	for j < s.n && s.r[j].lo.LessEq(hi) {
		lo = lo.Min(s.r[j].lo)
		hi = hi.Max(s.r[j].hi)
		j++
	}
	// Replace r[i:j] by the merged range.
	if i == j {
		if s.n == len(s.r) {
			if i == s.n {
				return // full: forget the highest new block
			}
			s.n-- // drop the highest range to make room
		}
		copy(s.r[i+1:s.n+1], s.r[i:s.n])
		s.n++
	} else {
		copy(s.r[i+1:], s.r[j:s.n])
		s.n -= j - i - 1
	}
	s.r[i] = seqRange{lo, hi}
	s.recount()
}

// trim forgets what lies below una.
func (s *scoreboard) trim(una Seq) {
	if s == nil {
		return
	}
	k := 0
	for i := 0; i < s.n; i++ {
		r := s.r[i]
		if r.hi.LessEq(una) {
			continue
		}
		r.lo = r.lo.Max(una)
		s.r[k] = r
		k++
	}
	s.n = k
	s.recount()
}

func (s *scoreboard) recount() {
	s.sacked = 0
	for i := 0; i < s.n; i++ {
		s.sacked += uint32(s.r[i].hi.Sub(s.r[i].lo))
	}
}

// reset forgets every SACKed range.
func (s *scoreboard) reset() { s.n, s.sacked = 0, 0 }

// len returns the number of SACKed ranges; a nil scoreboard has none.
func (s *scoreboard) len() int {
	if s == nil {
		return 0
	}
	return s.n
}

// sackedBytes returns the bytes SACKed.
func (s *scoreboard) sackedBytes() uint32 {
	if s == nil {
		return 0
	}
	return s.sacked
}

// highest returns the end of the highest SACKed range, or una if none.
func (s *scoreboard) highest(una Seq) Seq {
	if s.len() == 0 {
		return una
	}
	return s.r[s.n-1].hi
}

// nextHole returns the first unSACKed range at or after from and below the
// highest SACKed byte: the data RFC 6675's NextSeg rule (1) resends.
func (s *scoreboard) nextHole(from Seq) (lo, hi Seq, ok bool) {
	for i := 0; i < s.len(); i++ {
		r := s.r[i]
		if from.Less(r.lo) {
			return from, r.lo, true
		}
		if from.Less(r.hi) {
			from = r.hi
		}
	}
	return 0, 0, false
}

// sackedAbove counts SACKed bytes at or after from.
func (s *scoreboard) sackedAbove(from Seq) uint32 {
	var n uint32
	for i := 0; i < s.len(); i++ {
		r := s.r[i]
		if r.hi.LessEq(from) {
			continue
		}
		n += uint32(r.hi.Sub(r.lo.Max(from)))
	}
	return n
}

// skip returns seq moved past any SACKed range containing it.
func (s *scoreboard) skip(seq Seq) Seq {
	for i := 0; i < s.len(); i++ {
		if seq.Within(s.r[i].lo, s.r[i].hi) {
			return s.r[i].hi
		}
	}
	return seq
}
