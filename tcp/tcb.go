package tcp

import (
	"cmp"
	"io"
	"math"
	"syscall"
	"time"

	"github.com/synack-go/synack/tcp/cc"
	"github.com/synack-go/synack/wire"
)

// Seq is a sequence number; see wire.Seq for its wrap-safe comparisons.
type Seq = wire.Seq

// NoDeadline is what Deadline returns when only a segment or a user call can
// make the TCB do anything.
const NoDeadline = time.Duration(math.MaxInt64)

// Emitter receives the segments a TCB sends. seg and its payload are valid
// only until Emit returns.
type Emitter interface {
	Emit(seg *wire.TCPSegment)
}

// A SegmentLender is an Emitter that lends the TCB what it emits with:
// the TCB fills the segment Segment returns and passes it to Emit, so it
// keeps no segment of its own (about 100 bytes less per connection); and
// when a segment's payload wraps around the end of the send ring, the TCB
// gathers it into Scratch(n), n bytes valid until Emit returns, instead of
// cutting the segment short there. With another Emitter a TCB makes a
// segment on first use, and cuts at the wrap.
type SegmentLender interface {
	Emitter
	Segment() *wire.TCPSegment
	Scratch(n int) []byte
}

// Observer is told what happens inside a TCB, for tracing and counting. Its
// methods are called synchronously from Input, Poll and the user calls.
type Observer interface {
	// StateChanged reports a transition of RFC 9293 §3.3.2 and its cause.
	StateChanged(from, to State, why string)
	// TimerFired reports a timer's expiry: "retransmit", "delayed-ack",
	// "persist", "keepalive", "time-wait".
	TimerFired(name string)
	// Dropped reports a segment the TCB discarded and why.
	Dropped(reason DropReason)
	// CongestionChanged reports a new congestion window or threshold,
	// and the rule that set it.
	CongestionChanged(cwnd, ssthresh uint32, why CwndReason)
}

// TCB is the transmission control block of one connection (RFC 9293 §3.3.1):
// a sans-IO state machine fed with segments, user calls and the time. It does
// no I/O, starts no goroutine, reads no clock and takes no lock.
//
// A TCB is not safe for concurrent use.
type TCB struct {
	cfg   *Config
	obs   Observer
	err   error // the error that ended the connection, if any
	state State

	userClosed bool // Close was called: data arriving afterwards is answered with RST
	shutWr     bool // the user shut down the write side (FIN queued)
	readShut   bool // CloseRead: reads see io.EOF, arriving data is discarded
	finRcvd    bool // the peer's FIN has been consumed: reads see io.EOF
	passive    bool // opened from LISTEN (RST in SYN_RECV returns there)
	sackOK     bool // both sides sent SACK-permitted
	sndFixed   bool // the user set the send buffer's size: no autotuning (sndbuf.go)
	rcvFixed   bool // the user set the receive buffer's size: no autotuning (rcvbuf.go)
	rstAck     bool // the pending RST carries an ACK

	wasEstablished bool // the handshake completed at some point

	// What the next Poll must emit beyond data.
	ackNow   bool // an ACK is owed now
	rstNow   bool // send a RST (abort) with sndNxt
	synNow   bool // (re)send SYN or SYN-ACK
	probeNow bool // send a zero-window or keepalive probe
	tlpNow   bool // send a tail loss probe (tlp.go)

	lport  uint16
	rport  uint16
	rstSeq Seq // the pending RST's sequence number

	snd sendState
	rcv recvState

	rtt rttState
	cc  cc.Controller // congestion control; nil until the first data is sent (sender.go)
	xs  *sender       // the loss-recovery unit; nil until the first data is sent

	tmr timers

	ts tsState

	scratch    *wire.TCPSegment // the segment being emitted, when the Emitter lends none
	lastHeard  time.Duration    // the last acceptable segment from the peer, for probe timeouts
	ccReported [2]uint32        // cwnd and ssthresh last told to the observer

	stats counters
	opt   *sockopts // per-connection options (sockopt.go), nil until one is set
}

// sendState is the send sequence space of RFC 9293 §3.3.1 and the send
// buffer. Bytes in buf start at sequence bufSeq.
type sendState struct {
	iss     Seq
	una     Seq    // SND.UNA
	nxt     Seq    // SND.NXT: next sequence to send (rewound on RTO)
	max     Seq    // highest sequence sent + 1
	wnd     uint32 // SND.WND, scaled
	maxWnd  uint32 // largest window the peer has offered
	wl1     Seq    // SND.WL1
	wl2     Seq    // SND.WL2
	mss     uint32 // effective send MSS
	bufSeq  Seq    // sequence of buf's first byte
	finSeq  Seq    // sequence the FIN occupies, once sent
	shift   uint8  // peer's window scale
	finSent bool
	sml     Seq    // end of the last segment shorter than the MSS (Minshall's Nagle)
	tso     uint32 // the largest segment the Emitter's link cuts (SetTSO); 0: none
	buf     sendBuf
}

// recvState is the receive sequence space and the receive buffer. Bytes in
// buf start at rcv.nxt - buf.n (already received, not yet read).
type recvState struct {
	irs     Seq
	nxt     Seq    // RCV.NXT
	adv     Seq    // right edge of the window we last advertised
	mss     uint32 // our advertised MSS
	unacked int32  // full segments received since the last ACK we sent
	segMSS  uint32 // the peer's segment size as we measure it (rcvmss.go)
	lastSeg uint32 // the length of the last segment below segMSS
	pushed  uint8  // segments shorter than segMSS since the last ACK we sent, at most 2 (rcvmss.go)
	finSeq  Seq    // sequence of the peer's FIN once seen out of order
	urgent  Seq    // the last urgent pointer (RFC 6093: urgent data stays inline)
	shift   uint8  // our window scale
	finSeen bool   // a FIN arrived (maybe beyond a hole)
	urgSeen bool
	quick   quickAckState // quickack.go
	tune    rcvTune       // receive-buffer autotuning, rcvbuf.go
	ooo     *reassembly   // out-of-order ranges; nil while there are none
	buf     recvBuf
}

// New returns a closed TCB for a connection between the given ports. cfg must
// stay unchanged while the TCB lives.
func New(cfg *Config, localPort, remotePort uint16) *TCB {
	t := &TCB{cfg: cfg, lport: localPort, rport: remotePort}
	t.snd.buf.size = int32(clampBuf(cfg.SendBuf))
	t.rcv.buf.size = int32(clampBuf(cfg.RecvBuf))
	t.rcv.mss = cfg.mss()
	t.rcv.initRcvMSS()
	t.snd.mss = defaultMSS
	t.rtt.init()
	t.tmr.noDelay = cfg.NoDelay
	t.tmr.keepIdle = cfg.KeepAliveIdle
	t.tmr.keepIntvl = cmp.Or(cfg.KeepAliveInterval, defaultKeepIntvl)
	t.tmr.keepCount = int32(cmp.Or(cfg.KeepAliveCount, defaultKeepCount))
	return t
}

// SetObserver installs o (nil for none) to hear about state changes, timers,
// drops and congestion.
func (t *TCB) SetObserver(o Observer) { t.obs = o }

// State returns the connection's state.
func (t *TCB) State() State { return t.state }

// LocalPort and RemotePort return the connection's ports.
func (t *TCB) LocalPort() uint16 { return t.lport }

// RemotePort returns the peer's port.
func (t *TCB) RemotePort() uint16 { return t.rport }

// Err returns the error that ended the connection (syscall.ECONNRESET,
// ECONNREFUSED, ETIMEDOUT, or an ICMP error: see SoftError and HardError),
// or nil.
func (t *TCB) Err() error { return t.err }

// Established reports whether the handshake has completed at some point.
func (t *TCB) Established() bool {
	return t.state.synchronized() || (t.state == StateClosed && t.wasEstablished)
}

// Readable reports whether Read would return without blocking: data, end of
// stream or an error.
func (t *TCB) Readable() bool {
	return t.rcv.buf.n > 0 || t.finRcvd || t.err != nil || t.userClosed || t.readShut ||
		(t.state == StateClosed && t.wasEstablished)
}

// Writable reports whether Write would accept at least one byte or fail.
func (t *TCB) Writable() bool {
	if t.err != nil || t.shutWr || (t.state.synchronized() && !t.state.canSend()) {
		return true
	}
	return t.state.canSend() && t.snd.buf.free() > 0
}

// Read copies received bytes into p. It returns (0, nil) when nothing is
// available yet, io.EOF once the peer's FIN has been read past, and the
// connection's error after a reset or timeout.
func (t *TCB) Read(p []byte) (int, error) {
	if t.rcv.buf.n > 0 && !t.userClosed && !t.readShut {
		n := t.rcv.buf.read(t.cfg.Buffers, t.cfg.Memory, p)
		t.releaseRecv()
		t.stats.BytesRead += uint64(n)
		t.maybeWindowUpdate()
		t.ackAfterRead()
		return n, nil
	}
	switch {
	case t.err != nil:
		return 0, t.err
	case t.finRcvd || t.userClosed || t.readShut:
		return 0, io.EOF
	case t.state == StateClosed && t.wasEstablished:
		return 0, io.EOF
	}
	return 0, nil
}

// Write copies as much of p as fits into the send buffer and returns the
// count; (0, nil) means the buffer is full. After Shutdown or the connection's
// end it returns syscall.EPIPE (or the connection's error).
func (t *TCB) Write(p []byte) (int, error) {
	if t.err != nil {
		return 0, t.err
	}
	if t.shutWr || (t.state != StateSynSent && t.state != StateSynReceived && !t.state.canSend()) {
		return 0, syscall.EPIPE
	}
	t.checkAppLimited()
	n := t.snd.buf.write(t.cfg.Buffers, t.cfg.Memory, p)
	return n, nil
}

// SetNoDelay turns Nagle's algorithm off (true) or on.
func (t *TCB) SetNoDelay(on bool) { t.tmr.noDelay = on }

// SetKeepAlive sets the keepalive idle time, probe interval and count; a zero
// idle time turns keepalive off.
func (t *TCB) SetKeepAlive(idle, interval time.Duration, count int, now time.Duration) {
	t.tmr.keepIdle, t.tmr.keepIntvl, t.tmr.keepCount = idle, interval, int32(min(count, 1<<30))
	if t.tmr.keepIntvl <= 0 {
		t.tmr.keepIntvl = defaultKeepIntvl
	}
	if t.tmr.keepCount <= 0 {
		t.tmr.keepCount = defaultKeepCount
	}
	t.armKeepalive(now)
}

// SetBuffers changes the send and receive buffer sizes (0 leaves one as is)
// and turns their autotuning off, as SO_SNDBUF and SO_RCVBUF do in Linux.
// The receive buffer changes only before the connection is synchronized.
func (t *TCB) SetBuffers(send, recv int) {
	if send > 0 {
		t.snd.buf.resize(clampBuf(send))
		t.sndFixed = true
	}
	if recv > 0 {
		t.rcvFixed = true
		if !t.state.synchronized() && t.rcv.buf.n == 0 && t.rcv.ooo.len() == 0 {
			t.rcv.buf.size = int32(clampBuf(recv))
		}
	}
}

// Buffered returns the bytes waiting to be read and the bytes waiting to be
// sent or acknowledged.
func (t *TCB) Buffered() (recv, send int) { return int(t.rcv.buf.n), int(t.snd.buf.n) }

func (t *TCB) setState(to State, why string) {
	from := t.state
	if from == to {
		return
	}
	t.state = to
	if to.synchronized() {
		t.wasEstablished = true
	}
	if t.obs != nil {
		t.obs.StateChanged(from, to, why)
	}
	if to == StateClosed {
		t.teardown()
	}
}

// teardown releases everything a closed TCB holds.
func (t *TCB) teardown() {
	t.tmr.reset()
	t.releaseSender()
	t.releaseOOO()
	t.snd.buf.n = 0
	t.snd.buf.release(t.cfg.Buffers, t.cfg.Memory)
	if t.err != nil || t.userClosed {
		t.rcv.buf.discard(t.cfg.Buffers, t.cfg.Memory, int(t.rcv.buf.n))
	}
	t.rcv.buf.prune(t.cfg.Buffers, t.cfg.Memory, int(t.rcv.buf.n)) // what is unread stays for Read
}

// releaseRecv gives the receive buffer's pages back when it holds no byte.
func (t *TCB) releaseRecv() {
	if t.rcv.ooo.len() == 0 {
		t.rcv.buf.release(t.cfg.Buffers, t.cfg.Memory)
	}
}

// releaseOOO forgets the out-of-order ranges (not their bytes: see
// PruneOutOfOrder) and gives their list back.
func (t *TCB) releaseOOO() {
	if t.rcv.ooo != nil {
		t.rcv.ooo.reset()
		t.cfg.Buffers.putReassembly(t.rcv.ooo)
		t.rcv.ooo = nil
	}
}

// fail ends the connection with err (RFC 9293's "connection reset" or
// "connection aborted due to user timeout").
func (t *TCB) fail(err error, why string) {
	if t.err == nil {
		t.err = err
	}
	t.setState(StateClosed, why)
}

func (t *TCB) drop(r DropReason) {
	t.rare().Drops[r]++
	if t.obs != nil {
		t.obs.Dropped(r)
	}
}
