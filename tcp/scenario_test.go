package tcp

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/synack-go/synack/wire"
)

func testConfig() *Config { return &Config{MSS: 1460, NoDelay: true} }

// The course's three-way handshake: SYN, SYN-ACK, ACK, each side's state.
func TestHandshake(t *testing.T) {
	s := newSim(t, testConfig())
	s.connect()
	s.wantStates(StateEstablished, StateEstablished)
	a, b := s.sent[0], s.sent[1]
	if len(a) != 2 || len(b) != 1 {
		t.Fatalf("want SYN, ACK from A and SYN-ACK from B:\n%s", strings.Join(s.log, "\n"))
	}
	if a[0].Flags != wire.SYN || a[0].Seq != 5000 {
		t.Errorf("first segment %v seq %d, want SYN seq 5000", a[0].Flags, a[0].Seq)
	}
	if b[0].Flags != wire.SYN|wire.ACK || b[0].Seq != 1_000_000 || b[0].Ack != 5001 {
		t.Errorf("second segment %v seq %d ack %d, want SYN-ACK seq 1000000 ack 5001", b[0].Flags, b[0].Seq, b[0].Ack)
	}
	if a[1].Flags != wire.ACK || a[1].Seq != 5001 || a[1].Ack != 1_000_001 {
		t.Errorf("third segment %v seq %d ack %d, want ACK seq 5001 ack 1000001", a[1].Flags, a[1].Seq, a[1].Ack)
	}
	if !a[0].Options.SACKPermitted || !a[0].Options.HasTS || !a[0].Options.HasWScale || a[0].Options.MSS != 1460 {
		t.Errorf("SYN options %+v: want MSS, SACK-permitted, timestamps, window scale", a[0].Options)
	}
	wantTrans(t, s.obs[0], transition{StateClosed, StateSynSent}, transition{StateSynSent, StateEstablished})
	wantTrans(t, s.obs[1], transition{StateClosed, StateListen}, transition{StateListen, StateSynReceived},
		transition{StateSynReceived, StateEstablished})
}

func wantTrans(t *testing.T, o *observer, want ...transition) {
	t.Helper()
	if len(o.trans) < len(want) {
		t.Fatalf("%s transitions %v, want prefix %v", o.name, o.trans, want)
	}
	for i, w := range want {
		if o.trans[i] != w {
			t.Fatalf("%s transitions %v, want prefix %v", o.name, o.trans, want)
		}
	}
}

// Data with PSH on the last segment of a write; the receiver gets exactly
// the bytes written.
func TestDataWithPSH(t *testing.T) {
	s := newSim(t, testConfig())
	s.connect()
	msg := bytes.Repeat([]byte("synack "), 500) // 3500 bytes: 3 segments
	if n := s.write(0, msg); n != len(msg) {
		t.Fatalf("wrote %d", n)
	}
	s.run(time.Second)
	if got := s.readAll(1); !bytes.Equal(got, msg) {
		t.Fatalf("received %d bytes, want %d", len(got), len(msg))
	}
	var psh, segs int
	for _, p := range s.log {
		if strings.HasPrefix(p, "") && strings.Contains(p, "A> [") && strings.Contains(p, "len 0") == false {
			segs++
			if strings.Contains(p, "P") {
				psh++
			}
		}
	}
	if segs != 3 || psh != 1 {
		t.Fatalf("%d data segments with %d PSH, want 3 and 1:\n%s", segs, psh, strings.Join(s.log, "\n"))
	}
}

// The four-way close: each FIN takes one sequence number; the active closer
// passes FIN_WAIT1, FIN_WAIT2 and TIME_WAIT, the passive one CLOSE_WAIT and
// LAST_ACK.
func TestFourWayClose(t *testing.T) {
	s := newSim(t, testConfig())
	s.connect()
	s.tcb[0].Close(s.now)
	s.poll(0)
	s.run(100 * time.Millisecond)
	s.wantStates(StateFinWait2, StateCloseWait)
	if _, err := s.tcb[1].Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read after FIN: %v, want io.EOF", err)
	}
	s.tcb[1].Close(s.now)
	s.poll(1)
	s.run(100 * time.Millisecond)
	s.wantStates(StateTimeWait, StateClosed)
	fins := 0
	for i, seg := range s.sent[0] {
		if seg.Flags&wire.FIN != 0 {
			fins++
			if seg.Seq != 5001 {
				t.Errorf("A's FIN seq %d, want 5001", seg.Seq)
			}
			_ = i
		}
	}
	finB := findFlag(s.sent[1], wire.FIN)
	lastA := s.sent[0][len(s.sent[0])-1]
	if lastA.Ack != finB.Seq+1 {
		t.Errorf("A acked B's FIN with %d, want %d: the FIN takes one sequence number", lastA.Ack, finB.Seq+1)
	}
	if ackB := s.sent[1][len(s.sent[1])-1]; ackB.Ack != 5002 && finB.Ack != 5002 {
		t.Errorf("B acked A's FIN with %d, want 5002", finB.Ack)
	}
	s.run(59 * time.Second)
	s.wantStates(StateTimeWait, StateClosed)
	s.run(2 * time.Second)
	s.wantStates(StateClosed, StateClosed)
	if fins != 1 {
		t.Errorf("A sent %d FINs", fins)
	}
	wantTrans(t, s.obs[0], transition{StateClosed, StateSynSent}, transition{StateSynSent, StateEstablished},
		transition{StateEstablished, StateFinWait1}, transition{StateFinWait1, StateFinWait2},
		transition{StateFinWait2, StateTimeWait}, transition{StateTimeWait, StateClosed})
}

func findFlag(segs []wire.TCPSegment, f wire.TCPFlags) wire.TCPSegment {
	for _, s := range segs {
		if s.Flags&f != 0 {
			return s
		}
	}
	return wire.TCPSegment{}
}

// Half-close: A shuts down its sending side; B reads EOF and still sends,
// and A still reads.
func TestHalfClose(t *testing.T) {
	s := newSim(t, testConfig())
	s.connect()
	s.write(0, []byte("request"))
	s.tcb[0].Shutdown(s.now)
	s.poll(0)
	s.run(time.Second)
	if got := s.readAll(1); string(got) != "request" {
		t.Fatalf("B read %q", got)
	}
	if _, err := s.tcb[1].Read(make([]byte, 8)); err != io.EOF {
		t.Fatalf("B read after FIN: %v", err)
	}
	s.wantStates(StateFinWait2, StateCloseWait)
	s.write(1, []byte("response"))
	s.run(time.Second)
	if got := s.readAll(0); string(got) != "response" {
		t.Fatalf("A read %q", got)
	}
	if _, err := s.tcb[0].Write([]byte("x")); !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("write after shutdown: %v, want EPIPE", err)
	}
	s.tcb[1].Close(s.now)
	s.poll(1)
	s.run(time.Second)
	s.wantStates(StateTimeWait, StateClosed)
	if _, err := s.tcb[0].Read(make([]byte, 8)); err != io.EOF {
		t.Fatalf("A read after FIN: %v", err)
	}
}

// Simultaneous open: both sides send SYN, both pass SYN_RECEIVED.
func TestSimultaneousOpen(t *testing.T) {
	s := newSim(t, testConfig())
	s.tcb[1].lport, s.tcb[1].rport = 80, 40000
	s.tcb[0].Connect(100, 0)
	s.tcb[1].Connect(900, 0)
	s.poll(0)
	s.poll(1)
	s.run(time.Second)
	s.wantStates(StateEstablished, StateEstablished)
	for i := range 2 {
		wantTrans(t, s.obs[i], transition{StateClosed, StateSynSent}, transition{StateSynSent, StateSynReceived},
			transition{StateSynReceived, StateEstablished})
	}
	s.write(0, []byte("hello"))
	s.run(time.Second)
	if got := s.readAll(1); string(got) != "hello" {
		t.Fatalf("read %q", got)
	}
}

// Simultaneous close: both FINs cross; both pass CLOSING into TIME_WAIT.
func TestSimultaneousClose(t *testing.T) {
	s := newSim(t, testConfig())
	s.connect()
	s.tcb[0].Close(s.now)
	s.tcb[1].Close(s.now)
	s.poll(0)
	s.poll(1)
	s.run(time.Second)
	s.wantStates(StateTimeWait, StateTimeWait)
	for i := range 2 {
		tr := s.obs[i].trans
		want := []transition{{StateEstablished, StateFinWait1}, {StateFinWait1, StateClosing}, {StateClosing, StateTimeWait}}
		if !containsSeq(tr, want) {
			t.Fatalf("%s transitions %v, want %v", s.obs[i].name, tr, want)
		}
	}
	s.run(61 * time.Second)
	s.wantStates(StateClosed, StateClosed)
}

func containsSeq(tr, want []transition) bool {
	for i := 0; i+len(want) <= len(tr); i++ {
		ok := true
		for j := range want {
			if tr[i+j] != want[j] {
				ok = false
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// RST abort: Abort sends a RST; the peer's next read fails with ECONNRESET.
func TestRSTAbort(t *testing.T) {
	s := newSim(t, testConfig())
	s.connect()
	s.write(1, []byte("unread"))
	s.run(time.Second)
	s.tcb[0].Close(s.now) // unread data: Close becomes an abort
	s.poll(0)
	s.run(time.Second)
	s.wantStates(StateClosed, StateClosed)
	rst := findFlag(s.sent[0], wire.RST)
	if rst.Flags&wire.RST == 0 || rst.Seq != 5001 {
		t.Fatalf("no RST at SND.NXT:\n%s", strings.Join(s.log, "\n"))
	}
	if _, err := s.tcb[1].Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("peer read: %v, want ECONNRESET", err)
	}
	if _, err := s.tcb[1].Write([]byte("x")); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("peer write: %v, want ECONNRESET", err)
	}
}

// RST in reply to a SYN for a closed port: RFC 9293 §3.10.7.1.
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
	// And the active side: the RST refuses the connection.
	c := New(testConfig(), 40000, 81)
	c.Connect(777, 0)
	var out collector
	c.Poll(0, &out)
	c.Input(&wire.TCPSegment{SrcPort: 81, DstPort: 40000, Ack: 778, Flags: wire.RST | wire.ACK}, time.Millisecond)
	if c.State() != StateClosed || !errors.Is(c.Err(), syscall.ECONNREFUSED) {
		t.Fatalf("state %v err %v, want CLOSED ECONNREFUSED", c.State(), c.Err())
	}
}

type collector struct{ segs []wire.TCPSegment }

func (c *collector) Emit(seg *wire.TCPSegment) {
	cp := *seg
	cp.Payload = append([]byte(nil), seg.Payload...)
	c.segs = append(c.segs, cp)
}

// A lost SYN is retransmitted after the initial RTO of 1 s (RFC 6298 §2.1),
// then with backoff.
func TestLostSYN(t *testing.T) {
	s := newSim(t, testConfig())
	lost := 0
	s.drop = func(from int, seg *wire.TCPSegment) bool {
		if seg.Flags == wire.SYN && lost < 2 {
			lost++
			return true
		}
		return false
	}
	s.tcb[1].Listen(1)
	s.tcb[0].Connect(1, 0)
	s.poll(0)
	s.run(999 * time.Millisecond)
	s.wantStates(StateSynSent, StateListen)
	s.run(2 * time.Millisecond)
	if len(s.sent[0]) != 2 {
		t.Fatalf("SYN not retransmitted at 1 s:\n%s", strings.Join(s.log, "\n"))
	}
	s.run(2 * time.Second) // second retransmission at 1 s + 2 s
	s.run(time.Second)
	s.wantStates(StateEstablished, StateEstablished)
}

// Connect gives up with ETIMEDOUT after SynRetries retransmissions.
func TestSYNTimeout(t *testing.T) {
	cfg := testConfig()
	cfg.SynRetries = 2
	s := newSim(t, cfg)
	s.drop = func(int, *wire.TCPSegment) bool { return true }
	s.tcb[0].Connect(1, 0)
	s.poll(0)
	s.run(10 * time.Second) // 1 + 2 + 4 s
	if s.tcb[0].State() != StateClosed || !errors.Is(s.tcb[0].Err(), syscall.ETIMEDOUT) {
		t.Fatalf("state %v err %v", s.tcb[0].State(), s.tcb[0].Err())
	}
	if len(s.sent[0]) != 3 {
		t.Fatalf("sent %d SYNs, want 3", len(s.sent[0]))
	}
}

// A lost data segment is repaired by fast retransmit, well before any RTO.
func TestFastRetransmit(t *testing.T) {
	s := newSim(t, testConfig())
	s.connect()
	dropped := false
	s.drop = func(from int, seg *wire.TCPSegment) bool {
		if from == 0 && len(seg.Payload) > 0 && seg.Seq == 5001+1448*2 && !dropped {
			dropped = true
			return true
		}
		return false
	}
	msg := make([]byte, 10*1448)
	for i := range msg {
		msg[i] = byte(i)
	}
	s.write(0, msg)
	s.run(100 * time.Millisecond) // far below the 200 ms RTO floor
	if got := s.readAll(1); !bytes.Equal(got, msg) {
		t.Fatalf("got %d bytes, want %d\n%s", len(got), len(msg), strings.Join(s.log, "\n"))
	}
	st := s.tcb[0].Stats()
	if st.FastRecov != 1 || st.RTOs != 0 || st.Retransmits != 1 {
		t.Fatalf("fast recoveries %d, RTOs %d, retransmits %d; want 1, 0, 1\n%s", st.FastRecov, st.RTOs, st.Retransmits, strings.Join(s.log, "\n"))
	}
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

// Zero window: the sender probes with the persist timer until the reader
// frees space, and no byte is lost.
func TestZeroWindowProbe(t *testing.T) {
	cfg := testConfig()
	cfg.RecvBuf = 8 << 10
	s := newSim(t, cfg)
	s.connect()
	msg := make([]byte, 32<<10)
	n := s.write(0, msg)
	s.run(5 * time.Second)
	probes := 0
	for i, seg := range s.sent[0] {
		// A probe is an ACK at an old sequence number (Linux's window
		// probe), after the data started.
		if i > 2 && seg.Flags == wire.ACK && seg.Seq.Less(s.tcb[0].snd.una) {
			probes++
		}
	}
	if probes < 2 {
		t.Fatalf("%d window probes in 5 s, want several:\n%s", probes, strings.Join(s.log, "\n"))
	}
	got := s.readAll(1)
	s.run(time.Second)
	for len(got) < n {
		more := s.readAll(1)
		if len(more) == 0 {
			s.run(time.Second)
			more = s.readAll(1)
			if len(more) == 0 {
				t.Fatalf("stalled at %d of %d bytes", len(got), n)
			}
		}
		got = append(got, more...)
		s.run(100 * time.Millisecond)
	}
}

// Keepalive: an idle connection is probed and ends with ETIMEDOUT when the
// peer vanishes.
func TestKeepalive(t *testing.T) {
	s := newSim(t, testConfig())
	s.connect()
	s.tcb[0].SetKeepAlive(15*time.Second, time.Second, 3, s.now)
	s.run(20 * time.Second)
	if s.tcb[0].State() != StateEstablished {
		t.Fatalf("answered keepalives ended the connection: %v", s.tcb[0].Err())
	}
	s.drop = func(int, *wire.TCPSegment) bool { return true }
	s.run(30 * time.Second)
	if !errors.Is(s.tcb[0].Err(), syscall.ETIMEDOUT) {
		t.Fatalf("err %v, want ETIMEDOUT", s.tcb[0].Err())
	}
}

// A window that closes while data is in flight and whose update is lost
// must not stall the connection: the retransmission timer probes the closed
// window instead of waiting with ever longer backoff.
func TestRTOWithClosedWindow(t *testing.T) {
	s := newSim(t, testConfig())
	s.connect()
	a := s.tcb[0]
	var out collector
	a.Write(make([]byte, 3*1448))
	a.Poll(s.now, &out)
	if len(out.segs) != 3 {
		t.Fatalf("sent %d segments", len(out.segs))
	}
	// B acknowledges the first segment with a closed window; the rest
	// stays in flight, and B's later window update is lost.
	ack := wire.TCPSegment{SrcPort: 80, DstPort: 40000, Seq: a.rcv.nxt, Ack: out.segs[1].Seq, Flags: wire.ACK, Window: 0,
		Options: wire.TCPOptions{HasTS: true, TSVal: a.ts.recent + 1, TSEcr: out.segs[0].Options.TSVal}}
	a.Input(&ack, s.now)
	out.segs = nil
	a.Poll(s.now, &out)
	deadline := a.Deadline()
	a.Poll(deadline, &out)
	probes := 0
	for _, seg := range out.segs {
		if seg.Seq == a.snd.una-1 && len(seg.Payload) == 0 {
			probes++
		}
	}
	if probes != 1 {
		t.Fatalf("RTO with a closed window sent %d probes: %v", probes, out.segs)
	}
	// The probe's answer opens the window; the data goes out.
	ack.Window = 100
	ack.Options.TSVal++
	out.segs = nil
	a.Input(&ack, deadline+time.Millisecond)
	a.Poll(deadline+time.Millisecond, &out)
	if len(out.segs) == 0 || len(out.segs[0].Payload) != 1448 || out.segs[0].Seq != a.snd.una {
		t.Fatalf("after the window opened: %v", out.segs)
	}
}
