package tcp

import (
	"errors"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/synack-go/synack/wire"
)

// RFC 9293 §3.6 half-close: after our Shutdown (FIN), we still take the
// peer's data and acknowledge it, and a Write fails with EPIPE; the peer's
// FIN then leads to TIME_WAIT.
func TestHalfClose(t *testing.T) {
	h := accepted(t, nil)
	h.write([]byte("request"))
	h.user(func(t *TCB, now time.Duration) { t.Shutdown(now) })
	h.want(1*ms, "the request, then our FIN",
		seg(fPA, tcbISS+1, peerISS+1).payload([]byte("request")),
		seg(fFA, tcbISS+8, peerISS+1))
	h.send(2*ms, in(fA, peerISS+1, tcbISS+9))
	h.wantState(StateFinWait2)
	if _, err := h.tcb.Write([]byte("x")); !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("write after Shutdown: %v, want EPIPE", err)
	}
	h.send(3*ms, in(fPA, peerISS+1, tcbISS+9).data([]byte("response")))
	h.want(3*ms, "the response, the connection's first data, acknowledged at once (quick-ACK mode)", seg(fA, tcbISS+9, peerISS+9))
	if got := h.read(); string(got) != "response" {
		t.Fatalf("read %q, want the response", got)
	}
	h.send(50*ms, in(fFA, peerISS+9, tcbISS+9))
	h.want(50*ms, "the ACK of the peer's FIN", seg(fA, tcbISS+9, peerISS+10))
	h.wantState(StateTimeWait)
	if _, err := h.tcb.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read after the peer's FIN: %v, want io.EOF", err)
	}
}

// RFC 9293 §3.6, Figure 13: simultaneous close. Our FIN crosses the peer's:
// we acknowledge its FIN (CLOSING), its ACK of ours leads to TIME_WAIT.
func TestSimultaneousClose(t *testing.T) {
	h := accepted(t, nil)
	h.user(func(t *TCB, now time.Duration) { t.Close(now) })
	h.want(1*ms, "our FIN", seg(fFA, tcbISS+1, peerISS+1))
	h.send(2*ms, in(fFA, peerISS+1, tcbISS+1)) // sent before ours arrived
	h.want(2*ms, "the ACK of the crossing FIN", seg(fA, tcbISS+2, peerISS+2))
	h.wantState(StateClosing)
	h.send(3*ms, in(fA, peerISS+2, tcbISS+2))
	h.wantState(StateTimeWait)
	h.advance(3*ms + time.Minute)
	h.wantState(StateClosed)
	h.wantIdle(time.Hour)
	h.wantTrans(transition{StateClosed, StateListen}, transition{StateListen, StateSynReceived},
		transition{StateSynReceived, StateEstablished}, transition{StateEstablished, StateFinWait1},
		transition{StateFinWait1, StateClosing}, transition{StateClosing, StateTimeWait},
		transition{StateTimeWait, StateClosed})
}

// Close with received data unread aborts (RFC 2525 §2.17, as Linux): a RST
// at SND.NXT, and the connection is gone. The peer's RST, the other way,
// makes reads and writes fail with ECONNRESET.
func TestRSTAbort(t *testing.T) {
	h := accepted(t, nil)
	h.send(2*ms, in(fPA, peerISS+1, tcbISS+1).data([]byte("unread")))
	h.want(2*ms, "the data, acknowledged at once (quick-ACK mode)", seg(fA, tcbISS+1, peerISS+7))
	h.user(func(t *TCB, now time.Duration) { t.Close(now) })
	h.want(2*ms, "a RST instead of a FIN", seg(fRA, tcbISS+1, peerISS+7))
	h.wantState(StateClosed)
	h.wantIdle(time.Hour)

	h = accepted(t, nil)
	h.send(2*ms, in(fR, peerISS+1, 0))
	h.wantState(StateClosed)
	if _, err := h.tcb.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read after the peer's RST: %v, want ECONNRESET", err)
	}
	if _, err := h.tcb.Write([]byte("x")); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("write after the peer's RST: %v, want ECONNRESET", err)
	}
	h.wantIdle(time.Hour)
}

// RFC 7323 §3.2: with timestamps negotiated, TSopt "SHOULD be sent in an
// <RST> segment", so the peer can check it against PAWS; Linux's active
// resets carry it: TSval our clock, TSecr TS.Recent. Without timestamps the
// RST carries none (issue 12, bug E).
func TestRSTCarriesTimestamp(t *testing.T) {
	h := accepted(t, nil)
	// The peer's handshake ACK at 1 ms carried TSval 2 (tcbTest.send).
	h.advance(30 * ms)
	h.user(func(t *TCB, now time.Duration) { t.Abort() })
	h.want(30*ms, "a RST with TSval our clock, TSecr TS.Recent",
		seg(fRA, tcbISS+1, peerISS+1).withTSValues(30, 2))

	h = newTCBTest(t, nil)
	h.tcb.Listen(tcbISS)
	h.send(0, in(fS, peerISS, 0).opts(wire.TCPOptions{MSS: 1460}))
	h.want(0, "the SYN-ACK", seg(fSA, tcbISS, peerISS+1))
	h.send(1*ms, in(fA, peerISS+1, tcbISS+1))
	h.advance(30 * ms)
	h.user(func(t *TCB, now time.Duration) { t.Abort() })
	h.want(30*ms, "no timestamps negotiated: none on the RST", seg(fRA, tcbISS+1, peerISS+1).withTS(false))
}

// RFC 9293 §3.8.6.1: a zero window is probed. All data acknowledged with a
// window of 0, and more written: nothing goes out but window probes (ACKs
// at SND.UNA-1, Linux's form, which the peer must answer with its window),
// the first one RTO after the zero window (200 ms: the RTT was 1 ms), then
// backed off, doubling. When the window opens, data flows at once, as much
// as it allows.
func TestZeroWindowProbe(t *testing.T) {
	h := accepted(t, nil)
	h.write(make([]byte, 1000))
	h.want(1*ms, "the first write", seg(fPA, tcbISS+1, peerISS+1).length(1000))
	h.send(3*ms, in(fA, peerISS+1, tcbISS+1001).win(0))
	h.write(make([]byte, 3000))
	at := 3 * ms
	for i, backoff := range []time.Duration{200 * ms, 400 * ms, 800 * ms, 1600 * ms, 3200 * ms, 6400 * ms} {
		h.wantIdle(at + backoff - time.Millisecond)
		at += backoff
		h.want(at, "window probe "+string(rune('1'+i)), seg(fA, tcbISS+1000, peerISS+1))
	}
	h.send(13*time.Second, in(fA, peerISS+1, tcbISS+1001).win(0)) // the answer to the last probe
	h.send(15*time.Second, in(fA, peerISS+1, tcbISS+1001).win(10))
	h.want(15*time.Second, "the window opens: 1280 bytes (10 << 7) at once",
		seg(fA, tcbISS+1001, peerISS+1).length(1280))
	h.send(15*time.Second+1*ms, in(fA, peerISS+1, tcbISS+2281).win(512))
	h.want(15*time.Second+1*ms, "the rest once the window is wide",
		seg(fA, tcbISS+2281, peerISS+1).length(1448), seg(fPA, tcbISS+3729, peerISS+1).length(272))
	h.send(15*time.Second+2*ms, in(fA, peerISS+1, tcbISS+4001))
	h.wantIdle(time.Hour)
}

// RFC 9293 §3.8.4 keepalive: after KeepAliveIdle of silence a probe goes
// out (an ACK at SND.UNA-1, as Linux), and the peer's answer restarts the
// idle time; unanswered probes repeat every interval, and after count of
// them the connection ends with ETIMEDOUT, sending nothing more.
func TestKeepalive(t *testing.T) {
	h := accepted(t, nil)
	h.user(func(t *TCB, now time.Duration) { t.SetKeepAlive(15*time.Second, time.Second, 3, now) })
	start := h.now
	h.wantIdle(start + 15*time.Second - time.Millisecond)
	h.want(start+15*time.Second, "the first keepalive probe", seg(fA, tcbISS, peerISS+1))
	h.send(start+15*time.Second+1*ms, in(fA, peerISS+1, tcbISS+1))
	h.wantIdle(start + 30*time.Second)
	at := start + 30*time.Second + 1*ms
	h.want(at, "idle again for 15 s: a probe", seg(fA, tcbISS, peerISS+1))
	for i := range 2 {
		h.want(at+time.Duration(i+1)*time.Second, "unanswered: a probe every second", seg(fA, tcbISS, peerISS+1))
	}
	h.wantState(StateEstablished)
	h.advance(at + 3*time.Second)
	if h.tcb.State() != StateClosed || !errors.Is(h.tcb.Err(), syscall.ETIMEDOUT) {
		t.Fatalf("after 3 unanswered probes: %v, %v; want CLOSED with ETIMEDOUT", h.tcb.State(), h.tcb.Err())
	}
	h.wantIdle(time.Hour)
}
