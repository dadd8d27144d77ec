package tcp

import (
	"time"

	"github.com/synack-go/synack/tcp/cc"
)

// Send-buffer autotuning, as Linux's tcp_sndbuf_expand: the send buffer
// holds what is in flight and what waits to be sent, so a fixed buffer
// caps the flight whatever the congestion window allows. Unless the user
// fixed its size (Config.SendBuf, SetBuffers: Linux's SOCK_SNDBUF_LOCK),
// it grows to four times the congestion window, up to maxAutoSendBuf
// and no further than growSendBuf's bound on the path's BDP:
// Linux sizes it to twice cwnd in buffer memory, about twice the payload
// (each segment's skb costs its truesize), so four windows of data: one
// waiting to be sent, one in flight, and what waits behind holes for
// their retransmissions (SACKed data stays in the buffer until the
// cumulative ACK passes it). It
// never shrinks; the ring behind it grows with what it holds, so the limit
// costs no memory until data is written (buffer.go).

// maxAutoSendBuf is how far autotuning grows the send buffer: Linux's
// tcp_wmem[2].
const maxAutoSendBuf = 4 << 20

// minAutoSendBufMSS is the least send MSS autotuning grows the buffer for:
// IPv4's default MSS (RFC 9293 §3.7.1).
const minAutoSendBufMSS = 536

// growSendBuf raises the send buffer's limit to four times the congestion
// window, after an ACK whose rate sample is rs, but to no more than four
// times the path's bandwidth-delay product: rs's delivery rate times the
// connection's min RTT.
//
// Linux sizes the buffer from cwnd alone. A loss-based controller grows
// cwnd into whatever queue the path has, so the buffer grew with the
// queue and the queue with the buffer: between two stacks in memory
// (min RTT tens of µs) cwnd and the buffer reached 4 MiB, all of it
// waiting in the receiver's input queue, and the bulk transfer ran ~30%
// slower for the cache misses of 4 MiB in flight against 1 MiB. Four
// BDPs still hold a flight, a window waiting, and what waits behind holes
// on any path whose queue is shorter than three BDPs; on a path whose
// queue is longer the flight stops there, and the queue with it. When
// the buffer limits the flight on a path without a queue, srtt stays near
// the min RTT and rate × min RTT near the buffer, so it still grows four
// times per round.
//
// A peer that makes our segments tiny (an MSS of 48, the floor) makes a
// transmit record (80 bytes, txqueue.go) per 48 bytes in flight: the
// buffer does not grow for segments below minAutoSendBufMSS, as Linux's
// sndbuf, counted in skb truesize, grows less for them.
func (t *TCB) growSendBuf(rs *cc.RateSample) {
	if t.sndFixed || t.cfg.SendBuf != 0 || t.cc == nil || t.snd.mss < minAutoSendBufMSS {
		return
	}
	bdp := mulDiv64(rs.DeliveryRate, uint64(t.xs.rate.minRTT), uint64(time.Second))
	held := int64(t.xs.sackedOut) + int64(t.xs.lostOut)
	want := min(4*int64(t.xs.cwnd), 4*int64(min(bdp, maxAutoSendBuf))+2*held, maxAutoSendBuf)
	if want > int64(t.snd.buf.size) {
		t.snd.buf.resize(int(want))
	}
}
