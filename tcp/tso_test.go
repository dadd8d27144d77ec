package tcp

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

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

// records describes the transmit record in segments of smss from sq(0):
// "[2,5)L [5,9)S [9,10)", L lost, S SACKed, R resent, T a TSO segment.
func records(h *tcbTest) string {
	xs := h.tcb.xs
	var b strings.Builder
	for id := xs.q.head; id != xs.q.end(); id++ {
		r := xs.q.at(id)
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "[%d,%d)", r.seq.Sub(sq(0))/smss, r.end.Sub(sq(0))/smss)
		for _, f := range []struct {
			f txFlags
			c byte
		}{{txLost, 'L'}, {txSACKed, 'S'}, {txRetrans, 'R'}, {txTSO, 'T'}} {
			if r.flags&f.f != 0 {
				b.WriteByte(f.c)
			}
		}
	}
	return b.String()
}

func (h *tcbTest) wantRecords(why, want string) {
	h.t.Helper()
	if h.tso == 0 {
		return
	}
	if got := records(h); got != want {
		h.t.Fatalf("%v: %s: transmit record %s, want %s\n%s", h.now, why, got, want, h.report())
	}
}

// With TSO a flight is one record, which the ACKs split where they end
// inside it: a cumulative ACK (the part acknowledged is delivered, with its
// rate sample), a SACK block (its part is SACKed, the hole becomes a record
// that IsLost marks lost), a retransmission that PRR lets only part of go.
// Only the hole is resent, and the conversation is the same as without TSO.
func TestTSORecords(t *testing.T) {
	with, without := tsoRecords(t, tsoTestMax), tsoRecords(t, 0)
	if a, b := strings.Join(with.conv, "\n"), strings.Join(without.conv, "\n"); a != b {
		t.Fatalf("with TSO:\n%s\nwithout:\n%s", a, b)
	}
}

func tsoRecords(t *testing.T, tso int) *tcbTest {
	h := withRTT(t, renoConfig(), 100*ms)
	h.tso = tso
	h.write(make([]byte, 17*smss))
	if n := len(h.take()); n != 10 || h.tsoSegs != min(tso, 1) {
		t.Fatalf("the initial window: %d segments in %d TSO segments, want 10 in 1", n, h.tsoSegs)
	}
	h.wantRecords("the initial window", "[0,10)T")
	h.send(110*ms, ack(2))
	h.wantRecords("an ACK of two segments", "[2,10)T [10,14)T")
	if xs := h.tcb.xs; xs.rate.delivered != 2*smss || !xs.rack.valid || xs.rack.endSeq != sq(2) {
		t.Fatalf("after the ACK of two segments: delivered %d, RACK's segment ends at %d (valid %v)",
			xs.rate.delivered, xs.rack.endSeq, xs.rack.valid)
	}
	if n := len(h.take()); n != 4 || h.tsoSegs != 2*min(tso, 1) {
		t.Fatalf("slow start after the ACK of two: %d segments in %d TSO segments, want 4 in 1", n, h.tsoSegs-1)
	}
	h.send(111*ms, ack(2, [2]int{5, 7}))
	h.wantRecords("a SACK block inside", "[2,5)T [5,7)ST [7,10)T [10,14)T [14,16)T")
	h.take() // the two segments the SACKed ones make room for (RFC 6675 §5)
	h.send(112*ms, ack(2, [2]int{5, 9}))
	h.wantRecords("IsLost: the hole below four SACKed segments is lost; PRR lets its first segment go",
		"[2,3)LRT [3,5)LT [5,7)ST [7,9)ST [9,10)T [10,14)T [14,16)T")
	h.want(112*ms, "the fast retransmit", seg(fA, sq(2), peerISS+1).length(smss))
	h.send(113*ms, ack(2, [2]int{5, 10}))
	h.wantRecords("PRR lets one more go", "[2,3)LRT [3,4)LRT [4,5)LT [5,7)ST [7,9)ST [9,10)ST [10,14)T [14,16)T")
	h.want(113*ms, "the hole's second segment", seg(fA, sq(3), peerISS+1).length(smss))
	h.send(114*ms, ack(2, [2]int{5, 12}))
	h.send(115*ms, ack(2, [2]int{5, 14}))
	h.wantRecords("and the third, and the last of the data",
		"[2,3)LRT [3,4)LRT [4,5)LRT [5,7)ST [7,9)ST [9,10)ST [10,12)ST [12,14)ST [14,16)T [16,17)")
	h.want(115*ms, "the hole's third segment, and new data", seg(fA, sq(4), peerISS+1).length(smss),
		seg(fPA, sq(16), peerISS+1).length(smss))
	h.send(212*ms, ack(17))
	h.wantRecords("all acknowledged", "")
	if st := h.tcb.Stats(); st.Retransmits != 3 || st.RTOs != 0 || st.FastRecov != 1 {
		t.Fatalf("retransmits %d, RTOs %d, fast recoveries %d; want 3, 0, 1", st.Retransmits, st.RTOs, st.FastRecov)
	}
	h.take()
	return h
}

// SetTSO takes any int: below zero is none (a runtime that knows no MSS
// yet), above 64 KiB is 64 KiB.
func TestSetTSOBounds(t *testing.T) {
	tcb := New(testConfig(), 1, 2)
	for _, c := range []struct{ in, want int }{{-100, 0}, {0, 0}, {3000, 3000}, {1 << 20, maxTSO}} {
		if tcb.SetTSO(c.in); int(tcb.snd.tso) != c.want {
			t.Errorf("SetTSO(%d): %d, want %d", c.in, tcb.snd.tso, c.want)
		}
	}
}

// A SACK block that ends between segments of a TSO record marks only the
// segments it covers whole, as Linux's tcp_match_skb_to_sack: a peer's
// blocks never cut a record shorter than a segment, so its records stay as
// many as the segments at most, whatever blocks the peer sends.
func TestTSOSACKWholeSegments(t *testing.T) {
	h := withRTT(t, renoConfig(), 100*ms)
	h.tso = tsoTestMax
	h.write(make([]byte, 10*smss))
	h.take()
	h.wantRecords("the initial window", "[0,10)T")
	h.send(110*ms, in(fA, peerISS+1, sq(0)).sack(wire.SACKBlock{Left: sq(2) + 100, Right: sq(5) + 700}))
	h.wantRecords("a block from inside the 3rd segment to inside the 6th", "[0,3)T [3,5)ST [5,10)T")
	h.send(111*ms, in(fA, peerISS+1, sq(0)).sack(wire.SACKBlock{Left: sq(7) + 1, Right: sq(7) + 2},
		wire.SACKBlock{Left: sq(2) + 100, Right: sq(5) + 700}))
	h.wantRecords("a block inside one segment", "[0,3)T [3,5)ST [5,10)T")
	if xs := h.tcb.xs; xs.sackedOut != 2*smss {
		t.Fatalf("%d bytes SACKed, want the two segments covered whole", xs.sackedOut)
	}
	h.take()
}

// Random SACK blocks, edges anywhere, and cumulative ACKs inside TSO
// records, as a hostile or broken peer might send: the transmit record
// keeps its invariants (checkTxQueue, after every Poll), and never holds
// more records than segments were sent.
func TestTSORandomSACKs(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 3))
		h := withRTT(t, renoConfig(), 100*ms)
		h.tso = tsoTestMax
		h.write(make([]byte, 200*smss))
		una := 0
		for i := range 200 {
			at := 100*ms + time.Duration(i+1)*ms
			max := int(h.tcb.snd.max.Sub(sq(0)))
			if rng.IntN(8) == 0 && una < max {
				una += rng.IntN(max-una) / 4
			}
			var blocks []wire.SACKBlock
			for range 1 + rng.IntN(3) {
				lo := una + rng.IntN(max-una+1)
				hi := lo + 1 + rng.IntN(4*smss)
				blocks = append(blocks, wire.SACKBlock{Left: sq(0).Add(uint32(lo)), Right: sq(0).Add(uint32(min(hi, max)))})
			}
			h.send(at, in(fA, peerISS+1, sq(0).Add(uint32(una))).sack(blocks...))
			h.take()
			xs := h.tcb.xs
			if segs := segsOf(uint32(h.tcb.snd.max.Sub(h.tcb.snd.una)), smss); xs.q.n > segs+1 {
				t.Fatalf("seed %d: %d records for %d segments in flight: %s", seed, xs.q.n, segs, records(h))
			}
		}
	}
}

// A seeded lossy, reordering, duplicating transfer (TestBulkWithLoss's)
// with TSO makes the same segments as without, with SACK and without
// (NewReno then marks the first segment of a TSO record lost, cut from
// it): the same virtual time, retransmissions and recoveries, the bytes
// intact.
func TestTSOSameTransfer(t *testing.T) {
	for _, sack := range []bool{true, false} {
		cfg := testConfig()
		cfg.DisableSACK = !sack
		for seed := uint64(1); seed <= 3; seed++ {
			var res [2]string
			for i, tso := range []int{0, tsoTestMax} {
				s := newSim(t, cfg)
				s.tso = tso
				rng := rand.New(rand.NewPCG(seed, 42))
				s.connect()
				s.quiet = true
				s.drop = func(int, *wire.TCPSegment) bool { return rng.Float64() < 0.03 }
				s.dup = func() bool { return rng.Float64() < 0.01 }
				s.extra = func() time.Duration {
					if rng.Float64() < 0.03 {
						return time.Duration(rng.IntN(5)) * time.Millisecond
					}
					return 0
				}
				msg := make([]byte, 1<<20)
				for i := range msg {
					msg[i] = byte(rng.Uint32())
				}
				got := transfer(s, msg)
				if !bytes.Equal(got, msg) {
					t.Fatalf("SACK %v, seed %d, TSO %d: received %d of %d bytes", sack, seed, tso, len(got), len(msg))
				}
				st := s.tcb[0].Stats()
				res[i] = fmt.Sprintf("%v virtual, %d segments, %d retransmitted, %d recoveries, %d RTOs",
					s.now, st.SegsOut, st.Retransmits, st.FastRecov, st.RTOs)
				if tso > 0 && s.tsoSegs == 0 {
					t.Fatalf("SACK %v, seed %d: no TSO segment", sack, seed)
				}
			}
			if res[0] != res[1] {
				t.Errorf("SACK %v, seed %d: without TSO %s; with %s", sack, seed, res[0], res[1])
			}
		}
	}
}

// transfer writes msg from the sim's TCB 0 to its TCB 1 and returns what
// TCB 1 read.
func transfer(s *sim, msg []byte) []byte {
	var got bytes.Buffer
	off := 0
	buf := make([]byte, 64<<10)
	for i := 0; i < 100000 && got.Len() < len(msg); i++ {
		if off < len(msg) {
			n, _ := s.tcb[0].Write(msg[off:])
			off += n
			s.poll(0)
		}
		s.run(10 * time.Millisecond)
		for {
			n, _ := s.tcb[1].Read(buf)
			if n == 0 {
				break
			}
			got.Write(buf[:n])
		}
		s.poll(1)
	}
	return got.Bytes()
}
