package tcp

import (
	"testing"
	"time"

	"github.com/synack-go/synack/wire"
)

// RFC 5961 §3.2: a RST inside the window but not at RCV.NXT does not reset
// the connection; it earns a challenge ACK.
func TestRSTInWindowChallengeACK(t *testing.T) {
	s := newSim(t, testConfig())
	s.connect()
	b := s.tcb[1]
	var out collector
	b.Input(&wire.TCPSegment{SrcPort: 40000, DstPort: 80, Seq: b.rcv.nxt + 100, Flags: wire.RST}, s.now)
	b.Poll(s.now, &out)
	if b.State() != StateEstablished {
		t.Fatalf("in-window RST reset the connection: %v", b.State())
	}
	if len(out.segs) != 1 || out.segs[0].Flags != wire.ACK || out.segs[0].Ack != b.rcv.nxt {
		t.Fatalf("want one challenge ACK, got %v", out.segs)
	}
	// An exact RST resets.
	b.Input(&wire.TCPSegment{SrcPort: 40000, DstPort: 80, Seq: b.rcv.nxt, Flags: wire.RST}, s.now)
	if b.State() != StateClosed {
		t.Fatalf("exact RST: state %v", b.State())
	}
}

// RFC 5961 §4.2: a SYN in a synchronized state gets a challenge ACK, in
// the window or not, and the challenge ACKs are rate-limited (§7): one per
// 500 ms per connection, as Linux's tcp_invalid_ratelimit.
func TestSYNInEstablishedChallengeACK(t *testing.T) {
	s := newSim(t, testConfig())
	s.connect()
	b := s.tcb[1]
	var out collector
	for i := range 50 {
		off := Seq(i)
		if i%2 == 1 {
			off = 1 << 30 // far outside the window
		}
		b.Input(&wire.TCPSegment{SrcPort: 40000, DstPort: 80, Seq: b.rcv.nxt + off, Flags: wire.SYN}, s.now)
		b.Poll(s.now, &out)
	}
	if b.State() != StateEstablished {
		t.Fatalf("SYN changed state to %v", b.State())
	}
	if len(out.segs) != 1 || b.Stats().ChallengeAcks != 1 || b.Stats().RepliesLimited != 49 {
		t.Fatalf("%d challenge ACKs (%d limited) for 50 SYNs at once, want 1 (49)", len(out.segs), b.Stats().RepliesLimited)
	}
	b.Input(&wire.TCPSegment{SrcPort: 40000, DstPort: 80, Seq: b.rcv.nxt + 1<<30, Flags: wire.SYN}, s.now+invalidReplyInterval)
	b.Poll(s.now+invalidReplyInterval, &out)
	if len(out.segs) != 2 || out.segs[1].Flags != wire.ACK || out.segs[1].Ack != b.rcv.nxt {
		t.Fatalf("no challenge ACK for an out-of-window SYN 500 ms later: %v", out.segs)
	}
}

// RFC 7323 §5: a segment whose timestamp is older than TS.Recent is dropped
// and answered with an ACK.
func TestPAWS(t *testing.T) {
	s := newSim(t, testConfig())
	s.connect()
	b := s.tcb[1]
	if !b.ts.ok {
		t.Fatal("timestamps not negotiated")
	}
	var out collector
	old := wire.TCPSegment{SrcPort: 40000, DstPort: 80, Seq: b.rcv.nxt, Ack: b.snd.nxt, Flags: wire.ACK | wire.PSH,
		Window: 100, Payload: []byte("stale"), Options: wire.TCPOptions{HasTS: true, TSVal: b.ts.recent - 10}}
	b.Input(&old, s.now)
	b.Poll(s.now, &out)
	if n, _ := b.Buffered(); n != 0 {
		t.Fatal("PAWS let an old segment's data in")
	}
	if b.Stats().Drops[DropPAWS] != 1 || len(out.segs) != 1 {
		t.Fatalf("drops %v, replies %d", b.Stats().Drops, len(out.segs))
	}
}

// RFC 6191: a new SYN with a newer timestamp may reuse a 4-tuple in
// TIME_WAIT; an old one may not.
func TestTimeWaitReuse(t *testing.T) {
	s := newSim(t, testConfig())
	s.connect()
	s.tcb[0].Close(s.now)
	s.poll(0)
	s.run(time.Second)
	s.tcb[1].Close(s.now)
	s.poll(1)
	s.run(time.Second)
	a := s.tcb[0]
	if a.State() != StateTimeWait {
		t.Fatalf("state %v", a.State())
	}
	syn := wire.TCPSegment{Flags: wire.SYN, Seq: a.rcv.nxt + 1000, Options: wire.TCPOptions{HasTS: true, TSVal: a.ts.recent + 1}}
	if !a.AcceptsNewSYN(&syn) {
		t.Fatal("newer SYN refused")
	}
	syn.Options.TSVal = a.ts.recent - 1
	if a.AcceptsNewSYN(&syn) {
		t.Fatal("SYN with an older timestamp accepted")
	}
	if a.NextISS().LessEq(a.snd.max) {
		t.Fatal("NextISS does not lie above the old incarnation")
	}
}

// Out-of-order data is held, SACKed, and delivered once the hole fills;
// the queue never holds more than the window.
func TestReassemblyAndSACK(t *testing.T) {
	cfg := testConfig()
	cfg.RecvBuf = 8 << 10
	s := newSim(t, cfg)
	s.connect()
	b := s.tcb[1]
	base := b.rcv.nxt
	var out collector
	seg := func(off int, data string) *wire.TCPSegment {
		return &wire.TCPSegment{SrcPort: 40000, DstPort: 80, Seq: base.Add(uint32(off)), Ack: b.snd.nxt,
			Flags: wire.ACK, Window: 100, Payload: []byte(data)}
	}
	b.Input(seg(10, "klmnopqrst"), s.now)
	b.Poll(s.now, &out)
	last := out.segs[len(out.segs)-1]
	if last.Ack != base || last.Options.NumSACK != 1 || last.Options.SACK[0] != (wire.SACKBlock{Left: base + 10, Right: base + 20}) {
		t.Fatalf("want a duplicate ACK with SACK 10-20, got %s %+v", segString(&last), last.Options)
	}
	b.Input(seg(0, "abcdefghij"), s.now)
	b.Poll(s.now, &out)
	buf := make([]byte, 100)
	n, _ := b.Read(buf)
	if string(buf[:n]) != "abcdefghijklmnopqrst" {
		t.Fatalf("read %q", buf[:n])
	}
	// Beyond the window: trimmed, never stored.
	big := make([]byte, 20<<10)
	b.Input(&wire.TCPSegment{SrcPort: 40000, DstPort: 80, Seq: b.rcv.nxt.Add(100), Ack: b.snd.nxt, Flags: wire.ACK, Window: 100, Payload: big}, s.now)
	if b.rcv.ooo.n != 1 || b.rcv.ooo.r[0].hi.Sub(b.rcv.nxt) > int32(b.rcv.buf.size) {
		t.Fatalf("reassembly holds %v beyond a %d-byte buffer", b.rcv.ooo.r[:b.rcv.ooo.n], b.rcv.buf.size)
	}
}

// A data segment that carries SACK blocks still fits the MSS: the blocks
// take room from the payload (RFC 2018 §3), never push the packet past the
// MTU.
func TestSACKBlocksFitMSS(t *testing.T) {
	s := newSim(t, testConfig())
	s.connect()
	a := s.tcb[0]
	// Give A out-of-order data, so its segments carry SACK blocks.
	for i := 1; i <= 3; i++ {
		a.Input(&wire.TCPSegment{SrcPort: 80, DstPort: 40000, Seq: a.rcv.nxt.Add(uint32(i * 200)), Ack: a.snd.nxt,
			Flags: wire.ACK, Window: 1000, Payload: make([]byte, 100)}, s.now)
	}
	var out collector
	a.Write(make([]byte, 10000))
	a.Poll(s.now, &out)
	for _, seg := range out.segs {
		if seg.Len() > int(a.rcv.mss)+20 {
			t.Fatalf("segment of %d bytes (payload %d, %d SACK blocks) exceeds MSS %d + 20",
				seg.Len(), len(seg.Payload), seg.Options.NumSACK, a.rcv.mss)
		}
	}
}

// A data segment we hold already (a retransmission whose ACK was lost) is
// answered every time, within the stack's budget only, as Linux does
// (tcp_oow_rate_limited exempts data): its ACK ends the sender's timeouts,
// and an ACK loop is made of pure ACKs, which keep the per-connection
// limit (one reply per 500 ms). Before, a second lost ACK within 500 ms
// went unanswered and cost the sender another, backed-off, RTO.
func TestOldDataAlwaysAnswered(t *testing.T) {
	s := newSim(t, testConfig())
	s.connect()
	b := s.tcb[1]
	var out collector
	ts := wire.TCPOptions{HasTS: true, TSVal: b.ts.recent}
	for range 3 {
		old := wire.TCPSegment{SrcPort: 40000, DstPort: 80, Seq: b.rcv.nxt - 100, Ack: b.snd.nxt, Flags: wire.ACK,
			Window: 100, Payload: make([]byte, 50), Options: ts}
		b.Input(&old, s.now)
		b.Poll(s.now, &out)
	}
	if len(out.segs) != 3 {
		t.Fatalf("3 old data segments at once drew %d ACKs, want 3", len(out.segs))
	}
	for range 3 {
		bare := wire.TCPSegment{SrcPort: 40000, DstPort: 80, Seq: b.rcv.nxt + 1<<30, Ack: b.snd.nxt, Flags: wire.ACK,
			Window: 100, Options: ts}
		b.Input(&bare, s.now)
		b.Poll(s.now, &out)
	}
	if len(out.segs) != 4 || b.Stats().RepliesLimited != 2 {
		t.Fatalf("3 out-of-window bare ACKs at once drew %d ACKs (%d limited), want 1 (2)", len(out.segs)-3, b.Stats().RepliesLimited)
	}
}

// PAWS as Linux applies it (tcp_paws_check with TCP_PAWS_WINDOW,
// tcp_send_dupack): a segment one tick older than TS.Recent passes (on a
// reordering path, a segment sent before the retransmission that last set
// TS.Recent); an older one is dropped and answered, and when its data lies
// below RCV.NXT the answer reports it as a D-SACK (RFC 2883), so that the
// sender learns its retransmission was spurious.
func TestPAWSWindowAndDSACK(t *testing.T) {
	s := newSim(t, testConfig())
	s.connect()
	b := s.tcb[1]
	var out collector
	nxt := b.rcv.nxt
	late := wire.TCPSegment{SrcPort: 40000, DstPort: 80, Seq: nxt, Ack: b.snd.nxt, Flags: wire.ACK,
		Window: 100, Payload: []byte("late"), Options: wire.TCPOptions{HasTS: true, TSVal: b.ts.recent - 1}}
	b.Input(&late, s.now)
	b.Poll(s.now, &out)
	if n, _ := b.Buffered(); n != 4 || b.Stats().Drops[DropPAWS] != 0 {
		t.Fatalf("a segment one tick older than TS.Recent: %d bytes taken, drops %v; want 4, none", n, b.Stats().Drops)
	}
	old := wire.TCPSegment{SrcPort: 40000, DstPort: 80, Seq: nxt, Ack: b.snd.nxt, Flags: wire.ACK,
		Window: 100, Payload: []byte("late"), Options: wire.TCPOptions{HasTS: true, TSVal: b.ts.recent - 10}}
	out.segs = nil
	b.Input(&old, s.now)
	b.Poll(s.now, &out)
	if b.Stats().Drops[DropPAWS] != 1 || len(out.segs) != 1 {
		t.Fatalf("an old duplicate: drops %v, %d answers; want one PAWS drop, one ACK", b.Stats().Drops, len(out.segs))
	}
	o := out.segs[0].Options
	if o.NumSACK == 0 || o.SACK[0].Left != nxt || o.SACK[0].Right != nxt+4 {
		t.Fatalf("the ACK for a PAWS-dropped duplicate carries SACK %v, want the D-SACK [%d, %d)", o.SACK[:o.NumSACK], nxt, nxt+4)
	}
}

// A duplicate ACK overtaken by later segments passes PAWS when its
// timestamp lies within an RTO of TS.Recent (Linux's tcp_disordered_ack):
// on a path that reorders ACKs its SACK blocks are what loss recovery
// needs. An ACK that acknowledges new data, or one older than an RTO,
// is still dropped.
func TestPAWSDisorderedAck(t *testing.T) {
	s := newSim(t, testConfig())
	s.connect()
	b := s.tcb[1]
	var out collector
	dup := wire.TCPSegment{SrcPort: 40000, DstPort: 80, Seq: b.rcv.nxt, Ack: b.snd.una, Flags: wire.ACK,
		Window: uint16(b.snd.wnd >> b.snd.shift), Options: wire.TCPOptions{HasTS: true, TSVal: b.ts.recent - 10}}
	b.Input(&dup, s.now)
	b.Poll(s.now, &out)
	if d := b.Stats().Drops[DropPAWS]; d != 0 {
		t.Fatalf("a duplicate ACK 10 ms behind TS.Recent was dropped by PAWS (%d)", d)
	}
	stale := dup
	stale.Options.TSVal = b.ts.recent - uint32(b.rtt.rto/time.Millisecond) - 1
	b.Input(&stale, s.now)
	b.Poll(s.now, &out)
	if d := b.Stats().Drops[DropPAWS]; d != 1 {
		t.Fatalf("a duplicate ACK more than an RTO behind TS.Recent: %d PAWS drops, want 1", d)
	}
	update := dup
	update.Window++
	b.Input(&update, s.now)
	b.Poll(s.now, &out)
	if d := b.Stats().Drops[DropPAWS]; d != 2 {
		t.Fatalf("an old ACK that would open the window: %d PAWS drops, want 2", d)
	}
}
