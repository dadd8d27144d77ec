package tcp

import (
	"time"

	"github.com/synack-go/synack/wire"
)

// The sender's side of SACK (RFC 2018, RFC 2883, RFC 6675): the merged
// ranges the peer has SACKed, and how an ACK's blocks mark the transmit
// record. The receiver's side is reassembly.go and dsack.go.

// scoreboard holds the SACKed ranges above SND.UNA, merged: RFC 6675 §3.
// The transmit record carries the same marks per segment; the ranges let
// an ACK that repeats old blocks (as every ACK does, RFC 2018 §4) find what
// is new without visiting the segments again, and let IsLost count the
// SACKed bytes above a hole.
type scoreboard struct {
	n int
	r [maxSACKScoreboard]seqRange
}

type seqRange struct{ lo, hi Seq } // [lo, hi)

// covers reports whether [lo, hi) lies inside one SACKed range.
func (s *scoreboard) covers(lo, hi Seq) bool {
	for i := 0; i < s.n; i++ {
		if s.r[i].lo.LessEq(lo) && hi.LessEq(s.r[i].hi) {
			return true
		}
	}
	return false
}

// gaps writes the parts of [lo, hi) no range covers into dst and returns
// how many.
func (s *scoreboard) gaps(lo, hi Seq, dst []seqRange) int {
	k := 0
	cur := lo
	for i := 0; i < s.n && cur.Less(hi); i++ {
		r := s.r[i]
		if r.hi.LessEq(cur) {
			continue
		}
		if !r.lo.Less(hi) {
			break
		}
		if cur.Less(r.lo) {
			dst[k] = seqRange{cur, r.lo}
			k++
		}
		cur = cur.Max(r.hi)
	}
	if cur.Less(hi) {
		dst[k] = seqRange{cur, hi}
		k++
	}
	return k
}

// insert adds [lo, hi), keeping ranges sorted and disjoint. When all slots
// are taken the highest range is forgotten: the marks stay on the
// segments, and IsLost, which reads the ranges, errs on the late side.
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
	if i == j {
		if s.n == len(s.r) {
			if i == s.n {
				return
			}
			s.n--
		}
		copy(s.r[i+1:s.n+1], s.r[i:s.n])
		s.n++
	} else {
		copy(s.r[i+1:], s.r[j:s.n])
		s.n -= j - i - 1
	}
	s.r[i] = seqRange{lo, hi}
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
}

// reset forgets every SACKed range.
func (s *scoreboard) reset() { s.n = 0 }

// len returns the number of SACKed ranges; a nil scoreboard has none.
func (s *scoreboard) len() int {
	if s == nil {
		return 0
	}
	return s.n
}

// isDSACK reports whether the first of an ACK's SACK blocks is a D-SACK
// (RFC 2883 §4): below the cumulative ACK, or inside the second block.
func isDSACK(blocks []wire.SACKBlock, ack Seq) bool {
	b := blocks[0]
	if !b.Left.Less(b.Right) {
		return false
	}
	if b.Left.Less(ack) {
		return true
	}
	return len(blocks) > 1 && blocks[1].Left.LessEq(b.Left) && b.Right.LessEq(blocks[1].Right)
}

// processSACK takes an ACK's SACK blocks (RFC 6675 §4 Update()): a D-SACK
// is noted in a, the others mark the segments they cover SACKed, each
// once. Blocks outside (ack, SND.MAX] are ignored (RFC 2018 §8, RFC 6675
// §4: invalid or old).
func (t *TCB) processSACK(blocks []wire.SACKBlock, ack Seq, a *ackInfo) {
	xs := t.xs
	if isDSACK(blocks, ack) {
		b := blocks[0]
		// A D-SACK far below anything we might have sent is forged or
		// mangled: ignored (Linux's tcp_is_sackblock_valid).
		if b.Right.Greater(t.snd.una-Seq(t.snd.maxWnd)) && b.Right.LessEq(t.snd.max) {
			a.dsack, a.dsackLo, a.dsackHi = true, b.Left, b.Right
			xs.dsackDups++
			a.dsackRetrans = xs.q.resentIn(b.Left.Max(t.snd.una), b.Right, t.snd.mss)
		}
		blocks = blocks[1:]
	}
	var gaps [maxSACKScoreboard + 1]seqRange
	for _, b := range blocks {
		lo, hi := b.Left, b.Right
		if !lo.Less(hi) || !ack.Less(hi) || hi.Greater(t.snd.max) {
			continue
		}
		lo = lo.Max(ack)
		if xs.sb == nil {
			xs.sb = t.cfg.Buffers.getScoreboard()
		}
		k := xs.sb.gaps(lo, hi, gaps[:])
		if k == 0 {
			continue
		}
		xs.sb.insert(lo, hi)
		for _, g := range gaps[:k] {
			for id := xs.q.search(g.lo); id != xs.q.end(); id++ {
				r := xs.q.at(id)
				if !r.seq.Less(g.hi) {
					break
				}
				if r.flags&(txTSO|txSACKed) == txTSO && xs.q.splitCost(id) <= maxSplitMove {
					// A TSO segment the block covers in part: the segments
					// it covers whole become a record of its own
					// (txsplit.go), as Linux's tcp_match_skb_to_sack cuts
					// at whole segments, so that a peer's blocks make no
					// record shorter than a segment. Where the cut would
					// move too many records, the part stays unmarked, as a
					// segment SACKed in part does.
					seg := uint32(r.seg)
					from, to := r.seq, r.end // the whole segments the gap covers
					if r.seq.Less(g.lo) {
						from = r.seq.Add((uint32(g.lo.Sub(r.seq)) + seg - 1) / seg * seg)
					}
					if g.hi.Less(r.end) {
						to = r.seq.Add(uint32(g.hi.Sub(r.seq)) / seg * seg)
					}
					if from.Less(to) {
						if from != r.seq {
							id = xs.split(t.cfg.Buffers, t.cfg.Memory, id, from) + 1
						}
						if to != xs.q.at(id).end {
							id = xs.split(t.cfg.Buffers, t.cfg.Memory, id, to)
						}
						r = xs.q.at(id)
					}
				}
				// The block itself, or the block with a range next to it
				// (a segment the peer SACKed in two pieces). The block
				// counts even when the scoreboard had no room for it.
				if r.flags&txSACKed == 0 && ((lo.LessEq(r.seq) && r.end.LessEq(hi)) || xs.sb.covers(r.seq, r.end)) {
					a.sacked += r.len()
					t.recordDelivered(id, true, a)
				}
			}
		}
	}
}

// forgetSACKs forgets every SACK mark: the peer reneged (RFC 2018 §8), so
// what it SACKed may have to be sent again.
func (t *TCB) forgetSACKs() {
	xs := t.xs
	if xs == nil {
		return
	}
	for id := xs.q.head; id != xs.q.end(); id++ {
		xs.q.at(id).flags &^= txSACKed
	}
	xs.sackedOut = 0
	xs.lostScan = t.snd.una
	xs.reneged = false
	t.releaseScoreboard()
}

// releaseScoreboard gives the scoreboard's list back once it is empty.
func (t *TCB) releaseScoreboard() {
	xs := t.xs
	if xs.sb != nil {
		xs.sb.reset()
		t.cfg.Buffers.putScoreboard(xs.sb)
		xs.sb = nil
	}
}

// markIsLost is RFC 6675's DupThresh rule: a segment is lost when
// DupThresh discontiguous SACKed ranges, or more than (DupThresh−1)·SMSS
// SACKed bytes, lie above it (§4 IsLost). Only the holes it names are
// lost, not every hole below the highest SACK. Once reordering has been
// seen the rule is off and RACK's reordering window decides alone (RFC
// 8985 §6.2): a segment overtaken by DupThresh others was not necessarily
// lost on such a path. IsLost is monotone, so a cursor remembers how far
// the segments were judged.
func (t *TCB) markIsLost(now time.Duration) {
	xs := t.xs
	sb := xs.sb
	if xs.rack.reordSeen || sb.len() == 0 {
		return
	}
	var p Seq
	found := false
	bytes := uint32(0)
	for i := sb.n - 1; i >= 0; i-- {
		bytes += uint32(sb.r[i].hi.Sub(sb.r[i].lo))
		if bytes > (dupThresh-1)*t.snd.mss || sb.n-i >= dupThresh {
			p, found = sb.r[i].lo, true
			break
		}
	}
	from := xs.lostScan.Max(t.snd.una)
	if !found || !from.Less(p) {
		return
	}
	for id := xs.q.search(from); id != xs.q.end(); id++ {
		r := xs.q.at(id)
		if r.end.Greater(p) {
			break
		}
		if r.flags&(txSACKed|txLost|txRetransIn) == 0 {
			t.markLost(id, now)
			xs.lostByDupThresh = true
		}
	}
	xs.lostScan = p
}
