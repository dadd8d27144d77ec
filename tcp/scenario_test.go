package tcp

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/synack-go/synack/wire"
)

// testConfig is the TCBs' configuration unless a test needs another: an
// MSS of 1460 and no-delay, as the stack sets it.
func testConfig() *Config { return &Config{MSS: 1460, NoDelay: true} }

// RST in reply to a SYN for a closed port: RFC 9293 §3.10.7.1. (The
// active side, refused: TestRSTRefusesSYN.)
func TestRSTClosedPort(t *testing.T) {
	syn := wire.TCPSegment{SrcPort: 40000, DstPort: 81, Seq: 777, Flags: wire.SYN, Window: 65535}
	var rst wire.TCPSegment
	if !ReplyRST(&syn, &rst) {
		t.Fatal("no RST for a SYN to a closed port")
	}
	if rst.Flags != wire.RST|wire.ACK || rst.Seq != 0 || rst.Ack != 778 || rst.SrcPort != 81 || rst.DstPort != 40000 {
		t.Fatalf("got %s, want RST,ACK seq 0 ack 778", segString(&rst))
	}
	ack := wire.TCPSegment{SrcPort: 1, DstPort: 2, Seq: 10, Ack: 99, Flags: wire.ACK, Payload: []byte("abc")}
	if !ReplyRST(&ack, &rst) || rst.Flags != wire.RST || rst.Seq != 99 {
		t.Fatalf("got %s, want RST seq 99", segString(&rst))
	}
	r := wire.TCPSegment{Flags: wire.RST}
	if ReplyRST(&r, &rst) {
		t.Fatal("a RST must never be answered")
	}
}

// collector keeps copies of the segments a TCB emits.
type collector struct{ segs []wire.TCPSegment }

func (c *collector) Emit(seg *wire.TCPSegment) {
	cp := *seg
	cp.Payload = append([]byte(nil), seg.Payload...)
	c.segs = append(c.segs, cp)
}

// Random loss, reordering and duplication both ways: the bytes still arrive
// intact and in order.
func TestBulkWithLoss(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		s := newSim(t, testConfig())
		rng := rand.New(rand.NewPCG(seed, 42))
		s.connect()
		s.quiet = true
		s.drop = func(int, *wire.TCPSegment) bool { return rng.Float64() < 0.05 }
		s.dup = func() bool { return rng.Float64() < 0.01 }
		s.extra = func() time.Duration {
			if rng.Float64() < 0.05 {
				return time.Duration(rng.IntN(5)) * time.Millisecond
			}
			return 0
		}
		msg := make([]byte, 2<<20)
		for i := range msg {
			msg[i] = byte(rng.Uint32())
		}
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
		st := s.tcb[0].Stats()
		t.Logf("seed %d: %v virtual, %d retransmits, %d fast recoveries, %d RTOs", seed, s.now, st.Retransmits, st.FastRecov, st.RTOs)
		if !bytes.Equal(got.Bytes(), msg) {
			t.Fatalf("seed %d: received %d of %d bytes, equal prefix: %v", seed, got.Len(), len(msg), bytes.HasPrefix(msg, got.Bytes()))
		}
	}
}
