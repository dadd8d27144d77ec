package tcp

import "github.com/synack-go/synack/wire"

// The receiver's SACK blocks (RFC 2018 §4) and D-SACK (RFC 2883): when a
// segment arrives that was received before, the next ACK reports it in
// its first SACK block, so that the sender learns its retransmission was
// not needed (undo.go) and that the path reorders or duplicates (RACK's
// reordering window, rack.go). Each duplicate is reported once.

// noteDuplicate records that [lo, hi) arrived again.
func (t *TCB) noteDuplicate(lo, hi Seq) {
	if !t.sackOK || !lo.Less(hi) {
		return
	}
	r := t.rare()
	r.dsack, r.dsackOn = seqRange{lo, hi}, true
	r.DSACKsOut++
}

// noteOldDuplicate reports an unacceptable segment's data that lies below
// RCV.NXT, received before, and acknowledges what follows at once (Linux's
// tcp_send_dupack).
func (t *TCB) noteOldDuplicate(seg *wire.TCPSegment) {
	if len(seg.Payload) > 0 && seg.Seq.Less(t.rcv.nxt) {
		t.noteDuplicate(seg.Seq, seg.Seq.Add(uint32(len(seg.Payload))).Min(t.rcv.nxt))
		t.enterQuickAck()
	}
}

// noteOutOfOrderDuplicate reports the part of an out-of-order segment
// [lo, hi) that a range already held covers; that range is then the
// second SACK block (RFC 2883 §4.1: the block the duplicate came from).
func (t *TCB) noteOutOfOrderDuplicate(lo, hi Seq) {
	if q := t.rcv.ooo; q != nil {
		if dlo, dhi, ok := q.overlap(lo, hi); ok {
			t.noteDuplicate(dlo, dhi)
		}
	}
}

// sackBlocksOut is how many SACK blocks the next segment carries.
func (t *TCB) sackBlocksOut() int {
	if !t.sackOK {
		return 0
	}
	k := t.rcv.ooo.len()
	if r := t.stats.rare; r != nil && r.dsackOn {
		k++
	}
	return min(k, t.maxSACKBlocks())
}

// fillSACK writes the SACK blocks of the next segment: the D-SACK block
// first if one is due, then the out-of-order ranges, the most recently
// changed first.
func (t *TCB) fillSACK(o *wire.TCPOptions) {
	if !t.sackOK {
		return
	}
	var blocks [4]seqRange
	k := 0
	if r := t.stats.rare; r != nil && r.dsackOn {
		blocks[0], k = r.dsack, 1
		r.dsackOn = false
	}
	if t.rcv.ooo.len() > 0 {
		first := k
		k += t.rcv.ooo.sackBlocks(blocks[k:t.maxSACKBlocks()])
		if t.rcv.finSeen && !t.finRcvd {
			// The FIN takes a sequence number too: the range that ends
			// at it covers it, as Linux SACKs an out-of-order segment to
			// its end_seq. Without it the sender's FIN segment is never
			// SACKed, and RACK resends it needlessly.
			for i := first; i < k; i++ {
				if blocks[i].hi == t.rcv.finSeq {
					blocks[i].hi++
				}
			}
		}
	}
	for i := 0; i < k; i++ {
		o.SACK[i] = wire.SACKBlock{Left: blocks[i].lo, Right: blocks[i].hi}
	}
	o.NumSACK = k
}
