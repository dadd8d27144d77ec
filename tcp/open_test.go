package tcp

import (
	"bytes"
	"errors"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/synack-go/synack/wire"
)

// The harness's numbers: the TCB under test starts its sequence space at
// tcbISS, the peer at peerISS, and the peer's SYN carries Linux's options.
const (
	tcbISS  Seq = 1000
	peerISS Seq = 5000
)

var peerSYN = wire.TCPOptions{MSS: 1460, SACKPermitted: true, HasTS: true, TSVal: 1, HasWScale: true, WScale: 7}

// A wanted segment's shorthands.
const (
	fS  = wire.SYN
	fSA = wire.SYN | wire.ACK
	fA  = wire.ACK
	fPA = wire.PSH | wire.ACK
	fFA = wire.FIN | wire.ACK
	fR  = wire.RST
	fRA = wire.RST | wire.ACK
)

// accepted returns a harness whose listening TCB took the peer's SYN at 0
// and its ACK at 1 ms: ESTABLISHED, with nothing in flight.
func accepted(t *testing.T, cfg *Config) *tcbTest {
	t.Helper()
	h := newTCBTest(t, cfg)
	h.tcb.Listen(tcbISS)
	h.send(0, in(fS, peerISS, 0).opts(peerSYN))
	h.want(0, "the SYN-ACK", seg(fSA, tcbISS, peerISS+1))
	h.send(1*ms, in(fA, peerISS+1, tcbISS+1))
	h.wantState(StateEstablished)
	return h
}

// dialled returns a harness whose TCB connected at 0, got the peer's
// SYN-ACK at 1 ms and acknowledged it: ESTABLISHED, with nothing in flight.
func dialled(t *testing.T, cfg *Config) *tcbTest {
	t.Helper()
	h := newTCBTest(t, cfg)
	h.user(func(t *TCB, now time.Duration) { t.Connect(tcbISS, now) })
	h.want(0, "the SYN", seg(fS, tcbISS, 0))
	h.send(1*ms, in(fSA, peerISS, tcbISS+1).opts(peerSYN))
	h.want(1*ms, "the handshake's ACK", seg(fA, tcbISS+1, peerISS+1))
	h.wantState(StateEstablished)
	return h
}

// RFC 9293 §3.5, Figure 6: the three-way handshake, passive side. The
// SYN-ACK offers our options (MSS, SACK-permitted, timestamps echoing the
// peer's, window scale) and an unscaled window (RFC 7323 §2.2); the ACK
// makes the connection ESTABLISHED, after which windows are scaled.
func TestHandshakePassive(t *testing.T) {
	h := newTCBTest(t, nil)
	h.tcb.Listen(tcbISS)
	h.send(0, in(fS, peerISS, 0).opts(peerSYN))
	h.want(0, "the SYN-ACK answers the SYN with our options",
		seg(fSA, tcbISS, peerISS+1).window(65535).withMSS(1460).withSACKOK(true).withTSValues(0, 1).withWScale(7))
	h.wantState(StateSynReceived)
	h.send(1*ms, in(fA, peerISS+1, tcbISS+1))
	h.wantState(StateEstablished)
	h.wantIdle(time.Minute)
	h.wantTrans(transition{StateClosed, StateListen}, transition{StateListen, StateSynReceived},
		transition{StateSynReceived, StateEstablished})
	// Data now: the window is scaled by 7 (1 MiB of buffer: 8191 << 7).
	h.send(time.Minute+1*ms, in(fPA, peerISS+1, tcbISS+1).data([]byte("hello")))
	h.want(time.Minute+1*ms, "the connection's first data is acknowledged at once (quick-ACK mode)",
		seg(fA, tcbISS+1, peerISS+6).window(8191))

	// A SYN without options gets a SYN-ACK with our MSS alone: timestamps,
	// window scaling and SACK are used only when both ends offer them
	// (RFC 7323 §2.2 and §3.2, RFC 2018 §2).
	h = newTCBTest(t, nil)
	h.tcb.Listen(tcbISS)
	h.send(0, in(fS, peerISS, 0))
	h.want(0, "a SYN-ACK without the options the peer did not offer",
		seg(fSA, tcbISS, peerISS+1).withMSS(1460).withTS(false).withSACKOK(false).withWScale(-2))
	h.send(1*ms, in(fA, peerISS+1, tcbISS+1))
	h.wantState(StateEstablished)
}

// RFC 9293 §3.5, Figure 6: the three-way handshake, active side. The SYN
// carries our options; a SYN-ACK acknowledging it makes the connection
// ESTABLISHED and is acknowledged at once.
func TestHandshakeActive(t *testing.T) {
	h := newTCBTest(t, nil)
	h.user(func(t *TCB, now time.Duration) { t.Connect(tcbISS, now) })
	h.want(0, "the SYN with our options",
		seg(fS, tcbISS, 0).window(65535).withMSS(1460).withSACKOK(true).withTSValues(0, 0).withWScale(7))
	h.wantState(StateSynSent)
	h.send(1*ms, in(fSA, peerISS, tcbISS+1).opts(peerSYN))
	h.want(1*ms, "the handshake's ACK, its window scaled (1 MiB >> 7)", seg(fA, tcbISS+1, peerISS+1).window(8192).withTSValues(1, 1))
	h.wantState(StateEstablished)
	h.wantIdle(time.Minute)
	h.wantTrans(transition{StateClosed, StateSynSent}, transition{StateSynSent, StateEstablished})
}

// RFC 9293 §3.5, Figure 8: simultaneous open. Our SYN crosses the peer's;
// we answer its SYN with a SYN-ACK (SYN_RECEIVED), and its SYN-ACK then
// completes the handshake with nothing more to send.
func TestSimultaneousOpen(t *testing.T) {
	h := newTCBTest(t, nil)
	h.user(func(t *TCB, now time.Duration) { t.Connect(tcbISS, now) })
	h.want(0, "our SYN", seg(fS, tcbISS, 0))
	h.send(1*ms, in(fS, peerISS, 0).opts(peerSYN))
	h.want(1*ms, "a SYN-ACK for the crossing SYN, same sequence number", seg(fSA, tcbISS, peerISS+1))
	h.wantState(StateSynReceived)
	h.send(2*ms, in(fSA, peerISS, tcbISS+1).opts(peerSYN))
	h.wantState(StateEstablished)
	h.wantIdle(time.Minute)
	h.wantTrans(transition{StateClosed, StateSynSent}, transition{StateSynSent, StateSynReceived},
		transition{StateSynReceived, StateEstablished})
}

// RFC 6298 §2.1 and §5.5: a SYN nobody answers is sent again after the
// initial RTO of 1 s, then with the timer doubled each time; after
// SynRetries retransmissions and one more backed-off RTO, the connect fails
// with ETIMEDOUT and nothing more is sent.
func TestSYNRetransmissionAndTimeout(t *testing.T) {
	cfg := testConfig()
	cfg.SynRetries = 3
	h := newTCBTest(t, cfg)
	h.user(func(t *TCB, now time.Duration) { t.Connect(tcbISS, now) })
	h.want(0, "the SYN", seg(fS, tcbISS, 0))
	at := time.Duration(0)
	for i, rto := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		at += rto
		if got := h.advanceToTimer(); got != at {
			t.Fatalf("retransmission timer %d fired at %v, want %v", i+1, got, at)
		}
		h.want(at, []string{"first", "second", "third"}[i]+" retransmission, RTO "+rto.String(), seg(fS, tcbISS, 0))
	}
	h.wantIdle(at + 8*time.Second - time.Millisecond)
	h.wantState(StateSynSent)
	h.advance(at + 8*time.Second)
	if h.tcb.State() != StateClosed || !errors.Is(h.tcb.Err(), syscall.ETIMEDOUT) {
		t.Fatalf("after 3 retries: %v, %v; want CLOSED with ETIMEDOUT", h.tcb.State(), h.tcb.Err())
	}
	h.wantIdle(time.Hour)
}

// A lost SYN costs one RTO; the second SYN's SYN-ACK completes the
// handshake.
func TestLostSYN(t *testing.T) {
	h := newTCBTest(t, nil)
	h.user(func(t *TCB, now time.Duration) { t.Connect(tcbISS, now) })
	h.want(0, "the SYN, lost", seg(fS, tcbISS, 0))
	h.want(time.Second, "the SYN again after the initial RTO", seg(fS, tcbISS, 0))
	h.send(time.Second+1*ms, in(fSA, peerISS, tcbISS+1).opts(peerSYN))
	h.want(time.Second+1*ms, "the handshake's ACK", seg(fA, tcbISS+1, peerISS+1))
	h.wantState(StateEstablished)
}

// RFC 9293 §3.10.7.1... the active side: a RST acknowledging our SYN
// refuses the connection (ECONNREFUSED), and nothing answers it.
func TestRSTRefusesSYN(t *testing.T) {
	h := newTCBTest(t, nil)
	h.user(func(t *TCB, now time.Duration) { t.Connect(tcbISS, now) })
	h.want(0, "the SYN", seg(fS, tcbISS, 0))
	h.send(1*ms, in(fRA, 0, tcbISS+1))
	if h.tcb.State() != StateClosed || !errors.Is(h.tcb.Err(), syscall.ECONNREFUSED) {
		t.Fatalf("state %v err %v, want CLOSED ECONNREFUSED", h.tcb.State(), h.tcb.Err())
	}
	h.wantIdle(time.Hour)
}

// Data of one write goes in full-sized segments (1448 bytes: MSS 1460 less
// 12 of timestamps), PSH on the last only (RFC 9293 §3.9.1.2), and the
// peer's reader gets exactly those bytes.
func TestDataWithPSH(t *testing.T) {
	h := accepted(t, nil)
	msg := bytes.Repeat([]byte("synack "), 500) // 3500 bytes: 1448 + 1448 + 604
	if n := h.write(msg); n != len(msg) {
		t.Fatalf("wrote %d", n)
	}
	h.want(1*ms, "the write, in three segments, PSH on the last",
		seg(fA, tcbISS+1, peerISS+1).payload(msg[:1448]),
		seg(fA, tcbISS+1+1448, peerISS+1).payload(msg[1448:2896]),
		seg(fPA, tcbISS+1+2896, peerISS+1).payload(msg[2896:]))
	h.send(2*ms, in(fA, peerISS+1, tcbISS+3501))
	h.wantIdle(time.Minute)
	if _, sent := h.tcb.Buffered(); sent != 0 {
		t.Fatalf("%d bytes still queued after the ACK of all", sent)
	}
}

// RFC 9293 §3.6, Figure 12: the four-way close, active side. Our FIN takes
// one sequence number; the peer's ACK of it leads to FIN_WAIT2, its FIN to
// TIME_WAIT with an ACK at once, and TIME_WAIT ends after 2 MSL (60 s),
// silently.
func TestFourWayCloseActive(t *testing.T) {
	h := accepted(t, nil)
	h.user(func(t *TCB, now time.Duration) { t.Close(now) })
	h.want(1*ms, "our FIN", seg(fFA, tcbISS+1, peerISS+1))
	h.wantState(StateFinWait1)
	h.send(2*ms, in(fA, peerISS+1, tcbISS+2))
	h.wantState(StateFinWait2)
	h.send(3*ms, in(fFA, peerISS+1, tcbISS+2))
	h.want(3*ms, "the ACK of the peer's FIN, which took one sequence number", seg(fA, tcbISS+2, peerISS+2))
	h.wantState(StateTimeWait)
	h.wantIdle(3*ms + time.Minute - time.Millisecond)
	h.wantState(StateTimeWait)
	h.advance(3*ms + time.Minute)
	h.wantState(StateClosed)
	h.wantIdle(time.Hour)
	h.wantTrans(transition{StateClosed, StateListen}, transition{StateListen, StateSynReceived},
		transition{StateSynReceived, StateEstablished}, transition{StateEstablished, StateFinWait1},
		transition{StateFinWait1, StateFinWait2}, transition{StateFinWait2, StateTimeWait},
		transition{StateTimeWait, StateClosed})
}

// The four-way close, passive side (here the side that dialled): the
// peer's FIN is acknowledged at once (CLOSE_WAIT) and reads as EOF; our
// Close sends our FIN (LAST_ACK), and its ACK ends the connection.
func TestFourWayClosePassive(t *testing.T) {
	h := dialled(t, nil)
	h.send(2*ms, in(fFA, peerISS+1, tcbISS+1))
	h.want(2*ms, "the ACK of the FIN", seg(fA, tcbISS+1, peerISS+2))
	h.wantState(StateCloseWait)
	if _, err := h.tcb.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read after the FIN: %v, want io.EOF", err)
	}
	h.advance(3 * ms)
	h.user(func(t *TCB, now time.Duration) { t.Close(now) })
	h.want(3*ms, "our FIN", seg(fFA, tcbISS+1, peerISS+2))
	h.wantState(StateLastAck)
	h.send(4*ms, in(fA, peerISS+2, tcbISS+2))
	h.wantState(StateClosed)
	h.wantIdle(time.Hour)
}
