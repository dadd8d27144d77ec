package tcp

import "time"

// sender is the loss-recovery unit of one connection: the transmit record
// (txqueue.go) and what reads it, the SACK scoreboard (sack.go), RACK-TLP
// (rack.go, tlp.go), PRR (prr.go), undo (undo.go), F-RTO and the recovery
// states (recovery.go), the delivery-rate sampler (rate.go) and the pacer
// (pacing.go). One interface serves connections with and without SACK:
// without it the duplicate ACKs stand in for SACKed segments, as RFC 6675
// §3 and Linux's tcp_add_reno_sack do, and NewReno (RFC 6582) marks the
// segment at SND.UNA lost.
//
// A TCB makes its sender, and its congestion controller, with the first
// data it sends: an endpoint that never sends holds neither. It is
// recycled when the TCB closes.
type sender struct {
	q    txQueue
	sb   *scoreboard // SACKed ranges, merged; nil while none
	rate rateSampler
	pace pacer
	rack rackState
	prr  prrState
	undo undoState
	tlp  tlpState

	ca         caState
	highSeq    Seq    // RFC 6582 "recover" (Linux's high_seq): SND.MAX when recovery or the timeout began
	sackedOut  uint32 // bytes SACKed; without SACK, duplicate ACKs × SMSS
	lostOut    uint32 // bytes marked lost and not SACKed since
	retransOut uint32 // bytes of retransmissions in flight
	rtxHint    uint32 // no lost record waiting for retransmission has an id below this
	rtxSeq     Seq    // where the last retransmission ended (resend)
	lostScan   Seq    // RFC 6675 IsLost has judged every record below this
	dupAcks    int32  // duplicate ACKs since the last advance (RFC 5681 §2)
	ltBytes    uint32 // new data sent by limited transmit (RFC 3042) since the flight was last in order
	frto       bool   // F-RTO (RFC 5682) is judging the last timeout
	frtoNew    bool   // F-RTO step 2b: new data goes first at the next Poll
	reneged    bool   // an ACK stopped at SACKed data: the next timeout forgets the scoreboard
	ccEpisode  bool   // the controller was told of this episode (OnCongestionEvent, OnRTO)

	lostByDupThresh bool // this ACK's losses include RFC 6675 IsLost's

	cwnd      uint32        // the controller's Cwnd, as of its last event (ccSync)
	paceAt    time.Duration // the pacer holds the connection until then; 0: not holding
	idleSince time.Duration // when the flight last emptied; 0: in flight or never

	// Counters for Stats and Info.
	dsackDups   uint64 // D-SACK blocks received (RFC 2883)
	spurious    uint64 // recoveries and timeouts undone as spurious
	reordSeen   uint64 // times reordering was seen
	bytesResent uint64 // bytes retransmitted
}

// sender returns the TCB's recovery unit, making it and the congestion
// controller on first use.
func (t *TCB) sender() *sender {
	if t.xs == nil {
		t.xs = t.cfg.Buffers.getSender()
		t.xs.highSeq = t.snd.una
		t.xs.lostScan = t.snd.una
		t.xs.rack.reoWndMult = 1
		t.xs.rack.fack = t.snd.una
		if t.rtt.hasRTT {
			t.xs.rate.minRTT = t.rtt.srtt // the handshake's sample
		}
	}
	if t.cc == nil {
		t.cc = t.cfg.newCC(t.snd.mss, uint64(t.snd.iss))
		t.cc.SetMSS(t.snd.mss)
		t.cc.SetSACK(t.sackOK)
	}
	t.ccSync()
	return t.xs
}

// ccSync reads what the congestion controller decided after its last
// event: the window, and the pacing rate and quantum for the pacer. The
// hot path then reads fields, not interface calls.
func (t *TCB) ccSync() {
	if xs := t.xs; xs != nil && t.cc != nil {
		xs.cwnd = t.cc.Cwnd()
		if r := t.cc.PacingRate(); r != xs.pace.rate {
			xs.pace.setRate(r, t.cc.SendQuantum())
		}
	}
}

// releaseSender gives the recovery unit back (the TCB is closing).
func (t *TCB) releaseSender() {
	xs := t.xs
	if xs == nil {
		return
	}
	t.xs = nil
	xs.q.reset(t.cfg.Buffers, t.cfg.Memory)
	if xs.sb != nil {
		xs.sb.reset()
		t.cfg.Buffers.putScoreboard(xs.sb)
	}
	*xs = sender{}
	t.cfg.Buffers.putSender(xs)
}

// flight is FlightSize (RFC 5681 §2): sent and not cumulatively
// acknowledged, in sequence space (a FIN counts one).
func (t *TCB) flight() uint32 { return uint32(t.snd.max.Sub(t.snd.una)) }

// pipe is RFC 6675 §4's estimate of the data in the network: what is in
// flight, less what was SACKed and what is deemed lost, plus the
// retransmissions in flight (Linux's tcp_packets_in_flight, in bytes).
func (t *TCB) pipe() uint32 {
	f := t.flight()
	xs := t.xs
	if xs == nil {
		return f
	}
	out := xs.sackedOut + xs.lostOut
	if out >= f {
		return xs.retransOut
	}
	return f - out + xs.retransOut
}

// recordSent makes the transmit record of a segment of new data [seq, end)
// sent at now; fin says that end includes our FIN; tso, if not 0, that it
// went as a TSO segment the link cut into segments of tso bytes.
func (t *TCB) recordSent(seq, end Seq, fin bool, tso uint32, now time.Duration) {
	xs := t.xs
	pipe := t.pipe()
	r := xs.q.push(t.cfg.Buffers, t.cfg.Memory, seq, end)
	if fin {
		r.flags |= txFIN
	}
	if tso != 0 {
		r.flags |= txTSO
		r.seg = uint16(tso)
	}
	xs.rate.onSent(&r.rate, now, xs.pace.departure(now), pipe, r.len())
	xs.q.listAppend(xs.q.end() - 1)
}

// recordResent notes that record id was sent again at now.
func (t *TCB) recordResent(id uint32, now time.Duration) {
	xs := t.xs
	r := xs.q.at(id)
	pipe := t.pipe()
	if r.flags&txRetransIn == 0 {
		xs.retransOut += r.len()
	}
	r.flags |= txRetrans | txRetransIn
	xs.rate.onSent(&r.rate, now, xs.pace.departure(now), pipe, r.len())
	xs.q.listMoveTail(id)
	xs.bytesResent += uint64(r.len())
	t.undoOnRetransmit(r, now)
}

// markLost marks record id lost at now (RFC 6675 IsLost, RACK, a timeout)
// and tells congestion control (draft-ietf-ccwg-bbr §5.2.4). A
// retransmission of it in flight is deemed lost with it, so that the
// record is sent again.
func (t *TCB) markLost(id uint32, now time.Duration) {
	if t.setLost(id) {
		xs := t.xs
		r := xs.q.at(id)
		t.cc.OnPacketLost(xs.rate.onLost(&r.rate, r.len(), now))
	}
}

// markLostQuietly marks record id lost without telling congestion control:
// the path dropped it for its size, not for congestion (LowerMTU).
func (t *TCB) markLostQuietly(id uint32) { t.setLost(id) }

// setLost marks record id lost and reports whether it was not already
// waiting to be resent.
func (t *TCB) setLost(id uint32) bool {
	xs := t.xs
	r := xs.q.at(id)
	switch {
	case r.flags&txSACKed != 0:
		return false
	case r.flags&txLost == 0:
		r.flags |= txLost
		xs.lostOut += r.len()
	case r.flags&txRetransIn == 0:
		return false
	}
	if r.flags&txRetransIn != 0 {
		r.flags &^= txRetransIn
		xs.retransOut -= r.len()
	}
	xs.q.listRemove(id)
	if int32(id-xs.rtxHint) < 0 {
		xs.rtxHint = id
	}
	return true
}

// nextLost returns the first record deemed lost and not yet resent: RFC
// 6675 §4 NextSeg rule (1).
func (xs *sender) nextLost() (uint32, bool) {
	q := &xs.q
	if xs.lostOut == 0 {
		return 0, false
	}
	id := xs.rtxHint
	if int32(id-q.head) < 0 {
		id = q.head
	}
	for ; id != q.end(); id++ {
		if q.at(id).flags&(txLost|txRetransIn|txSACKed) == txLost {
			xs.rtxHint = id
			return id, true
		}
	}
	xs.rtxHint = id
	return 0, false
}

// unmarkLost forgets that record id was deemed lost (an undo).
func (xs *sender) unmarkLost(id uint32) {
	r := xs.q.at(id)
	if r.flags&txLost == 0 {
		return
	}
	r.flags &^= txLost
	xs.lostOut -= r.len()
}

// recordDelivered updates the counters for record r, newly SACKed (sack)
// or cumulatively acknowledged, and feeds the rate sampler and RACK.
func (t *TCB) recordDelivered(id uint32, sack bool, a *ackInfo) {
	xs := t.xs
	r := xs.q.at(id)
	n := r.len()
	if r.flags&txSACKed != 0 {
		if !sack {
			xs.sackedOut -= n // SACKed before: cumulatively acknowledged now
		}
		return
	}
	if r.flags&txLost != 0 {
		r.flags &^= txLost
		xs.lostOut -= n
	}
	if r.flags&txRetransIn != 0 {
		r.flags &^= txRetransIn
		xs.retransOut -= n
	}
	xs.q.listRemove(id)
	if sack {
		r.flags |= txSACKed
		xs.sackedOut += n
	}
	if r.flags&txRetrans == 0 && r.end.LessEq(xs.highSeq) {
		a.origAcked = true // F-RTO step 3b: data sent before the timeout, never resent, arrived
	}
	a.delivered += n
	t.rackUpdate(r, a)
	xs.rate.onDelivered(&r.rate, r.end, n, a.now, r.flags&txRetrans != 0)
}

// getSender returns a zeroed recovery unit.
func (p *BufferPool) getSender() *sender {
	if p != nil {
		if s, ok := p.sends.Get().(*sender); ok {
			return s
		}
	}
	return new(sender)
}

// putSender takes back a zeroed recovery unit.
func (p *BufferPool) putSender(s *sender) {
	if p != nil {
		p.sends.Put(s)
	}
}
