package tcp

import (
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/synack-go/synack/wire"
)

// RFC 5927 §4.1: an ICMP error counts only if the segment it quotes starts
// at or after SND.UNA and before the highest sequence number sent.
func TestAcceptsICMP(t *testing.T) {
	s := newSim(t, testConfig())
	a := s.tcb[0]
	if a.AcceptsICMP(0) {
		t.Fatal("a closed TCB accepts ICMP")
	}
	s.tcb[1].Listen(1_000_000)
	if s.tcb[1].AcceptsICMP(1_000_000) {
		t.Fatal("LISTEN accepts ICMP")
	}
	a.Connect(5000, 0)
	if a.AcceptsICMP(5000) {
		t.Fatal("SYN_SENT accepts ICMP before the SYN went out")
	}
	s.poll(0)
	for seq, want := range map[Seq]bool{4999: false, 5000: true, 5001: false} {
		if a.AcceptsICMP(seq) != want {
			t.Errorf("SYN_SENT, SYN at 5000: AcceptsICMP(%d) = %v", seq, !want)
		}
	}
	s.run(time.Second)
	s.wantStates(StateEstablished, StateEstablished)
	if a.AcceptsICMP(5001) {
		t.Fatal("nothing in flight, yet an ICMP error is accepted")
	}
	s.drop = func(from int, _ *wire.TCPSegment) bool { return from == 0 }
	s.write(0, make([]byte, 3000))
	for seq, want := range map[Seq]bool{5000: false, 5001: true, 5001 + 1448: true, 5001 + 2999: true, 5001 + 3000: false} {
		if a.AcceptsICMP(seq) != want {
			t.Errorf("3000 bytes in flight from 5001: AcceptsICMP(%d) = %v", seq, !want)
		}
	}
}

// RFC 1122 §4.2.3.9: a connect whose SYNs only get host unreachable goes on
// retrying, and when the retries run out it fails with EHOSTUNREACH instead
// of ETIMEDOUT.
func TestSoftErrorInSynSent(t *testing.T) {
	cfg := testConfig()
	cfg.SynRetries = 2
	s := newSim(t, cfg)
	a := s.tcb[0]
	s.drop = func(from int, seg *wire.TCPSegment) bool {
		if from == 0 && a.AcceptsICMP(seg.Seq) {
			a.SoftError(syscall.EHOSTUNREACH) // the router's answer, at once
		}
		return true
	}
	a.Connect(5000, 0)
	s.poll(0)
	if a.State() != StateSynSent {
		t.Fatalf("a soft error aborted the connect: %v", a.State())
	}
	s.run(10 * time.Second) // 1 + 2 + 4 s
	if len(s.sent[0]) != 3 {
		t.Fatalf("sent %d SYNs, want 3:\n%s", len(s.sent[0]), strings.Join(s.log, "\n"))
	}
	if a.State() != StateClosed || !errors.Is(a.Err(), syscall.EHOSTUNREACH) {
		t.Fatalf("state %v err %v, want CLOSED EHOSTUNREACH", a.State(), a.Err())
	}
}

// A soft error is forgotten once the handshake completes: a later timeout is
// ETIMEDOUT again.
func TestSoftErrorForgotten(t *testing.T) {
	cfg := testConfig()
	cfg.DataRetryTimeout = 2 * time.Second
	s := newSim(t, cfg)
	a := s.tcb[0]
	first := true
	s.drop = func(from int, seg *wire.TCPSegment) bool {
		if first && seg.Flags == wire.SYN {
			first = false
			a.SoftError(syscall.ENETUNREACH)
			return true
		}
		return false
	}
	s.tcb[1].Listen(1_000_000)
	a.Connect(5000, 0)
	s.poll(0)
	s.run(2 * time.Second)
	s.wantStates(StateEstablished, StateEstablished)
	s.drop = func(int, *wire.TCPSegment) bool { return true }
	s.write(0, []byte("lost"))
	s.run(time.Minute)
	if a.State() != StateClosed || !errors.Is(a.Err(), syscall.ETIMEDOUT) {
		t.Fatalf("state %v err %v, want CLOSED ETIMEDOUT", a.State(), a.Err())
	}
}

// A hard error (port unreachable) ends a connect at once, without a RST.
func TestHardErrorInSynSent(t *testing.T) {
	s := newSim(t, testConfig())
	a := s.tcb[0]
	a.Connect(5000, 0)
	s.poll(0)
	a.HardError(syscall.ECONNREFUSED)
	var out collector
	a.Poll(s.now, &out)
	if a.State() != StateClosed || !errors.Is(a.Err(), syscall.ECONNREFUSED) || len(out.segs) != 0 {
		t.Fatalf("state %v err %v sent %v, want CLOSED ECONNREFUSED and silence", a.State(), a.Err(), out.segs)
	}
}

// In SYN_RECEIVED of a passive open, a hard error drops the half-open
// connection silently; a soft one leaves it waiting for the ACK.
func TestICMPErrorInSynReceived(t *testing.T) {
	for _, hard := range []bool{false, true} {
		s := newSim(t, testConfig())
		b := s.tcb[1]
		b.Listen(1_000_000)
		s.tcb[0].Connect(5000, 0)
		s.poll(0)
		s.drop = func(from int, _ *wire.TCPSegment) bool { return from == 1 }
		s.step(time.Second) // the SYN arrives; the SYN-ACK is lost
		if b.State() != StateSynReceived || !b.AcceptsICMP(1_000_000) {
			t.Fatalf("state %v, AcceptsICMP(ISS) %v", b.State(), b.AcceptsICMP(1_000_000))
		}
		var out collector
		if hard {
			b.HardError(syscall.EACCES)
			b.Poll(s.now, &out)
			if b.State() != StateClosed || len(out.segs) != 0 {
				t.Fatalf("hard error: state %v sent %v, want CLOSED and silence", b.State(), out.segs)
			}
			continue
		}
		b.SoftError(syscall.EHOSTUNREACH)
		s.drop = nil
		s.run(2 * time.Second) // the SYN-ACK is retransmitted
		s.wantStates(StateEstablished, StateEstablished)
	}
}

// In a synchronized state every ICMP error is soft (RFC 9293 §3.9.2.2, and
// RFC 5927 §5.2 for the hard ones): the connection goes on, and the latest
// error is what a timeout reports. An ACK of new data forgets it.
func TestICMPErrorsWhenSynchronized(t *testing.T) {
	for _, acked := range []bool{false, true} {
		cfg := testConfig()
		cfg.DataRetryTimeout = 2 * time.Second
		s := newSim(t, cfg)
		s.connect()
		a := s.tcb[0]
		s.drop = func(int, *wire.TCPSegment) bool { return !acked }
		s.write(0, make([]byte, 100))
		a.HardError(syscall.ECONNREFUSED)
		a.SoftError(syscall.EHOSTUNREACH)
		if a.State() != StateEstablished || a.Err() != nil {
			t.Fatalf("an ICMP error ended an established connection: %v %v", a.State(), a.Err())
		}
		s.run(100 * time.Millisecond)
		s.drop = func(int, *wire.TCPSegment) bool { return true }
		s.write(0, make([]byte, 100))
		s.run(time.Minute)
		want := error(syscall.EHOSTUNREACH)
		if acked {
			want = syscall.ETIMEDOUT
		}
		if a.State() != StateClosed || !errors.Is(a.Err(), want) {
			t.Fatalf("acked %v: state %v err %v, want CLOSED %v", acked, a.State(), a.Err(), want)
		}
	}
}
