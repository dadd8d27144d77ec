package tcp

// Proportional Rate Reduction: RFC 6937. During fast recovery the sender
// neither stops sending for half a round trip (RFC 6675's window, which
// jumps to ssthresh) nor bursts when ACKs are few: each ACK lets out data
// in proportion to what it reports delivered, so that the flight falls
// smoothly from RecoverFS to ssthresh over one round trip. When losses
// have taken the flight below ssthresh, the slow-start reduction bound
// (PRR-SSRB) lets it grow back by at most one segment more than was
// delivered, per ACK.
// https://www.rfc-editor.org/rfc/rfc6937#section-3
//
// Sizes are bytes. A segment may go when the allowance is positive, even
// if it is longer (prr_out then runs ahead, and the next ACKs repay it),
// as Linux's packet-counting PRR does.

// prrState is RFC 6937 §3's state.
type prrState struct {
	delivered uint32 // prr_delivered: bytes delivered since recovery began
	out       uint32 // prr_out: bytes sent since recovery began
	recoverFS uint32 // RecoverFS: FlightSize when recovery began
	cwnd      uint32 // the window the last ACK left: pipe + sndcnt
}

// init starts a recovery episode whose FlightSize is recoverFS.
func (p *prrState) init(recoverFS uint32) {
	*p = prrState{recoverFS: max(recoverFS, 1)}
}

// onAck computes sndcnt for an ACK that reported deliveredData bytes
// delivered (RFC 6937's DeliveredData: SND.UNA's advance plus the newly
// SACKed bytes), with pipe the RFC 6675 pipe after it and ssthresh the
// controller's target, and sets the window that lets exactly sndcnt more
// go out.
func (p *prrState) onAck(deliveredData, pipe, ssthresh, mss uint32) {
	p.delivered += deliveredData
	var sndcnt int64
	if pipe > ssthresh {
		// Proportional Rate Reduction:
		// sndcnt = CEIL(prr_delivered * ssthresh / RecoverFS) - prr_out.
		want := (uint64(p.delivered)*uint64(ssthresh) + uint64(p.recoverFS) - 1) / uint64(p.recoverFS)
		sndcnt = int64(want) - int64(p.out)
	} else {
		// PRR-SSRB: limit = MAX(prr_delivered - prr_out, DeliveredData) + MSS.
		limit := max(int64(p.delivered)-int64(p.out), int64(deliveredData)) + int64(mss)
		sndcnt = min(int64(ssthresh)-int64(pipe), limit)
	}
	if p.out == 0 {
		// The fast retransmit goes whatever the arithmetic says (RFC 5681
		// §3.2 step 2; Linux's tcp_cwnd_reduction).
		sndcnt = max(sndcnt, 1)
	}
	p.cwnd = pipe + uint32(max(sndcnt, 0))
}

// onSent counts n bytes sent in recovery.
func (p *prrState) onSent(n uint32) { p.out += n }
