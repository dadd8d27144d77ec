package tcp

import (
	"flag"
	"strings"
	"testing"

	"github.com/synack-go/synack/wire"
)

// checkTxQueue checks the transmit record's invariants, which splitting
// must keep: records contiguous from SND.UNA (or the SYN's end) in sequence order, the
// time-ordered list linking exactly the records flagged listed, none
// before one sent earlier, and the byte counters the sums of the
// records' marks.
func checkTxQueue(t testing.TB, tcb *TCB) {
	t.Helper()
	xs := tcb.xs
	if xs == nil {
		return
	}
	q := &xs.q
	var sacked, lost, retrans, listed uint32
	for id := q.head; id != q.end(); id++ {
		r := q.at(id)
		if id == q.head && r.seq != tcb.snd.una && r.seq != tcb.snd.una+1 { // +1: our SYN unacknowledged
			t.Fatalf("the first record starts at %d, SND.UNA is %d", r.seq, tcb.snd.una)
		}
		if id != q.head && q.at(id-1).end != r.seq {
			t.Fatalf("record %d starts at %d, the one before ends at %d", id, r.seq, q.at(id-1).end)
		}
		if !r.seq.Less(r.end) {
			t.Fatalf("record %d is [%d, %d)", id, r.seq, r.end)
		}
		switch {
		case r.flags&txSACKed != 0:
			sacked += r.len()
		case r.flags&txLost != 0:
			lost += r.len()
		}
		if r.flags&txRetransIn != 0 {
			retrans += r.len()
		}
		if r.flags&txListed != 0 {
			listed++
		}
	}
	if sacked != xs.sackedOut && tcb.sackOK || lost != xs.lostOut || retrans != xs.retransOut {
		t.Fatalf("records: %d SACKed, %d lost, %d resent in flight; counters say %d, %d, %d",
			sacked, lost, retrans, xs.sackedOut, xs.lostOut, xs.retransOut)
	}
	if listed != q.tLen {
		t.Fatalf("%d records flagged listed, the list holds %d", listed, q.tLen)
	}
	id := q.tHead
	for i := uint32(0); i < q.tLen; i++ {
		r := q.at(id)
		if id-q.head >= q.n || r.flags&txListed == 0 {
			t.Fatalf("list entry %d is record %d, not a listed record", i, id)
		}
		if i+1 < q.tLen {
			n := q.at(r.next)
			if n.prev != id || n.sentAt() < r.sentAt() {
				t.Fatalf("record %d [%d, %d) at %v is followed by %d [%d, %d) at %v", id, r.seq, r.end, r.sentAt(),
					r.next, n.seq, n.end, n.sentAt())
			}
			id = r.next
		} else if id != q.tTail {
			t.Fatalf("the list ends at %d, its tail is %d", id, q.tTail)
		}
	}
}

// tsoAll runs every tcbTest and sim of the package with SetTSO(tsoTestMax)
// and Emitters that cut TSO segments as a link would: the segments on the
// wire must be those of a TCB without TSO, so the scenario tests pass
// unchanged (go test ./tcp -tso).
var tsoAll = flag.Bool("tso", false, "run the scenario harness and the simulator with TCB-level TSO")

// TestTSO runs the loss-recovery scenarios with TCB-level TSO: the TCB
// sends its flights as TSO segments, one transmit record each, which the
// harness cuts into the same segments as the tests want without TSO. So
// the SACK holes, partial ACKs, RACK and IsLost marks, D-SACKs, undos,
// probes and timeouts of these tests fall inside TSO records, which must
// split exactly where the segments differ. Each must send TSO segments.
func TestTSO(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func(*testing.T)
	}{
		{"FastRetransmit", TestFastRetransmit},
		{"RTOWithClosedWindow", TestRTOWithClosedWindow},
		{"PRRExampleOneLoss", TestPRRExampleOneLoss},
		{"PRRExampleBurstLoss", TestPRRExampleBurstLoss},
		{"IsLostNeedsDupThresh", TestIsLostNeedsDupThresh},
		{"NoThirdSendAfterPartialACK", TestNoThirdSendAfterPartialACK},
		{"RACKExampleReordering", TestRACKExampleReordering},
		{"TLPRepairsTailLoss", TestTLPRepairsTailLoss},
		{"UndoByDSACK", TestUndoByDSACK},
		{"UndoByTimestamps", TestUndoByTimestamps},
		{"FRTOSpuriousTimeout", TestFRTOSpuriousTimeout},
		{"FRTORealLoss", TestFRTORealLoss},
		{"PacingDeadline", TestPacingDeadline},
		{"ReorderingAdapts", TestReorderingAdapts},
		{"LossProbeLostACKs", TestLossProbeLostACKs},
		{"LossProbeLostTail", TestLossProbeLostTail},
		{"NoLossProbeWithoutSACK", TestNoLossProbeWithoutSACK},
		{"BidirectionalLoss", TestBidirectionalLoss},
		{"DupAckNeedsNewSACK", TestDupAckNeedsNewSACK},
		{"LowerMTU", TestLowerMTU},
		{"LowerMTUUnderLoss", TestLowerMTUUnderLoss},
		{"BulkWithLoss", TestBulkWithLoss},
	} {
		t.Run(tc.name, tc.f)
	}
}

// tsoOn reports whether t runs with TSO: under TestTSO, or with -tso.
func tsoOn(t testing.TB) bool { return *tsoAll || strings.HasPrefix(t.Name(), "TestTSO/") }

// tsoUsed fails a test under TestTSO whose TCBs sent no TSO segment: it
// would check nothing of TSO.
func tsoUsed(t testing.TB, segs int) {
	if !*tsoAll && !t.Failed() && segs == 0 {
		t.Errorf("no TSO segment was sent: the scenario does not exercise TSO")
	}
}

// tsoTestMax is the TSO segment the tests allow: Linux's 64 KiB.
const tsoTestMax = 65536 - 40 - 60

// cutTSO cuts seg into segments of size payload bytes as a link's TSO
// does (Linux's tcp_gso_segment): each with seg's header and its own
// sequence number, PSH and FIN on the last only.
func cutTSO(seg *wire.TCPSegment, size int, emit func(*wire.TCPSegment)) {
	s := *seg
	p, flags := seg.Payload, seg.Flags
	for len(p) > 0 {
		k := min(size, len(p))
		s.Payload, s.Flags = p[:k], flags
		if k < len(p) {
			s.Flags &^= wire.PSH | wire.FIN
		}
		emit(&s)
		s.Seq = s.Seq.Add(uint32(k))
		p = p[k:]
	}
}

// EmitTSO implements TSOEmitter for the harness: the segments as the link
// would send them.
func (h *tcbTest) EmitTSO(seg *wire.TCPSegment, size int) {
	h.tsoSegs++
	cutTSO(seg, size, h.Emit)
}

// EmitTSO implements TSOEmitter for the simulator.
func (s *sim) EmitTSO(seg *wire.TCPSegment, size int) {
	s.tsoSegs++
	cutTSO(seg, size, s.Emit)
}
