package tcp

import (
	"time"

	"github.com/synack-go/synack/tcp/cc"
)

// Loss recovery as one unit: what an ACK or a timer does to the sender's
// recovery state, in the order of Linux's tcp_ack and tcp_fastretrans_alert
// (RFC 5681, 6582, 6675, 6937, 8985, 5682, 3522, 2883, 4015). sack.go and
// ack.go feed it the ACK; rack.go and the NewReno rule below mark losses;
// prr.go sizes the window in recovery; undo.go takes back what was
// spurious; output.go sends what NextSeg picks.

// caState is the sender's recovery state, in Linux's terms (tcp_ca_state),
// which TCP_INFO reports.
type caState uint8

const (
	caOpen     caState = iota // nothing outstanding looks lost
	caDisorder                // SACKs or duplicate ACKs: reordering or loss, not yet known
	caCWR                     // a window reduction without loss recovery (reserved for ECN)
	caRecovery                // fast recovery: RFC 6675 §5, RFC 6582, with PRR (RFC 6937)
	caLoss                    // after a retransmission timeout: RFC 5681 §3.1, RFC 5682
)

var caStateNames = [...]string{"open", "disorder", "cwr", "recovery", "loss"}

func (s caState) String() string { return caStateNames[s] }

// ackInfo is what one ACK told the recovery unit, gathered while the
// transmit record takes it.
type ackInfo struct {
	now       time.Duration
	acked     uint32 // bytes cumulatively acknowledged: SND.UNA's advance
	delivered uint32 // bytes newly acknowledged or SACKed (RFC 6937's DeliveredData)
	sacked    uint32 // bytes newly SACKed
	dupAck    bool   // a duplicate ACK (RFC 5681 §2; with SACK, RFC 6675 §2)
	dsack     bool   // the ACK carries a D-SACK block (RFC 2883)
	dsackLo   Seq    // the D-SACK block
	dsackHi   Seq
	// dsackRetrans is how many resent records the D-SACK covers when they
	// are still in the transmit record; -1 when it covers only records
	// never resent; 0 when it lies below SND.UNA.
	dsackRetrans int32
	origAcked    bool   // it delivered data sent before "recover", never retransmitted
	priorFack    Seq    // RACK.fack before this ACK
	hasTS        bool   // tsecr is the ACK's timestamp echo
	tsecr        uint32 //
}

// recoveryOnAck runs the recovery state machine for one acceptable ACK,
// after the transmit record has taken it.
func (t *TCB) recoveryOnAck(a *ackInfo) {
	xs := t.xs
	advanced := a.acked > 0
	if !t.sackOK {
		// Without SACK a duplicate ACK stands for a segment that left the
		// network: RFC 5681 §3.2's inflation, as RFC 6675's pipe counts it
		// (Linux's tcp_add_reno_sack).
		if a.dupAck {
			t.renoAddSack(a)
		} else if advanced {
			t.renoRemoveSacks(a.acked)
		}
	}
	if a.dsack {
		t.rackOnDSACK()
		t.undoOnDSACK(a)
	}
	t.tlpOnAck(a)
	if t.sackOK {
		t.markIsLost(a.now)
		t.rackDetectLoss(a.now)
	} else {
		t.newRenoMarkLost(a.now, advanced)
	}
	switch xs.ca {
	case caRecovery:
		switch {
		case !t.snd.una.Less(xs.highSeq):
			// The full ACK: RFC 6582 §3.2 step 3, RFC 6675 §5 (the ACK
			// passes RecoveryPoint).
			t.exitRecovery(a)
		case advanced:
			t.tryUndoPartial(a)
		}
	case caLoss:
		t.processLoss(a, advanced)
	}
	if xs.ca < caRecovery {
		switch {
		case xs.lostOut > 0:
			rule := cc.RuleRACK
			if !t.sackOK {
				rule = cc.RuleDupAcks
			} else if xs.lostByDupThresh {
				rule = cc.RuleSACK
			}
			t.enterRecovery(a.now, rule)
		case xs.sackedOut > 0 || xs.dupAcks > 0:
			xs.ca = caDisorder
		default:
			xs.ca = caOpen
			xs.ltBytes = 0
		}
	}
	xs.lostByDupThresh = false
	if xs.ca == caRecovery && t.cc.UsesPRR() {
		xs.prr.onAck(a.delivered, t.pipe(), t.cc.Ssthresh(), t.snd.mss)
	}
}

// enterRecovery starts fast recovery: RFC 5681 §3.2 step 2, RFC 6582 §3.2,
// RFC 6675 §5. The congestion controller takes its multiplicative decrease;
// PRR (RFC 6937) will walk the flight down to the new ssthresh.
func (t *TCB) enterRecovery(now time.Duration, rule cc.CongestionRule) {
	xs := t.xs
	t.undoInit()
	// FlightSize before limited transmit (RFC 3042 §2: its segments do not
	// count when the window is cut), as RFC 6937's examples count it.
	fs := t.flight() - min(xs.ltBytes, t.flight())
	t.cc.OnCongestionEvent(cc.CongestionEvent{Now: now, Rule: rule, Inflight: fs})
	xs.ccEpisode = true
	xs.prr.init(fs)
	xs.ca = caRecovery
	xs.highSeq = t.snd.max
	xs.ltBytes = 0
	t.rare().FastRecov++
	t.stopEarlyTimer(earlyProbe)
	t.congestionChanged(CwndRecovery)
}

// exitRecovery ends fast recovery at the full ACK: cwnd is set to ssthresh
// (RFC 6582 §3.2 step 3, option 2; RFC 6937, which has brought the flight
// there) rather than deflated to FlightSize + SMSS; or, if the ACK shows
// the retransmissions were not needed, the reduction is undone (RFC 3522,
// RFC 4015).
func (t *TCB) exitRecovery(a *ackInfo) {
	if t.mayUndo(a) {
		t.undoEpisode(a.now, true, CwndUndo)
		return
	}
	t.endEpisode(a.now)
}

// endEpisode leaves Recovery or Loss for Open.
func (t *TCB) endEpisode(now time.Duration) {
	xs := t.xs
	if xs.ccEpisode {
		t.cc.OnRecoveryExit(now)
		xs.ccEpisode = false
	}
	xs.ca = caOpen
	xs.frto, xs.frtoNew = false, false
	t.rackOnRecoveryExit()
	t.congestionChanged(CwndRecoveryExit)
}

// enterLoss handles a retransmission timeout: RFC 5681 §3.1, RFC 6298
// §5.4–5.6 and Linux's tcp_enter_loss. What is outstanding is marked lost
// (RFC 8985 §6.3: the first segment, and the others sent longer than
// RACK.rtt plus the reordering window ago) and resent in sequence order as
// the window opens from one segment, skipping what the peer SACKed: the
// timeout does not resend data the peer holds. F-RTO (RFC 5682) then
// watches the next ACKs for a spurious timeout.
//
// Linux deviation (RFC 2018 §8 and RFC 6675 §5.1 say the scoreboard SHOULD
// be forgotten): as Linux, the SACK marks are kept unless the ACKs showed
// the peer reneging (the first outstanding segment is SACKed); a peer that
// reneges otherwise is caught by the next timeout.
func (t *TCB) enterLoss(now time.Duration) {
	xs := t.xs
	if xs == nil || xs.q.n == 0 {
		return
	}
	fresh := xs.ca < caRecovery
	if fresh || !t.snd.una.Less(xs.highSeq) {
		t.undoInit()
	}
	t.cc.OnRTO(now, t.flight())
	xs.ccEpisode = true
	head := xs.q.first()
	if head.flags&txSACKed != 0 || xs.reneged {
		t.forgetSACKs()
	}
	reo := t.reoWnd()
	for id := xs.q.head; id != xs.q.end(); id++ {
		r := xs.q.at(id)
		if r.flags&txSACKed != 0 {
			continue
		}
		if id != xs.q.head && xs.rack.valid && r.sentAt()+xs.rack.rtt+reo > now {
			continue // sent too recently to be judged lost (RFC 8985 §6.3)
		}
		t.markLost(id, now)
	}
	xs.ca = caLoss
	xs.highSeq = t.snd.max
	xs.dupAcks = 0
	xs.frto = fresh || t.tmr.backoffs > 1
	xs.frtoNew = false
	xs.tlp.on = false
	t.congestionChanged(CwndRTO)
}

// processLoss is the Loss state's share of an ACK: F-RTO's steps (RFC 5682
// §3.1, the SACK-enhanced version of §4, as Linux's tcp_process_loss) and
// the end of the episode when the ACK passes the SND.MAX of the timeout.
func (t *TCB) processLoss(a *ackInfo, advanced bool) {
	xs := t.xs
	recovered := !t.snd.una.Less(xs.highSeq)
	if advanced && t.mayUndo(a) {
		t.undoEpisode(a.now, true, CwndUndo)
		return
	}
	if xs.frto {
		if a.origAcked {
			// Step 3b: data that was never retransmitted was
			// acknowledged, so it was not all lost: the timeout was
			// spurious.
			t.undoEpisode(a.now, true, CwndFRTO)
			return
		}
		if t.snd.max.Greater(xs.highSeq) {
			if a.sacked > 0 || a.dupAck {
				xs.frto = false // step 3a: the loss was real
			}
		} else if advanced && !recovered {
			// Step 2b: the retransmission's ACK advanced SND.UNA. Send
			// new data, not more retransmissions, and see what its ACK
			// says; without new data to send, recover as usual.
			xs.highSeq = t.snd.max
			if t.snd.nxt.Less(t.sendEnd()) && t.snd.nxt.Less(t.snd.una.Add(t.snd.wnd)) {
				xs.frtoNew = true
				return
			}
			xs.frto = false
		}
	}
	if recovered {
		t.endEpisode(a.now)
	}
}

// renoAddSack counts a duplicate ACK as one segment delivered: RFC 6675
// §3 without SACK, Linux's tcp_add_reno_sack. At most FlightSize less the
// holes can have left.
func (t *TCB) renoAddSack(a *ackInfo) {
	xs := t.xs
	f := t.flight()
	holes := max(xs.lostOut, t.snd.mss)
	if f <= holes {
		return
	}
	n := min(t.snd.mss, f-holes-min(xs.sackedOut, f-holes))
	xs.sackedOut += n
	a.delivered += n
}

// renoRemoveSacks takes back the duplicate ACKs that an advancing ACK
// explains: the segment that filled the hole counts once, the others were
// the duplicate ACKs' segments (Linux's tcp_remove_reno_sacks).
func (t *TCB) renoRemoveSacks(acked uint32) {
	xs := t.xs
	if acked > t.snd.mss {
		xs.sackedOut -= min(xs.sackedOut, acked-t.snd.mss)
	}
	if t.snd.una == t.snd.max {
		xs.sackedOut = 0
	}
	xs.sackedOut = min(xs.sackedOut, t.flight())
}

// newRenoMarkLost is loss detection without SACK (Linux's
// tcp_newreno_mark_lost): the segment at SND.UNA is lost on the third
// duplicate ACK (RFC 5681 §3.2 step 2), and again after each partial ACK
// in recovery (RFC 6582 §3.2 step 3: "retransmit the first unacknowledged
// segment").
func (t *TCB) newRenoMarkLost(now time.Duration, advanced bool) {
	xs := t.xs
	head := xs.q.first()
	if head == nil || head.flags&txLost != 0 {
		return
	}
	if (xs.ca < caRecovery && xs.dupAcks >= dupThresh) || (xs.ca == caRecovery && advanced) {
		if head.flags&txTSO != 0 && head.len() > t.snd.mss {
			// Only the first segment of a TSO segment is lost, as Linux
			// splits the skb there.
			xs.split(t.cfg.Buffers, t.cfg.Memory, xs.q.head, head.seq.Add(t.snd.mss))
		}
		t.markLost(xs.q.head, now)
	}
}

// sendEnd is the sequence after the last byte queued to send.
func (t *TCB) sendEnd() Seq { return t.snd.bufSeq.Add(uint32(t.snd.buf.n)) }

// resendInFlight marks what is in flight lost, so that the next Poll
// resends it from SND.UNA in segments of the new MSS (LowerMTU): the path
// dropped what was too big, and resending the rest with it keeps the
// segments full. It is not a loss signal: the window stays, no undo is
// possible, and the Loss state, with "recover" at SND.MAX, keeps the
// duplicate ACKs the resent data may provoke from starting a fast
// retransmit (RFC 6582 §3.2 step 4; Linux's tcp_simple_retransmit, which
// marks only the segments too big for the new MSS).
func (t *TCB) resendInFlight(now time.Duration) {
	xs := t.xs
	if xs == nil {
		return
	}
	for id := xs.q.head; id != xs.q.end(); id++ {
		t.markLostQuietly(id)
	}
	if xs.ca != caLoss {
		xs.ca = caLoss
		xs.highSeq = t.snd.max
		xs.undo.on = false
		xs.frto, xs.frtoNew = false, false
	}
}
