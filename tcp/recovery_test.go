package tcp

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/synack-go/synack/wire"
)

// The recovery unit on the TCB's virtual clock, with the RFCs' own
// examples where they give one.

const smss = 1448 // the send MSS with timestamps

// sq is the first sequence number of the TCB's i-th data segment.
func sq(i int) Seq { return tcbISS + 1 + Seq(i*smss) }

// renoConfig is NewReno without pacing: the window arithmetic of the RFC
// examples, and every segment the window allows at once.
func renoConfig() *Config {
	c := testConfig()
	c.CongestionControl = "reno"
	c.NoPacing = true
	return c
}

// withRTT returns an accepted connection whose handshake took rtt: SRTT
// and the min RTT are rtt, the RTO rtt + 4·rtt/2.
func withRTT(t *testing.T, cfg *Config, rtt time.Duration) *tcbTest {
	t.Helper()
	h := newTCBTest(t, cfg)
	h.tcb.Listen(tcbISS)
	h.send(0, in(fS, peerISS, 0).opts(peerSYN))
	h.want(0, "the SYN-ACK", seg(fSA, tcbISS, peerISS+1))
	h.send(rtt, in(fA, peerISS+1, tcbISS+1))
	h.wantState(StateEstablished)
	return h
}

// take returns the segments the TCB sent so far, and forgets them.
func (h *tcbTest) take() []wire.TCPSegment {
	var segs []wire.TCPSegment
	for _, s := range h.out {
		segs = append(segs, s.seg)
	}
	h.out = h.out[:0]
	return segs
}

// ack is the peer's ACK of everything below the TCB's segment i, with SACK
// blocks [lo, hi) of segment numbers.
func ack(i int, blocks ...[2]int) peerSeg {
	p := in(fA, peerISS+1, sq(i))
	var b []wire.SACKBlock
	for _, r := range blocks {
		b = append(b, wire.SACKBlock{Left: sq(r[0]), Right: sq(r[1])})
	}
	return p.sack(b...)
}

// segNames describes segments by their numbers: "N12" new data, "R3" a
// retransmission below hi (the highest sent before), "-" none.
func segNames(segs []wire.TCPSegment, newFrom int) string {
	if len(segs) == 0 {
		return "-"
	}
	var b []string
	for _, s := range segs {
		i := int(s.Seq.Sub(sq(0))) / smss
		if i >= newFrom {
			b = append(b, fmt.Sprintf("N%d", i))
		} else {
			b = append(b, fmt.Sprintf("R%d", i))
		}
	}
	return strings.Join(b, ",")
}

// twentyInFlight sends 30 segments' worth after a 100 ms handshake and
// acknowledges the initial window one segment at a time at 200 ms, so
// that NewReno's slow start leaves cwnd at 20 segments with segments 10
// to 29 in flight, all sent at 200 ms, and more data waiting: RFC 6937
// §3.1's starting point (cwnd = FlightSize = pipe = 20).
func twentyInFlight(t *testing.T) *tcbTest {
	t.Helper()
	h := withRTT(t, renoConfig(), 100*ms)
	h.write(make([]byte, 60*smss))
	if got := segNames(h.take(), 0); got != "N0,N1,N2,N3,N4,N5,N6,N7,N8,N9" {
		t.Fatalf("the initial window: %s", got)
	}
	for i := 1; i <= 10; i++ {
		h.send(200*ms, ack(i))
	}
	if got := len(h.take()); got != 20 {
		t.Fatalf("slow start sent %d segments for 10 ACKs, want 20", got)
	}
	if cwnd := h.tcb.Stats().Cwnd; cwnd != 20*smss || h.tcb.pipe() != 20*smss {
		t.Fatalf("cwnd %d pipe %d, want 20 segments each", cwnd/smss, h.tcb.pipe()/smss)
	}
	return h
}

// RFC 6937 §3.1, the first example: one segment of twenty is lost. The
// first two duplicate ACKs each let one new segment out (limited
// transmit, RFC 3042), the third brings the fast retransmit, and then PRR
// sends one segment for every two delivered, ssthresh/RecoverFS = 10/20,
// spreading the window reduction over the round trip instead of going
// silent for half of it (RFC 6675's row of the example) or bursting.
//
// The RFC's "sent" row puts its last two transmissions on ACKs 18 and 19;
// its own pipe row (12 after ACK 17, then 11, then 10) and its algorithm
// put one on ACK 17 and none on 18 and 19 (pipe is not above ssthresh on
// ACK 19, and 10 − 10 is nothing to send). We follow the algorithm: the
// pipe ends at ssthresh, 10 segments.
func TestPRRExampleOneLoss(t *testing.T) {
	h := twentyInFlight(t)
	want := []string{"", "N30", "N31", "R10", "-", "N32", "-", "N33", "-", "N34", "-", "N35", "-", "N36", "-", "N37", "-", "N38", "-", "-"}
	var got []string
	for k := 1; k <= 19; k++ {
		h.send(300*ms, ack(10, [2]int{11, 11 + k}))
		got = append(got, segNames(h.take(), 30))
	}
	if strings.Join(got, " ") != strings.Join(want[1:], " ") {
		t.Fatalf("sent per ACK:\n got  %s\n want %s", strings.Join(got, " "), strings.Join(want[1:], " "))
	}
	if st := h.tcb.Stats(); h.tcb.pipe() != 10*smss || st.Ssthresh != 10*smss {
		t.Fatalf("pipe %d ssthresh %d after the round, want 10 segments each", h.tcb.pipe()/smss, st.Ssthresh/smss)
	}
}

// RFC 6937 §3.1, the second example: fifteen segments in a row are lost
// and only five ACKs come back. The first two send new data (limited
// transmit); on the third all fifteen are lost (RFC 6675 IsLost) and the
// pipe, 4, is below ssthresh: PRR-SSRB sends what was delivered plus one
// segment, two retransmissions per ACK (the RFC's row: 2R 2R 2R), where
// PRR-CRB would send one and RFC 6675 seven at once.
func TestPRRExampleBurstLoss(t *testing.T) {
	h := twentyInFlight(t)
	var got []string
	for k := 1; k <= 5; k++ {
		h.send(300*ms, ack(10, [2]int{25, 25 + k}))
		got = append(got, segNames(h.take(), 30))
	}
	if want := "N30 N31 R10,R11 R12,R13 R14,R15"; strings.Join(got, " ") != want {
		t.Fatalf("sent per ACK:\n got  %s\n want %s", strings.Join(got, " "), want)
	}
}

// Issue 12, bug B: the old code deemed every unSACKed segment below the
// highest SACK lost as soon as DupThresh segments were SACKed anywhere,
// and resent them at once; RFC 6675's IsLost needs DupThresh segments
// SACKed above each one. Of twenty segments in flight, 21 and 22 are
// SACKed first, then 11 and 12: the path reorders (RFC 8985 §6.2 step 3,
// 11 arrived after 22). Nothing is resent at once, not even 10 (with
// reordering seen, DupThresh no longer decides); limited transmit sends
// one new segment per segment delivered. A reordering window (a quarter
// of the min RTT) after 22 was due, RACK deems 10 and 13–20 lost and
// recovery begins.
func TestIsLostNeedsDupThresh(t *testing.T) {
	h := twentyInFlight(t)
	h.send(300*ms, ack(10, [2]int{21, 23}))
	h.send(300*ms, ack(10, [2]int{11, 12}, [2]int{21, 23}))
	h.send(300*ms, ack(10, [2]int{11, 13}, [2]int{21, 23}))
	if got := segNames(h.take(), 30); got != "N30,N31,N32,N33" {
		t.Fatalf("on the SACKs: %s, want only limited transmit's new segments", got)
	}
	h.advance(325*ms - 1)
	if got := segNames(h.take(), 30); got != "-" {
		t.Fatalf("before RACK's reordering window passed: %s", got)
	}
	h.advance(325 * ms)
	if got := segNames(h.take(), 30); !strings.HasPrefix(got, "R10") {
		t.Fatalf("RACK's timer, 200 + 100 + 25 ms: %s, want the holes resent from 10", got)
	}
	if h.tcb.Stats().FastRecov != 1 {
		t.Fatalf("no recovery")
	}
}

// Issue 12, bug C: a rule resent the segment at SND.UNA once 1.25·SRTT
// had passed since "the head" was last resent, but read the previous
// head's time after a partial ACK, so a hole resent a moment ago went a
// third time. Segments 0 and 5 are lost; 0 is resent at 200 ms, 5 at
// 250 ms when three segments above it are SACKed. The partial ACK at
// 300 ms covers 0; an ACK at 330 ms (more than 1.25·SRTT after 0 was
// resent, long before 5's retransmission can be acknowledged) must not
// resend 5 again. RACK decides by time: 5 went after anything delivered.
func TestNoThirdSendAfterPartialACK(t *testing.T) {
	h := withRTT(t, renoConfig(), 100*ms)
	h.write(make([]byte, 20*smss))
	h.take()
	for k := 1; k <= 4; k++ {
		h.send(200*ms, ack(0, [2]int{1, 1 + k}))
	}
	if got := segNames(h.take(), 10); !strings.Contains(got, "R0") || strings.Count(got, "R") != 1 {
		t.Fatalf("at 200 ms: %s, want R0 (and limited transmit's new data)", got)
	}
	var sent string
	for k := 6; k <= 9; k++ {
		h.send(250*ms, ack(0, [2]int{6, k + 1}, [2]int{1, 5}))
		sent += " " + segNames(h.take(), 10)
	}
	if !strings.Contains(sent, "R5") {
		t.Fatalf("at 250 ms: %s, want R5", sent)
	}
	h.send(300*ms, ack(5, [2]int{6, 9}))
	h.take()
	h.send(330*ms, ack(5, [2]int{10, 11}, [2]int{6, 9}))
	if got := segNames(h.take(), 10); strings.Contains(got, "R5") {
		t.Fatalf("at 330 ms segment 5 went a third time (%s): its retransmission of 250 ms is still in flight", got)
	}
	if st := h.tcb.Stats(); st.RTOs != 0 {
		t.Fatalf("%d RTOs", st.RTOs)
	}
}

// RFC 8985 §3.3.1, "Tail drop": P1, P2 and P3 are sent a reordering window
// apart; P1 and P3 are lost. The SACK of P2 shows P1 lost (sent before a
// delivered segment, and out longer than the RTT plus the window); when
// R1, its retransmission, is acknowledged, P3 was sent before R1 and is
// lost too. Neither DupThresh nor RFC 6675 could tell, and no timeout is
// needed.
func TestRACKExampleTailDrop(t *testing.T) {
	h := withRTT(t, renoConfig(), 100*ms)
	h.write(make([]byte, smss))
	h.want(100*ms, "P1", seg(fPA, sq(0), peerISS+1).length(smss))
	h.advance(130 * ms)
	h.write(make([]byte, smss))
	h.want(130*ms, "P2", seg(fPA, sq(1), peerISS+1).length(smss))
	h.advance(160 * ms)
	h.write(make([]byte, smss))
	h.want(160*ms, "P3", seg(fPA, sq(2), peerISS+1).length(smss))
	h.send(230*ms, ack(0, [2]int{1, 2}))
	h.want(230*ms, "the SACK of P2: P1 is lost, R1", seg(fA, sq(0), peerISS+1).length(smss))
	h.send(330*ms, ack(2))
	h.want(330*ms, "R1 is acknowledged: P3, sent before it, is lost, R3", seg(fPA, sq(2), peerISS+1).length(smss))
	h.send(430*ms, ack(3))
	h.wantIdle(time.Hour)
	if st := h.tcb.Stats(); st.RTOs != 0 || st.Retransmits != 2 {
		t.Fatalf("RTOs %d, retransmits %d: want 0 and 2", st.RTOs, st.Retransmits)
	}
}

// RFC 8985 §3.3.2, "Lost retransmission": P1 and P2 are lost; the SACK of
// P3 marks both lost and they go again as R1 and R2. R1 is lost too; when
// R2 is SACKed, R1, sent just before it, is lost (in recovery, with no
// reordering seen, the reordering window is zero), and goes a third time,
// with no timeout.
func TestRACKExampleLostRetransmission(t *testing.T) {
	h := withRTT(t, renoConfig(), 100*ms)
	for i, at := range []time.Duration{100 * ms, 130 * ms, 160 * ms} {
		h.advance(at)
		h.write(make([]byte, smss))
		h.want(at, "P", seg(fPA, sq(i), peerISS+1).length(smss))
	}
	h.send(260*ms, ack(0, [2]int{2, 3}))
	h.want(260*ms, "P1 and P2 are lost: R1, R2",
		seg(fA, sq(0), peerISS+1).length(smss), seg(fA, sq(1), peerISS+1).length(smss))
	h.send(360*ms, ack(0, [2]int{1, 3}))
	h.want(360*ms, "R2 SACKed, R1 sent before it was lost: R1 again", seg(fA, sq(0), peerISS+1).length(smss))
	h.send(460*ms, ack(3))
	h.wantIdle(time.Hour)
	if st := h.tcb.Stats(); st.RTOs != 0 || st.Retransmits != 3 {
		t.Fatalf("RTOs %d, retransmits %d: want 0 and 3", st.RTOs, st.Retransmits)
	}
}

// reorderOnce makes the path reorder in the TCB's eyes: of two segments,
// the second is SACKed first, then the first arrives, unresent (RFC 8985
// §6.2 step 3: RACK.reordering_seen).
func reorderOnce(t *testing.T, h *tcbTest, at time.Duration, first int) {
	t.Helper()
	h.write(make([]byte, 2*smss))
	h.take()
	h.send(at, ack(first, [2]int{first + 1, first + 2}))
	h.send(at+5*ms, ack(first+2))
	if !h.tcb.xs.rack.reordSeen || h.tcb.Stats().Retransmits != 0 {
		t.Fatalf("reordering not seen (retransmits %d)", h.tcb.Stats().Retransmits)
	}
}

// RFC 8985 §3.3.3, "(Small) Degree of Reordering": after reordering was
// seen, the window is a quarter of the min RTT. P1 and P2 are full
// segments, P3 one byte; P3 arrives first. If P1 and P2 come within the
// window, nothing is resent; if they come later, RACK deems them lost,
// and resends them, spuriously.
func TestRACKExampleReordering(t *testing.T) {
	for _, late := range []time.Duration{20 * ms, 40 * ms} {
		h := withRTT(t, renoConfig(), 100*ms)
		reorderOnce(t, h, 200*ms, 0)
		h.advance(300 * ms)
		h.write(make([]byte, 2*smss+1))
		h.take()
		p3 := ack(2, [2]int{4, 4})
		p3.Options.SACK[0] = wire.SACKBlock{Left: sq(4), Right: sq(4) + 1}
		h.send(400*ms, p3)
		h.advance(400*ms + late - 1)
		resent := len(h.take())
		h.send(400*ms+late, in(fA, peerISS+1, sq(4)+1))
		switch {
		case late < 25*ms && resent != 0:
			t.Fatalf("P1 and P2 came %v after P3: %d segments resent, want none", late, resent)
		case late > 25*ms && resent != 2:
			t.Fatalf("P1 and P2 came %v after P3, past the 25 ms window: %d segments resent, want 2", late, resent)
		}
	}
}

// RFC 8985 §7: the last two of ten segments are lost, so no ACK can bring
// news of them. Two SRTTs after the last ACK (PTO = 2·SRTT, earlier than
// the RTO) the sender probes with its last segment (no new data waits);
// the probe's SACK shows the segment before it lost (RACK, §6), which is
// repaired by fast recovery instead of a timeout.
func TestTLPRepairsTailLoss(t *testing.T) {
	h := withRTT(t, renoConfig(), 100*ms)
	h.write(make([]byte, 10*smss))
	h.take()
	for i := 2; i <= 8; i += 2 {
		h.send(200*ms, ack(i))
	}
	h.wantIdle(400*ms - 1)
	h.want(400*ms, "the probe: the last segment again", seg(fPA, sq(9), peerISS+1).length(smss))
	h.send(500*ms, ack(8, [2]int{9, 10}))
	h.want(500*ms, "the probe's SACK: segment 8 is lost", seg(fA, sq(8), peerISS+1).length(smss))
	h.send(600*ms, ack(10))
	h.wantIdle(time.Hour)
	if st := h.tcb.Stats(); st.RTOs != 0 || st.LossProbes != 1 || st.FastRecov != 1 {
		t.Fatalf("RTOs %d, probes %d, recoveries %d: want 0, 1, 1", st.RTOs, st.LossProbes, st.FastRecov)
	}
}

// RFC 8985 §7.2: the probe timeout is never later than the RTO (PTO =
// min(PTO, RTO)). With one segment in flight the PTO (2·SRTT + 200 ms)
// would come after the RTO; the probe goes at the RTO's time instead of
// the timeout (issue 12, bug D: it gave up, and the single segment cost a
// timeout and cwnd = 1). tlp-single-segment.pkt is the same, checked
// against Linux.
func TestTLPClampedToRTO(t *testing.T) {
	h := withRTT(t, renoConfig(), 100*ms)
	h.write(make([]byte, 100))
	h.want(100*ms, "the segment", seg(fPA, sq(0), peerISS+1).length(100))
	rto := h.tcb.rtt.rto
	h.wantIdle(100*ms + rto - 1)
	h.want(100*ms+rto, "the probe, at the RTO's time", seg(fPA, sq(0), peerISS+1).length(100))
	if st := h.tcb.Stats(); st.RTOs != 0 || st.LossProbes != 1 {
		t.Fatalf("RTOs %d, probes %d: want the probe, not the timeout", st.RTOs, st.LossProbes)
	}
	h.want(100*ms+2*rto, "the RTO, an RTO after the probe", seg(fPA, sq(0), peerISS+1).length(100))
	h.send(100*ms+2*rto+10*ms, in(fA, peerISS+1, sq(0)+100))
	h.wantIdle(time.Hour)
}

// RFC 2883: a segment that arrives twice is reported in the first SACK
// block of the next ACK, a D-SACK: below the cumulative ACK for data
// already delivered; for a duplicate of out-of-order data, followed by the
// block it belongs to (§4.1). Each duplicate is reported once.
func TestDSACKSent(t *testing.T) {
	h := accepted(t, nil)
	data := in(fA, peerISS+1, tcbISS+1).data(make([]byte, 100))
	h.send(10*ms, data)
	h.want(10*ms, "the ACK (quick-ACK mode)", seg(fA, tcbISS+1, peerISS+101))
	h.send(60*ms, data)
	h.want(60*ms, "the duplicate: a D-SACK below the ACK",
		seg(fA, tcbISS+1, peerISS+101).withSACK(wire.SACKBlock{Left: peerISS + 1, Right: peerISS + 101}))
	ooo := in(fA, peerISS+201, tcbISS+1).data(make([]byte, 100))
	h.send(70*ms, ooo)
	h.want(70*ms, "out of order: a SACK", seg(fA, tcbISS+1, peerISS+101).withSACK(wire.SACKBlock{Left: peerISS + 201, Right: peerISS + 301}))
	h.send(80*ms, ooo)
	h.want(80*ms, "its duplicate: the D-SACK, then its block",
		seg(fA, tcbISS+1, peerISS+101).withSACK(wire.SACKBlock{Left: peerISS + 201, Right: peerISS + 301},
			wire.SACKBlock{Left: peerISS + 201, Right: peerISS + 301}))
	h.send(90*ms, in(fA, peerISS+101, tcbISS+1).data(make([]byte, 100)))
	h.want(90*ms, "the hole filled: no D-SACK again", seg(fA, tcbISS+1, peerISS+301).withSACK())
	h.read()
	h.wantIdle(time.Hour)
}

// fastRetransmitOf0 sends ten segments and SACKs 1–3 at 200 ms: segment 0
// is resent by fast retransmit (RFC 6675 IsLost). It returns the window
// and threshold from before the reduction.
func fastRetransmitOf0(t *testing.T, h *tcbTest) (cwnd, ssthresh uint32) {
	t.Helper()
	h.write(make([]byte, 10*smss))
	h.take()
	before := h.tcb.Stats()
	for k := 1; k <= 3; k++ {
		h.send(200*ms, ack(0, [2]int{1, 1 + k}))
	}
	if got := segNames(h.take(), 10); got != "R0" {
		t.Fatalf("fast retransmit: %s, want R0", got)
	}
	if st := h.tcb.Stats(); st.Cwnd >= before.Cwnd {
		t.Fatalf("cwnd %d not reduced from %d", st.Cwnd, before.Cwnd)
	}
	return before.Cwnd, before.Ssthresh
}

// RFC 3708 and RFC 4015, D-SACK-based undo (as Linux's tcp_try_undo_dsack):
// the original segment 0 was only late (the path reorders); when it
// arrives, the ACK covers everything, and the D-SACK that the
// retransmission draws shows that every retransmission of the episode was
// a duplicate. The window and ssthresh come back, and the path is known to
// reorder (RACK's window then decides, RFC 8985 §6.2).
func TestUndoByDSACK(t *testing.T) {
	h := withRTT(t, renoConfig(), 100*ms)
	cwnd, ssthresh := fastRetransmitOf0(t, h)
	h.send(210*ms, ack(10))
	d := ack(10)
	d.Options.NumSACK = 1
	d.Options.SACK[0] = wire.SACKBlock{Left: sq(0), Right: sq(1)}
	h.send(300*ms, d)
	st := h.tcb.Stats()
	if st.Cwnd < cwnd || st.Ssthresh != ssthresh {
		t.Fatalf("after the D-SACK: cwnd %d ssthresh %d, want %d and %d restored", st.Cwnd, st.Ssthresh, cwnd, ssthresh)
	}
	if rs := h.tcb.RecoveryStats(); rs.Spurious != 1 || rs.DSACKDups != 1 || rs.ReorderSeen == 0 {
		t.Fatalf("spurious %d, D-SACKs %d, reordering seen %d: want 1, 1, >0", rs.Spurious, rs.DSACKDups, rs.ReorderSeen)
	}
}

// RFC 3522 (Eifel detection) and RFC 4015, as Linux's
// tcp_try_undo_recovery: the ACK that ends recovery echoes the timestamp
// of the original transmission, sent before the retransmission, so the
// original arrived and the reduction is undone.
func TestUndoByTimestamps(t *testing.T) {
	h := withRTT(t, renoConfig(), 100*ms)
	cwnd, ssthresh := fastRetransmitOf0(t, h)
	full := ack(10)
	full.Options.HasTS, full.Options.TSVal, full.Options.TSEcr = true, 250, 100 // the original's TSval
	h.send(250*ms, full)
	st := h.tcb.Stats()
	if st.Cwnd < cwnd || st.Ssthresh != ssthresh || h.tcb.RecoveryStats().Spurious != 1 {
		t.Fatalf("cwnd %d ssthresh %d spurious %d, want %d and %d restored, 1 undo", st.Cwnd, st.Ssthresh,
			h.tcb.RecoveryStats().Spurious, cwnd, ssthresh)
	}
	// The same with the retransmission's echo: a real loss, kept.
	h = withRTT(t, renoConfig(), 100*ms)
	fastRetransmitOf0(t, h)
	h.send(300*ms, ack(10))
	if rs := h.tcb.RecoveryStats(); rs.Spurious != 0 || h.tcb.Stats().Cwnd >= cwnd {
		t.Fatalf("a real loss undone: spurious %d cwnd %d", rs.Spurious, h.tcb.Stats().Cwnd)
	}
}

// F-RTO (RFC 5682 §3.1, SACK-enhanced as Linux): the RTO fires because the
// path's delay jumped, not because anything was lost. The timeout resends
// segment 0; the next ACK acknowledges it and more, segments never
// retransmitted: the timeout was spurious. The window comes back and the
// rest of the flight is not resent.
func TestFRTOSpuriousTimeout(t *testing.T) {
	h := withRTT(t, renoConfig(), 100*ms)
	h.write(make([]byte, 10*smss))
	h.take()
	before := h.tcb.Stats()
	h.want(300*ms, "the loss probe (RFC 8985 §7) first", seg(fPA, sq(9), peerISS+1).length(smss))
	rto := h.tcb.rtt.rto
	h.want(300*ms+rto, "the RTO resends segment 0", seg(fA, sq(0), peerISS+1).length(smss))
	if h.tcb.RecoveryStats().CAState != 4 {
		t.Fatalf("state %s after the RTO, want loss", h.tcb.RecoveryStats().CAStateName)
	}
	late := ack(5)
	late.Options.HasTS, late.Options.TSVal, late.Options.TSEcr = true, 500, 100
	h.send(300*ms+rto+5*ms, late)
	st := h.tcb.Stats()
	if rs := h.tcb.RecoveryStats(); rs.Spurious != 1 || rs.CAState != 0 || st.Cwnd < before.Cwnd {
		t.Fatalf("after the late ACK: spurious %d, state %s, cwnd %d (before the RTO %d)", rs.Spurious, rs.CAStateName, st.Cwnd, before.Cwnd)
	}
	if got := segNames(h.take(), 10); strings.Contains(got, "R") {
		t.Fatalf("resent %s after the timeout was found spurious", got)
	}
}

// F-RTO when the loss was real (RFC 5682 step 3a): after the timeout's
// retransmission is acknowledged, new data goes first (step 2b); the
// next ACK is a duplicate with SACK, so the flight was lost: the rest is
// resent, one window at a time.
func TestFRTORealLoss(t *testing.T) {
	h := withRTT(t, renoConfig(), 100*ms)
	h.write(make([]byte, 20*smss))
	h.take()
	h.want(300*ms, "the loss probe (RFC 8985 §7) first, new data", seg(fA, sq(10), peerISS+1).length(smss))
	rto := h.tcb.rtt.rto
	at := 300*ms + rto
	h.want(at, "the RTO resends segment 0", seg(fA, sq(0), peerISS+1).length(smss))
	h.send(at+100*ms, ack(1))
	if got := segNames(h.take(), 11); got != "N11,N12" {
		t.Fatalf("F-RTO step 2b: %s, want two new segments", got)
	}
	h.send(at+200*ms, ack(1, [2]int{11, 12}))
	if got := segNames(h.take(), 10); !strings.HasPrefix(got, "R1") {
		t.Fatalf("step 3a, the loss was real: %s, want the flight resent from segment 1", got)
	}
	if rs := h.tcb.RecoveryStats(); rs.Spurious != 0 {
		t.Fatalf("a real timeout undone")
	}
}

// Pacing is a deadline beside the timers (no goroutine): CUBIC paces at
// 200% of cwnd per SRTT in slow start (Linux's internal pacing). The
// initial window goes at once (no rate before the first ACK); after its
// ACK, with a 100 ms SRTT and a window of about 20 segments, a segment
// leaves every 2.5 ms or so, and Deadline says when the next may go.
func TestPacingDeadline(t *testing.T) {
	h := withRTT(t, testConfig(), 100*ms)
	h.write(make([]byte, 40*smss))
	if n := len(h.take()); n != 10 {
		t.Fatalf("the initial window: %d segments", n)
	}
	h.send(200*ms, ack(10))
	burst := len(h.take())
	if burst < 1 || burst > 4 {
		t.Fatalf("after the ACK: %d segments at once, want a millisecond's worth", burst)
	}
	sent := burst
	for sent < 20 {
		d := h.tcb.Deadline()
		if d <= h.now || d > h.now+5*ms {
			t.Fatalf("segment %d: deadline %v at %v, want the pacer's, within 5 ms", sent, d, h.now)
		}
		h.advance(d)
		n := len(h.take())
		if n != 1 {
			t.Fatalf("at the pacer's deadline %v: %d segments, want 1", d, n)
		}
		sent += n
	}
	if h.now < 235*ms {
		t.Fatalf("twenty segments left by %v: not paced", h.now)
	}
}

// RFC 8985 §6.2: on a path that delays 1% of the packets by 5 ms (half the
// RTT), reordering, not loss, the first late segments may be resent (the
// window starts at a quarter of the min RTT, 2.5 ms); each D-SACK that
// comes back grows the window, and the undo (RFC 3708) takes back the
// window reduction. Once the window has adapted no segment is resent: the
// second half of the transfer has no retransmission at all.
func TestReorderingAdapts(t *testing.T) {
	cfg := testConfig()
	cfg.RecvBuf, cfg.SendBuf = 4<<20, 4<<20
	s := newSim(t, cfg)
	rng := rand.New(rand.NewPCG(3, 12))
	s.connect()
	s.quiet = true
	s.extra = func() time.Duration {
		if rng.Float64() < 0.01 {
			return 5 * time.Millisecond
		}
		return 0
	}
	const total = 32 << 20
	var got, written int
	var half [2]Stats
	var halfRS [2]RecoveryStats
	buf := make([]byte, 64<<10)
	for i := 0; i < 100000 && got < total; i++ {
		if written < total {
			n, _ := s.tcb[0].Write(make([]byte, min(64<<10, total-written)))
			written += n
			s.poll(0)
		}
		s.run(time.Millisecond)
		for {
			n, _ := s.tcb[1].Read(buf)
			if n == 0 {
				break
			}
			got += n
		}
		s.poll(1)
		if got >= total/2 && half[0].SegsOut == 0 {
			half[0], halfRS[0] = s.tcb[0].Stats(), s.tcb[0].RecoveryStats()
		}
	}
	half[1], halfRS[1] = s.tcb[0].Stats(), s.tcb[0].RecoveryStats()
	if got != total {
		t.Fatalf("received %d of %d bytes", got, total)
	}
	t.Logf("first half: %d retransmits, %d D-SACKs, %d undone, window ×%d; second half: %d retransmits",
		half[0].Retransmits, halfRS[0].DSACKDups, halfRS[0].Spurious, s.tcb[0].xs.rack.reoWndMult,
		half[1].Retransmits-half[0].Retransmits)
	if halfRS[1].ReorderSeen == 0 || halfRS[0].DSACKDups == 0 || halfRS[0].Spurious == 0 {
		t.Fatalf("reordering seen %d times, %d D-SACKs, %d undone", halfRS[1].ReorderSeen, halfRS[0].DSACKDups, halfRS[0].Spurious)
	}
	if d := half[1].Retransmits - half[0].Retransmits; d != 0 {
		t.Fatalf("%d segments resent in the second half, after RACK adapted", d)
	}
}
