package tcp

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/synack-go/synack/wire"
)

// RFC 1191 §6.4 and RFC 8201 §5.4: when a router reports a smaller path MTU,
// the data in flight (which it dropped) goes again at once, in segments that
// fit, and the transfer carries on without a timeout and without counting
// the loss as congestion.
func TestLowerMTU(t *testing.T) {
	s := newSim(t, testConfig())
	s.connect()
	a := s.tcb[0]
	const pathMSS = 1240 // a 1280-byte IPv4 path
	const want = pathMSS - 12
	var tooBig []Seq
	s.drop = func(from int, seg *wire.TCPSegment) bool {
		if from == 0 && len(seg.Payload) > want {
			tooBig = append(tooBig, seg.Seq)
			return true
		}
		return false
	}
	msg := make([]byte, 256<<10)
	for i := range msg {
		msg[i] = byte(i * 7)
	}
	n := s.write(0, msg)
	before := a.Stats()
	if len(tooBig) != 10 || before.MSS != 1448 {
		t.Fatalf("%d segments too big, MSS %d; want the 10 of the initial window at 1448", len(tooBig), before.MSS)
	}
	s.run(5 * time.Millisecond) // the ICMP messages come back
	if !a.AcceptsICMP(tooBig[0]) || !a.LowerMTU(pathMSS, s.now) {
		t.Fatal("the packet-too-big was refused")
	}
	mid := a.Stats()
	if mid.MSS != want || mid.Cwnd != before.Cwnd*want/1448 || mid.Ssthresh != math.MaxUint32 {
		t.Fatalf("after LowerMTU: MSS %d cwnd %d ssthresh %d; want %d, %d, unchanged",
			mid.MSS, mid.Cwnd, mid.Ssthresh, want, before.Cwnd*want/1448)
	}
	mark := len(s.sent[0])
	s.poll(0)
	resent := s.sent[0][mark:]
	if len(resent) != 10 || resent[0].Seq != 5001 {
		t.Fatalf("resent %d segments at once, want the window's 10 from 5001:\n%s", len(resent), strings.Join(s.log, "\n"))
	}
	for _, m := range tooBig[1:] {
		if a.LowerMTU(pathMSS, s.now) {
			t.Fatalf("the packet-too-big for %d lowered the MSS again", m)
		}
	}
	if a.LowerMTU(1400, s.now) || len(s.sent[0]) != mark+10 {
		t.Fatal("a larger MTU, or the same one again, changed something")
	}
	var got bytes.Buffer
	for off := n; got.Len() < len(msg); {
		s.run(10 * time.Millisecond)
		got.Write(s.readAll(1))
		if off < len(msg) {
			off += s.write(0, msg[off:])
		}
		if s.now > time.Minute {
			t.Fatalf("stuck at %d of %d bytes", got.Len(), len(msg))
		}
	}
	if !bytes.Equal(got.Bytes(), msg) {
		t.Fatal("wrong bytes delivered")
	}
	for _, seg := range s.sent[0][mark:] {
		if len(seg.Payload) > want {
			t.Fatalf("segment of %d bytes after LowerMTU(%d)", len(seg.Payload), pathMSS)
		}
	}
	st := a.Stats()
	if st.RTOs != 0 || st.FastRecov != 0 || st.Ssthresh != math.MaxUint32 || len(tooBig) != 10 {
		t.Fatalf("RTOs %d, fast recoveries %d, ssthresh %d, %d dropped: want 0, 0, unchanged, 10",
			st.RTOs, st.FastRecov, st.Ssthresh, len(tooBig))
	}
}

// Before the handshake there is no MSS to lower; a tiny MTU bottoms out.
func TestLowerMTULimits(t *testing.T) {
	s := newSim(t, testConfig())
	s.tcb[0].Connect(5000, 0)
	s.poll(0)
	if s.tcb[0].LowerMTU(500, 0) {
		t.Fatal("LowerMTU in SYN_SENT")
	}
	s.tcb[1].Listen(1_000_000)
	s.run(time.Second)
	if !s.tcb[0].LowerMTU(10, s.now) || s.tcb[0].Stats().MSS != minPathMSS {
		t.Fatalf("MSS %d after LowerMTU(10), want %d", s.tcb[0].Stats().MSS, minPathMSS)
	}
	msg := bytes.Repeat([]byte("tiny"), 1000)
	s.write(0, msg)
	s.run(time.Second)
	if got := s.readAll(1); !bytes.Equal(got, msg) {
		t.Fatalf("got %d bytes, want %d", len(got), len(msg))
	}
}

// Under random loss, with the MTU lowered at a random moment (maybe in the
// middle of a recovery), no later segment is too big and the bytes arrive
// intact.
func TestLowerMTUUnderLoss(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		s := newSim(t, testConfig())
		rng := rand.New(rand.NewPCG(seed, 1191))
		s.connect()
		a := s.tcb[0]
		limit := uint32(math.MaxUint32)
		s.drop = func(from int, seg *wire.TCPSegment) bool {
			return uint32(len(seg.Payload)) > limit || rng.Float64() < 0.03
		}
		msg := make([]byte, 1<<20)
		for i := range msg {
			msg[i] = byte(rng.Uint32())
		}
		var got bytes.Buffer
		off, mark, lowerAt := 0, -1, 20+rng.IntN(50)
		pathMSS := uint32(536 + rng.IntN(800))
		for i := 0; i < 20000 && got.Len() < len(msg); i++ {
			if i == lowerAt {
				limit = pathMSS - 12
				if !a.LowerMTU(pathMSS, s.now) {
					t.Fatalf("seed %d: LowerMTU(%d) refused", seed, pathMSS)
				}
				mark = len(s.sent[0])
				s.poll(0)
			}
			if off < len(msg) {
				off += s.write(0, msg[off:])
			}
			s.run(5 * time.Millisecond)
			got.Write(s.readAll(1))
		}
		if !bytes.Equal(got.Bytes(), msg) {
			t.Fatalf("seed %d: received %d of %d bytes, equal prefix: %v", seed, got.Len(), len(msg), bytes.HasPrefix(msg, got.Bytes()))
		}
		if mark < 0 {
			t.Fatalf("seed %d: done before the MTU changed", seed)
		}
		for _, seg := range s.sent[0][mark:] {
			if uint32(len(seg.Payload)) > limit {
				t.Fatalf("seed %d: a %d-byte segment after LowerMTU(%d)", seed, len(seg.Payload), pathMSS)
			}
		}
	}
}

// FuzzTCBICMP applies ICMP errors and MTU drops, mixed with ACKs, writes and
// time, to a TCB in every state. Properties: no panic, the invariants of
// FuzzTCBInput hold, and no segment carries more than the send MSS.
func FuzzTCBICMP(f *testing.F) {
	f.Add([]byte{3, 2, 4, 0xd8, 1, 0, 0, 0, 0, 3, 0, 0, 10})
	f.Add([]byte{1, 1, 0, 0, 0, 0, 0, 0, 200})
	f.Add([]byte{2, 0, 0, 0, 0, 2, 2, 0x18, 0})
	pool := NewBufferPool()
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 1 {
			return
		}
		p := newFuzzPeer(t, fuzzConfig(pool), data[0])
		tcb := p.tcb
		data = data[1:]
		var out collector
		now := p.now
		for ; len(data) >= 4; data = data[4:] {
			val := uint32(data[1])<<8 | uint32(data[2])
			switch data[0] % 5 {
			case 0:
				tcb.SoftError(errFuzz)
			case 1:
				tcb.HardError(errFuzz)
			case 2:
				tcb.LowerMTU(val, now)
			case 3:
				tcb.Input(&wire.TCPSegment{SrcPort: tcb.rport, DstPort: tcb.lport, Seq: tcb.rcv.nxt,
					Ack: tcb.snd.una.Add(val), Flags: wire.ACK, Window: 0xffff}, now)
			case 4:
				tcb.Write(make([]byte, val))
			}
			now += time.Duration(data[3]) * time.Millisecond
			mark := len(out.segs)
			tcb.Poll(now, &out)
			for _, seg := range out.segs[mark:] {
				if len(seg.Payload) > int(tcb.snd.mss) {
					t.Fatalf("%v: a %d-byte segment with MSS %d", tcb.state, len(seg.Payload), tcb.snd.mss)
				}
			}
			checkInvariants(t, tcb)
		}
		tcb.Poll(now+3*time.Minute, &out)
		checkInvariants(t, tcb)
	})
}

var errFuzz = errors.New("fuzzed ICMP error")
