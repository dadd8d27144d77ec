package tcp

import (
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/synack-go/synack/wire"
)

// One data byte injected into B in A's name makes B's RCV.NXT run ahead of
// A's SND.NXT: B's ACK acknowledges data A never sent, A's answer is out of
// B's window, and each used to answer the other at once, forever (an ACK
// storm). With every reply to an unacceptable segment rate-limited
// (RFC 5961 §7, Linux's tcp_invalid_ratelimit), the exchange dies out.
func TestInjectedByteNoAckStorm(t *testing.T) {
	s := newSim(t, testConfig())
	s.connect()
	a, b := s.tcb[0], s.tcb[1]
	b.Input(&wire.TCPSegment{SrcPort: a.lport, DstPort: a.rport, Seq: a.snd.nxt, Ack: a.rcv.nxt,
		Flags: wire.ACK | wire.PSH, Window: 1000, Payload: []byte("x")}, s.now)
	s.poll(1)
	before := len(s.sent[0]) + len(s.sent[1])
	s.run(2 * time.Second)
	if n := len(s.sent[0]) + len(s.sent[1]) - before; n > 6 {
		t.Fatalf("%d segments in 2 s after one injected byte, want a handful", n)
	}
	if a.State() != StateEstablished || b.State() != StateEstablished {
		t.Fatalf("states %v/%v", a.State(), b.State())
	}
	if a.Stats().RepliesLimited+b.Stats().RepliesLimited == 0 {
		t.Fatal("no reply was rate-limited: the loop ended by itself?")
	}
}

// A spray of out-of-window segments draws at most one reply per 500 ms from
// a connection, and no more than the stack-wide budget from many.
func TestUnacceptableRepliesRateLimited(t *testing.T) {
	lim := NewReplyLimiter(100, [16]byte{1})
	cfg := testConfig()
	cfg.ReplyLimiter = lim
	const conns = 300
	var out collector
	tcbs := make([]*TCB, conns)
	for i := range tcbs {
		s := newSim(t, cfg)
		s.connect()
		tcbs[i] = s.tcb[1]
	}
	start := 10 * time.Second
	for ms := range 1000 { // one second, a segment per connection per ms
		now := start + time.Duration(ms)*time.Millisecond
		for _, b := range tcbs {
			for _, flags := range []wire.TCPFlags{wire.ACK, wire.SYN} {
				b.Input(&wire.TCPSegment{SrcPort: 40000, DstPort: 80, Seq: b.rcv.nxt + 1<<30, Ack: b.snd.nxt,
					Flags: flags, Window: 100}, now)
				b.Poll(now, &out)
			}
		}
	}
	if n := len(out.segs); n < 50 || n > 150 {
		t.Fatalf("%d replies to %d unacceptable segments in one second, want about 100 (the stack budget)", n, conns*2000)
	}
	if lim.Limited() != uint64(conns*2000-len(out.segs)) {
		t.Fatalf("limiter counted %d suppressed, want %d", lim.Limited(), conns*2000-len(out.segs))
	}
	// One connection alone: two replies a second.
	out.segs = nil
	b := tcbs[0]
	start += 5 * time.Second
	for ms := range 1000 {
		now := start + time.Duration(ms)*time.Millisecond
		b.Input(&wire.TCPSegment{SrcPort: 40000, DstPort: 80, Seq: b.rcv.nxt - 1<<20, Ack: b.snd.nxt, Flags: wire.ACK, Window: 100}, now)
		b.Poll(now, &out)
	}
	if len(out.segs) != 2 {
		t.Fatalf("one connection answered %d out-of-window ACKs in a second, want 2", len(out.segs))
	}
}

// On a SACK connection a duplicate ACK counts only if it SACKs bytes not
// SACKed before (RFC 6675 §2, "DupAck"): the peer's answers to segments an
// attacker sprays in our name carry no news and start no fast retransmit.
// ACKs that do SACK new data still do.
func TestDupAckNeedsNewSACK(t *testing.T) {
	s := newSim(t, testConfig())
	s.connect()
	a := s.tcb[0]
	s.write(0, make([]byte, 10*1448))
	s.flight = nil // the data is in flight, nothing arrives
	una := a.snd.una
	dup := func(sack ...wire.SACKBlock) {
		seg := wire.TCPSegment{SrcPort: 80, DstPort: 40000, Seq: a.rcv.nxt, Ack: una, Flags: wire.ACK,
			Window: uint16(a.snd.wnd >> a.snd.shift), Options: wire.TCPOptions{HasTS: true, TSVal: a.ts.recent}}
		seg.Options.NumSACK = copy(seg.Options.SACK[:], sack)
		a.Input(&seg, s.now)
		s.poll(0)
	}
	for range 50 {
		dup()
	}
	if a.Stats().FastRecov != 0 || a.Stats().Retransmits != 0 || a.Stats().DupAcksIn != 0 {
		t.Fatalf("50 ACKs without SACK news: %d fast recoveries, %d retransmits, %d dup ACKs counted",
			a.Stats().FastRecov, a.Stats().Retransmits, a.Stats().DupAcksIn)
	}
	blk := wire.SACKBlock{Left: una + 1448, Right: una + 2*1448}
	for range 20 {
		dup(blk) // the same block again and again is news once
	}
	if a.Stats().DupAcksIn != 1 || a.Stats().FastRecov != 0 {
		t.Fatalf("one SACK block repeated: %d dup ACKs counted, %d recoveries", a.Stats().DupAcksIn, a.Stats().FastRecov)
	}
	dup(wire.SACKBlock{Left: una + 1448, Right: una + 3*1448})
	dup(wire.SACKBlock{Left: una + 1448, Right: una + 4*1448})
	if a.Stats().DupAcksIn != 3 || a.Stats().FastRecov != 1 || a.Stats().Retransmits == 0 {
		t.Fatalf("three ACKs with news: %d dup ACKs, %d recoveries, %d retransmits, want 3, 1, >0",
			a.Stats().DupAcksIn, a.Stats().FastRecov, a.Stats().Retransmits)
	}
}

// The send MSS lies between Linux's floor of 48 bytes of payload and our
// own MSS (what the link carries), whatever the peer's SYN says; an MSS of
// 1 to 11 with timestamps used to underflow to about 4 GiB.
func TestSendMSSClamped(t *testing.T) {
	for _, tc := range []struct {
		peer uint16
		ts   bool
		want uint32
	}{
		{1, true, 48}, {11, true, 48}, {12, true, 48}, {60, true, 48}, {61, true, 49}, {1, false, 48},
		{536, true, 524}, {9000, true, 1448}, {9000, false, 1460}, {0, false, 536},
	} {
		b := New(testConfig(), 80, 40000)
		b.Listen(1)
		b.Input(&wire.TCPSegment{SrcPort: 40000, DstPort: 80, Seq: 7, Flags: wire.SYN, Window: 1000,
			Options: wire.TCPOptions{MSS: tc.peer, HasTS: tc.ts, TSVal: 1}}, 0)
		if b.snd.mss != tc.want {
			t.Errorf("peer MSS %d (timestamps %v): send MSS %d, want %d", tc.peer, tc.ts, b.snd.mss, tc.want)
		}
	}
}

// A receiver may drop data it has SACKed (RFC 2018 §8). This one loses the
// first segment, SACKs the next two (too little for a fast retransmit),
// takes the first segment's retransmission after the timeout, then
// reneges: it acknowledges only that segment and from then on keeps only
// in-order data. The sender must forget the scoreboard at the timeout
// (RFC 6675 §5.1) and resend what it had skipped; it used to skip it at
// every timeout, and a 64 KiB transfer died having delivered one segment.
// With four segments SACKed, the first is resent by fast retransmit, and
// the ACK that stops at the SACKed range is what tells the sender.
func TestSACKRenegingReceiver(t *testing.T) {
	for _, sacked := range []uint32{2, 4} {
		renegingReceiver(t, sacked)
	}
}

func renegingReceiver(t *testing.T, nSACKed uint32) {
	s := newSim(t, testConfig())
	s.connect()
	a := s.tcb[0]
	const total = 64 << 10
	s.flight = nil
	var out collector
	if n, _ := a.Write(make([]byte, total)); n != total {
		t.Fatalf("wrote %d", n)
	}
	mss := a.snd.mss
	first := a.snd.una
	rcvNxt, end := first, first.Add(total)
	held, sacked, reneged := false, false, false
	ack := func(sack bool) {
		seg := wire.TCPSegment{SrcPort: 80, DstPort: 40000, Seq: a.rcv.nxt, Ack: rcvNxt, Flags: wire.ACK, Window: 65535,
			Options: wire.TCPOptions{HasTS: true, TSVal: uint32(s.now / time.Millisecond)}}
		if sack {
			seg.Options.NumSACK = 1
			seg.Options.SACK[0] = wire.SACKBlock{Left: first.Add(mss), Right: first.Add((1 + nSACKed) * mss)}
		}
		a.Input(&seg, s.now)
	}
	deadline := s.now + 12*time.Second
	for rcvNxt != end && s.now < deadline && a.State() == StateEstablished {
		out.segs = out.segs[:0]
		a.Poll(s.now, &out)
		for _, seg := range out.segs {
			segEnd := seg.Seq.Add(uint32(len(seg.Payload)))
			switch {
			case len(seg.Payload) == 0:
			case !held:
				held = true // the first segment is lost
			case !reneged && seg.Seq == first:
				rcvNxt, reneged = segEnd, true // its retransmission: now renege
				ack(false)
			case !reneged:
				if !sacked && segEnd == first.Add((1+nSACKed)*mss) {
					sacked = true
					ack(true)
				}
			case seg.Seq.LessEq(rcvNxt) && segEnd.Greater(rcvNxt):
				rcvNxt = segEnd
				ack(false)
			default:
				ack(false)
			}
		}
		s.now = max(s.now+time.Millisecond, min(a.Deadline(), s.now+100*time.Millisecond))
	}
	if rcvNxt != end {
		t.Fatalf("%d segments SACKed: the reneging receiver got %d of %d bytes in 12 s (state %v, %d RTOs, %d recoveries)",
			nSACKed, rcvNxt.Sub(first), total, a.State(), a.Stats().RTOs, a.Stats().FastRecov)
	}
	if !sacked || nSACKed > 2 && (a.Stats().SACKReneging == 0 || a.Stats().FastRecov == 0) {
		t.Fatalf("%d segments SACKed (sent %v): %d recoveries, reneging noticed %d times",
			nSACKed, sacked, a.Stats().FastRecov, a.Stats().SACKReneging)
	}
}

// zeroWindowPair returns a sim whose B never reads, with A's 64 KiB stuck
// behind B's closed window.
func zeroWindowPair(t *testing.T, cfg *Config) *sim {
	s := newSim(t, cfg)
	s.connect()
	s.tcb[1].SetBuffers(0, 0)
	s.write(0, make([]byte, 64<<10))
	s.run(time.Second)
	if s.tcb[0].snd.wnd != 0 {
		t.Fatalf("B's window is %d, want 0", s.tcb[0].snd.wnd)
	}
	return s
}

// An orphan (closed by its user with data still queued) whose peer answers
// every zero-window probe with window 0 used to stay in FIN_WAIT_1
// forever. It is aborted after Config.OrphanRetries probes (8, Linux's
// tcp_orphan_retries), however they are answered. A connection its user
// still holds probes on while the peer answers (RFC 1122 §4.2.2.17).
func TestOrphanZeroWindowAborted(t *testing.T) {
	cfg := testConfig()
	cfg.RecvBuf = minBufSize
	s := zeroWindowPair(t, cfg)
	a := s.tcb[0]
	s.run(30 * time.Minute)
	if a.State() != StateEstablished {
		t.Fatalf("a connection its user holds, probes answered: %v after 30 min, want ESTABLISHED", a.State())
	}
	a.Close(s.now)
	s.poll(0)
	s.run(10 * time.Minute)
	if a.State() != StateClosed || a.Err() == nil {
		t.Fatalf("orphan with its probes answered by window 0: %v (err %v) after 10 min, want CLOSED", a.State(), a.Err())
	}
}

// A peer that closes its window and then falls silent: the probes go
// unanswered, and the connection fails with ETIMEDOUT when the user
// timeout (DataRetryTimeout) has passed since the peer was last heard, not
// one whole backoff later. It used to be alive 12 s after a 2 s timeout.
func TestZeroWindowSilentPeerTimesOut(t *testing.T) {
	for _, orphan := range []bool{false, true} {
		cfg := testConfig()
		cfg.RecvBuf = minBufSize
		cfg.DataRetryTimeout = 2 * time.Second
		s := zeroWindowPair(t, cfg)
		a := s.tcb[0]
		if orphan {
			a.Close(s.now)
			s.poll(0)
			s.run(time.Millisecond)
		}
		heard := a.lastHeard
		s.drop = func(from int, _ *wire.TCPSegment) bool { return from == 1 }
		for a.State() != StateClosed && s.now < heard+12*time.Second {
			s.run(10 * time.Millisecond)
		}
		if a.State() != StateClosed {
			t.Fatalf("orphan %v: %v 12 s after the peer fell silent, with a 2 s timeout", orphan, a.State())
		}
		if d := s.now - heard; d > 2*time.Second+20*time.Millisecond {
			t.Fatalf("orphan %v: timed out %v after the peer fell silent, want 2 s", orphan, d)
		}
	}
}

// The user timeout ends a connection whose data is lost on time, not at
// the next RTO: with backoff it used to overshoot by up to one whole RTO.
func TestRTOUserTimeout(t *testing.T) {
	s := newSim(t, testConfig())
	s.connect()
	a := s.tcb[0]
	a.SetUserTimeout(3 * time.Second)
	s.drop = func(from int, _ *wire.TCPSegment) bool { return from == 1 }
	s.write(0, []byte("lost"))
	start := s.now
	for a.State() != StateClosed && s.now < start+time.Minute {
		s.run(10 * time.Millisecond)
	}
	if a.State() != StateClosed || !errors.Is(a.Err(), syscall.ETIMEDOUT) {
		t.Fatalf("%v, err %v", a.State(), a.Err())
	}
	// The first RTO (about 200 ms) starts the clock; 3 s later it ends.
	if d := s.now - start; d > 3400*time.Millisecond {
		t.Fatalf("failed %v after the data was sent, want about 3.2 s", d)
	}
}

// A half-open passive connection retransmits its SYN-ACK 5 times (Linux's
// tcp_synack_retries, about 63 s), not the SYN's 6.
func TestSynAckRetries(t *testing.T) {
	b := New(testConfig(), 80, 40000)
	b.Listen(1)
	b.Input(&wire.TCPSegment{SrcPort: 40000, DstPort: 80, Seq: 7, Flags: wire.SYN, Window: 1000}, 0)
	var out collector
	now := time.Duration(0)
	for now < 10*time.Minute {
		b.Poll(now, &out)
		if b.State() == StateClosed {
			break
		}
		now = max(now+time.Millisecond, b.Deadline())
	}
	if len(out.segs) != 6 || now > 64*time.Second {
		t.Fatalf("%d SYN-ACKs, given up after %v; want 6 (5 retries) in about 63 s", len(out.segs), now)
	}
}
