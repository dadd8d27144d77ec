package tcp

import (
	"time"

	"github.com/synack-go/synack/wire"
)

// Receive-buffer autotuning, as Linux's dynamic right-sizing
// (tcp_rcv_space_adjust, tcp_rcv_rtt_measure): the window a receiver
// offers bounds the sender's flight, so a fixed buffer caps a bulk
// transfer at buffer/RTT whatever the path allows. Once per receiver RTT
// the receiver looks at how many bytes the user read in it; when that
// grew, the buffer grows to twice it and more (a sender in slow start
// doubles per round, and losses hold data behind holes), up to
// Config.MaxRecvBuf, whose size the window scale already covers. A
// reader that does not keep up makes no growth: the buffer follows what
// the application takes, not what the peer sends. It never shrinks, and
// costs nothing until bytes are held: pages come and go with the data
// (buffer.go). It stops while the stack's MemoryBudget is under pressure,
// and grows no further than the budget has room.
//
// A size the user fixed turns it off, as SO_RCVBUF does in Linux
// (SOCK_RCVBUF_LOCK): Config.RecvBuf, or SetBuffers for one connection.

// rcvInitSegs is the first measurement's "bytes read per RTT": Linux's
// TCP_INIT_CWND segments of our MSS.
const rcvInitSegs = 10

// rcvTune is the autotuning state: the receiver's RTT estimate (Linux's
// rcv_rtt_est) and the bytes read per RTT (rcvq_space).
type rcvTune struct {
	rtt      time.Duration // receiver's RTT estimate; 0: none yet
	rttAt    time.Duration // a window-based sample started then
	rttSeq   Seq           // ... and ends when RCV.NXT reaches this
	lastEcr  uint32        // the TSecr of the latest timestamp sample
	dataAt   time.Duration // when the previous segment with data arrived
	space    int64         // bytes read per RTT, the largest measured
	readAt   uint64        // Stats.BytesRead when this measurement began
	at       time.Duration // when this measurement began
	rttOn    bool          // a window-based sample is running
	measured bool          // a measurement is running
}

// recvTuned reports whether autotuning may change the receive buffer.
func (t *TCB) recvTuned() bool { return !t.rcvFixed && t.cfg.RecvBuf == 0 }

// tuneRecv runs after a segment with data was taken: it samples the
// receiver RTT and, once per RTT, resizes the buffer.
func (t *TCB) tuneRecv(seg *wire.TCPSegment, now time.Duration) {
	if !t.recvTuned() {
		return
	}
	t.sampleRcvRTT(seg, now)
	rt := &t.rcv.tune
	if !rt.measured {
		rt.measured, rt.at, rt.readAt = true, now, t.stats.BytesRead
		rt.space = rcvInitSegs * int64(t.rcv.mss)
		return
	}
	if rt.rtt == 0 || now-rt.at < rt.rtt {
		return
	}
	copied := int64(t.stats.BytesRead - rt.readAt)
	rt.at, rt.readAt = now, t.stats.BytesRead
	if copied <= rt.space {
		return
	}
	// Linux's arithmetic: room for twice what was read plus 16 segments,
	// and twice the growth on top, so a sender doubling per round (slow
	// start) is not held back by the buffer while it grows.
	win := 2*copied + 16*int64(t.rcv.mss)
	win += 2 * (win * (copied - rt.space) / rt.space)
	rt.space = copied
	t.growRecvBuf(win)
}

// growRecvBuf raises the receive buffer's limit to size, within
// MaxRecvBuf and what the memory budget has room for.
func (t *TCB) growRecvBuf(size int64) {
	mem := t.cfg.Memory
	if mem.UnderPressure() {
		return
	}
	size = min(size, int64(t.cfg.maxRecvBuf()), maxBufSize)
	if mem != nil {
		st := mem.Stats()
		size = min(size, int64(t.rcv.buf.size)+max(st.Limit-st.Used, 0))
	}
	if size > int64(t.rcv.buf.size) {
		t.rcv.buf.size = int32(size)
	}
}

// sampleRcvRTT takes a receiver RTT sample: with timestamps, from the
// echo of our TSval in a full-sized data segment (each echo once); without,
// the time RCV.NXT takes to cross the window offered when the sample began
// (an upper bound: the smallest is kept). Linux's tcp_rcv_rtt_measure_ts
// and tcp_rcv_rtt_measure, and as tcp_rcv_rtt_update a smaller sample
// replaces the estimate at once, a larger one moves it by an eighth.
// Unlike Linux, the first data after a pause longer than the estimate
// gives no timestamp sample: it echoes an ACK sent before the pause, and
// the sample would count the pause as RTT.
func (t *TCB) sampleRcvRTT(seg *wire.TCPSegment, now time.Duration) {
	rt := &t.rcv.tune
	paused := rt.rtt != 0 && now-rt.dataAt > rt.rtt
	rt.dataAt = now
	if t.ts.ok && seg.Options.HasTS {
		ecr := seg.Options.TSEcr
		if ecr == rt.lastEcr || uint32(len(seg.Payload)) < t.rcv.segMSS {
			return
		}
		rt.lastEcr = ecr
		d := t.tsNow(now) - ecr
		if d >= 1<<31 || paused {
			return // an echo from the future (not ours), or from before the pause
		}
		// The echoed TSval was first sent when its tick began: the time
		// since then bounds the RTT from above to the microsecond, where
		// Linux's whole ticks (tcp_rtt_tsopt_us) make every sub-millisecond
		// path 1 ms long and so size the buffer for 1 ms of reading.
		s := max(time.Duration(d)*time.Millisecond+now%time.Millisecond, time.Microsecond)
		if rt.rtt == 0 || s < rt.rtt {
			rt.rtt = s
		} else {
			rt.rtt += (s - rt.rtt) / 8
		}
		return
	}
	if rt.rttOn && t.rcv.nxt.Less(rt.rttSeq) {
		return
	}
	if rt.rttOn {
		s := max(now-rt.rttAt, time.Microsecond) // Linux: delta_us, at least 1
		if rt.rtt == 0 || s < rt.rtt {
			rt.rtt = s
		}
	}
	rt.rttOn, rt.rttAt, rt.rttSeq = true, now, t.rcv.nxt.Add(max(t.rcvWindow(), 1))
}
