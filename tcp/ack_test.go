package tcp

import (
	"strings"
	"testing"
	"time"

	"github.com/synack-go/synack/wire"
)

// dataTo builds an in-order data segment from A's side for B.
func dataTo(b *TCB, off int, n int, flags wire.TCPFlags) *wire.TCPSegment {
	return &wire.TCPSegment{SrcPort: b.rport, DstPort: b.lport, Seq: b.rcv.nxt.Add(uint32(off)), Ack: b.snd.nxt,
		Flags: wire.ACK | flags, Window: 1000, Payload: make([]byte, n)}
}

// Delayed ACKs: one segment is acknowledged no later than 40 ms; every
// second full-sized segment is acknowledged at once (RFC 9293 §3.8.6.3).
func TestDelayedAck(t *testing.T) {
	s := newSim(t, testConfig())
	s.connect()
	b := s.tcb[1]
	var out collector
	b.Input(dataTo(b, 0, 100, wire.PSH), s.now)
	b.Poll(s.now, &out)
	if len(out.segs) != 0 {
		t.Fatalf("ACKed one small segment at once: %v", out.segs)
	}
	if d := b.Deadline() - s.now; d != 40*time.Millisecond {
		t.Fatalf("delayed ACK due in %v, want 40ms", d)
	}
	b.Poll(s.now+40*time.Millisecond, &out)
	if len(out.segs) != 1 || out.segs[0].Ack != b.rcv.nxt {
		t.Fatalf("no ACK at 40 ms: %v", out.segs)
	}
	out.segs = nil
	b.Input(dataTo(b, 0, int(b.rcv.mss)-12, 0), s.now)
	b.Poll(s.now, &out)
	b.Input(dataTo(b, 0, int(b.rcv.mss)-12, 0), s.now)
	b.Poll(s.now, &out)
	if len(out.segs) != 1 {
		t.Fatalf("two full segments gave %d ACKs, want 1 at once", len(out.segs))
	}
}

// Nagle (RFC 896): with no-delay off, small writes wait while data is in
// flight and then go out together; with no-delay on (Go's default) each goes
// at once.
func TestNagle(t *testing.T) {
	for _, noDelay := range []bool{false, true} {
		cfg := testConfig()
		cfg.NoDelay = noDelay
		s := newSim(t, cfg)
		s.connect()
		for range 5 {
			s.write(0, []byte("x"))
		}
		small := 0 // data segments sent before any ACK could return
		for _, l := range s.log {
			if strings.Contains(l, "A> [P.]") {
				small++
			}
		}
		s.run(time.Second)
		if got := s.readAll(1); string(got) != "xxxxx" {
			t.Fatalf("no-delay %v: read %q", noDelay, got)
		}
		if noDelay && small != 5 || !noDelay && small != 1 {
			t.Fatalf("no-delay %v: %d segments sent at once, want %d", noDelay, small, map[bool]int{true: 5, false: 1}[noDelay])
		}
	}
}

// RFC 6093: urgent data is delivered inline; the byte stream is unchanged.
func TestUrgentInline(t *testing.T) {
	s := newSim(t, testConfig())
	s.connect()
	b := s.tcb[1]
	seg := dataTo(b, 0, 0, wire.URG|wire.PSH)
	seg.Payload = []byte("abc!def")
	seg.Urgent = 4
	b.Input(seg, s.now)
	buf := make([]byte, 16)
	n, _ := b.Read(buf)
	if string(buf[:n]) != "abc!def" {
		t.Fatalf("read %q, want the urgent byte inline", buf[:n])
	}
	if !b.rcv.urgSeen || b.rcv.urgent != seg.Seq+4 {
		t.Fatalf("urgent pointer not noted")
	}
}

// A peer behind a smaller path MTU never sends segments of our advertised
// MSS: the receiver measures what arrives (as Linux's tcp_measure_rcv_mss),
// so every second of those segments is still acknowledged at once instead
// of each waiting for the delayed-ACK timer.
func TestDelayedAckMeasuresPeerSegments(t *testing.T) {
	s := newSim(t, testConfig())
	s.connect()
	b := s.tcb[1]
	var out collector
	const small = 1200 - 40 - 12 // a 1200-byte path MTU, with timestamps
	acks := 0
	for i := range 6 {
		b.Input(dataTo(b, 0, small, 0), s.now)
		b.Poll(s.now, &out)
		if len(out.segs) > acks {
			acks = len(out.segs)
			t.Logf("segment %d acknowledged at once", i+1)
		}
	}
	if acks < 2 {
		t.Fatalf("6 segments of %d bytes (advertised MSS %d) got %d immediate ACKs, want at least 2",
			small, b.rcv.mss, acks)
	}
	// A PSH segment of a new, smaller size (the end of a write) does not
	// lower the estimate.
	if b.rcv.segMSS != small {
		t.Fatalf("segment size estimate %d, want %d", b.rcv.segMSS, small)
	}
	b.Input(dataTo(b, 0, 300, wire.PSH), s.now)
	if b.rcv.segMSS != small {
		t.Fatalf("a short PSH segment moved the estimate to %d", b.rcv.segMSS)
	}
}
