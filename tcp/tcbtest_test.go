package tcp

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/synack-go/synack/wire"
)

// tcbTest drives one TCB as its peer would, on a virtual clock, as
// x/net/quic's testConn does a QUIC connection: the test sends segments at
// given instants (send), says which segments the TCB must send, when and
// why (want), that it must stay silent (wantIdle), or lets its next timer
// fire (advanceToTimer). A mismatch fails the test with the wanted and the
// sent segments side by side, tcpdump style, and the conversation so far.
// Every segment the TCB sends must be wanted: one left over fails the test
// at its end.
//
// The TCB is on port 80; the test is the peer on port 40000. Times are
// virtual, from 0.
type tcbTest struct {
	t     *testing.T
	tcb   *TCB
	now   time.Duration
	out   []sent       // sent by the TCB and not yet wanted
	conv  []string     // the conversation so far, one line per segment
	trans []transition // the TCB's state changes
	ts    bool         // the peer's SYN carried timestamps: send adds them
	tsVal uint32       // the TCB's latest TSval, which the peer echoes
	tso   int          // SetTSO before each Poll (tso_test.go)
	// tsoSegs counts the TSO segments the TCB emitted
	tsoSegs int
}

// sent is a segment the TCB emitted, with its own copy of the payload.
type sent struct {
	at  time.Duration
	seg wire.TCPSegment
}

const (
	tcbPort  = 80
	peerPort = 40000
)

// newTCBTest returns a harness around a new TCB made with cfg (testConfig
// when nil), in CLOSED.
func newTCBTest(t *testing.T, cfg *Config) *tcbTest {
	t.Helper()
	if cfg == nil {
		cfg = testConfig()
	}
	h := &tcbTest{t: t, tcb: New(cfg, tcbPort, peerPort)}
	if tsoOn(t) {
		h.tso = tsoTestMax
		t.Cleanup(func() { tsoUsed(t, h.tsoSegs) })
	}
	h.tcb.SetObserver(h)
	t.Cleanup(func() {
		if !t.Failed() && len(h.out) > 0 {
			t.Errorf("the TCB sent segments no test step wanted:\n%s", h.report())
		}
	})
	return h
}

// Emit implements Emitter for the TCB under test.
func (h *tcbTest) Emit(seg *wire.TCPSegment) {
	c := *seg
	c.Payload = append([]byte(nil), seg.Payload...)
	h.out = append(h.out, sent{h.now, c})
	h.conv = append(h.conv, fmt.Sprintf("%9v  > %s", h.now, formatSeg(&c)))
	if c.Options.HasTS {
		h.tsVal = c.Options.TSVal
	}
}

// StateChanged implements Observer: the harness records transitions.
func (h *tcbTest) StateChanged(from, to State, why string) {
	h.trans = append(h.trans, transition{from, to})
	h.conv = append(h.conv, fmt.Sprintf("%9v    %v -> %v (%s)", h.now, from, to, why))
}
func (h *tcbTest) TimerFired(name string)                                  {}
func (h *tcbTest) Dropped(r DropReason)                                    {}
func (h *tcbTest) CongestionChanged(cwnd, ssthresh uint32, why CwndReason) {}

// poll lets the TCB emit what is due now.
func (h *tcbTest) poll() {
	h.tcb.SetTSO(h.tso)
	h.tcb.Poll(h.now, h)
	if h.tso > 0 {
		checkTxQueue(h.t, h.tcb)
	}
}

// advance moves the clock to at, firing the TCB's timers due on the way at
// their own instants. Time never moves back.
func (h *tcbTest) advance(at time.Duration) {
	h.t.Helper()
	if at < h.now {
		h.t.Fatalf("step at %v: the test is already at %v", at, h.now)
	}
	for i := 0; ; i++ {
		d := h.tcb.Deadline()
		if d > at {
			break
		}
		if i == 10000 {
			h.t.Fatalf("the TCB's deadline stays at %v, before %v:\n%s", d, at, h.report())
		}
		h.now = max(h.now, d)
		h.poll()
	}
	h.now = at
}

// send delivers seg to the TCB at time at, after the TCB's timers due by
// then, and lets it answer. Ports are filled in, and timestamps when the
// peer's SYN had them and seg has none (but a RST): TSval the time in
// milliseconds, TSecr the TCB's latest TSval, as a real peer's.
func (h *tcbTest) send(at time.Duration, p peerSeg) {
	h.t.Helper()
	seg := p.TCPSegment
	if seg.Flags&wire.SYN != 0 && seg.Options.HasTS {
		h.ts = true
	}
	if h.ts && !seg.Options.HasTS && seg.Flags&(wire.SYN|wire.RST) == 0 {
		seg.Options.HasTS, seg.Options.TSVal, seg.Options.TSEcr = true, uint32(at/time.Millisecond)+1, h.tsVal
	}
	h.sendRaw(at, seg)
}

// sendRaw delivers seg as it is, but for the ports.
func (h *tcbTest) sendRaw(at time.Duration, seg wire.TCPSegment) {
	h.t.Helper()
	h.advance(at)
	seg.SrcPort, seg.DstPort = peerPort, tcbPort
	h.conv = append(h.conv, fmt.Sprintf("%9v <  %s", h.now, formatSeg(&seg)))
	h.tcb.Input(&seg, h.now)
	h.poll()
}

// user runs a user call on the TCB now (Write, Close, ...) and lets it send.
func (h *tcbTest) user(call func(t *TCB, now time.Duration)) {
	call(h.tcb, h.now)
	h.poll()
}

// write queues p now and returns how much the TCB took.
func (h *tcbTest) write(p []byte) int {
	h.t.Helper()
	n, err := h.tcb.Write(p)
	if err != nil {
		h.t.Fatalf("write at %v: %v", h.now, err)
	}
	h.poll()
	return n
}

// read drains what the TCB has received, and lets it send a window update.
func (h *tcbTest) read() []byte {
	var got []byte
	buf := make([]byte, 4096)
	for {
		n, _ := h.tcb.Read(buf)
		if n == 0 {
			break
		}
		got = append(got, buf[:n]...)
	}
	h.poll()
	return got
}

// want checks that the TCB sent exactly segs, in order, at time at (moving
// the clock there first), for the reason why; segments sent before at and
// not yet wanted are a mismatch.
func (h *tcbTest) want(at time.Duration, why string, segs ...want) {
	h.t.Helper()
	h.advance(at)
	ok := len(h.out) >= len(segs)
	for i := range segs {
		if !ok {
			break
		}
		ok = h.out[i].at == at && segs[i].match(&h.out[i].seg)
	}
	if !ok {
		h.t.Fatalf("%v: %s:\n%s\n%s", at, why, h.sideBySide(at, segs), h.report())
	}
	h.out = h.out[len(segs):]
}

// wantIdle checks that the TCB sends nothing until until (included): every
// segment it sent so far was wanted, and its timers due by then send none.
func (h *tcbTest) wantIdle(until time.Duration) {
	h.t.Helper()
	h.advance(until)
	if len(h.out) > 0 {
		h.t.Fatalf("the TCB should send nothing until %v:\n%s\n%s", until, h.sideBySide(until, nil), h.report())
	}
}

// advanceToTimer moves the clock to the TCB's next deadline and fires it,
// returning the new time.
func (h *tcbTest) advanceToTimer() time.Duration {
	h.t.Helper()
	d := h.tcb.Deadline()
	if d == NoDeadline {
		h.t.Fatalf("at %v the TCB has no timer armed:\n%s", h.now, h.report())
	}
	h.advance(d)
	return h.now
}

// wantState checks the TCB's state.
func (h *tcbTest) wantState(st State) {
	h.t.Helper()
	if got := h.tcb.State(); got != st {
		h.t.Fatalf("at %v: state %v, want %v\n%s", h.now, got, st, h.report())
	}
}

// sideBySide renders the wanted segments next to those the TCB sent and
// no step has wanted yet.
func (h *tcbTest) sideBySide(at time.Duration, segs []want) string {
	var left, right []string
	for _, w := range segs {
		left = append(left, fmt.Sprintf("%v %s", at, w))
	}
	for _, s := range h.out {
		right = append(right, fmt.Sprintf("%v %s", s.at, formatSeg(&s.seg)))
	}
	if len(left) == 0 {
		left = append(left, "(nothing)")
	}
	if len(right) == 0 {
		right = append(right, "(nothing)")
	}
	width := len("want")
	for _, l := range left {
		width = max(width, len(l))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "  %-*s | %s\n", width, "want", "sent")
	for i := range max(len(left), len(right)) {
		var l, r string
		if i < len(left) {
			l = left[i]
		}
		if i < len(right) {
			r = right[i]
		}
		fmt.Fprintf(&b, "  %-*s | %s\n", width, l, r)
	}
	return b.String()
}

// report is the conversation so far.
func (h *tcbTest) report() string {
	return "conversation (< to the TCB, > from it):\n" + strings.Join(h.conv, "\n")
}

// wantTrans checks the TCB's state changes so far.
func (h *tcbTest) wantTrans(want ...transition) {
	h.t.Helper()
	if fmt.Sprint(h.trans) != fmt.Sprint(want) {
		h.t.Fatalf("transitions %v, want %v\n%s", h.trans, want, h.report())
	}
}

// peerSeg is a segment the test sends as the peer.
type peerSeg struct {
	wire.TCPSegment
}

// in returns a peer segment with flags, seq and ack, a window of 512 (64 KiB
// at the window scale of peerSYN; 65535 on a SYN) and no data.
func in(flags wire.TCPFlags, seq, ack Seq) peerSeg {
	win := uint16(512)
	if flags&wire.SYN != 0 {
		win = 65535
	}
	return peerSeg{TCPSegment: wire.TCPSegment{Flags: flags, Seq: seq, Ack: ack, Window: win}}
}

// data sets the payload.
func (p peerSeg) data(b []byte) peerSeg { p.Payload = b; return p }

// win sets the window field.
func (p peerSeg) win(w uint16) peerSeg { p.Window = w; return p }

// opts sets the options.
func (p peerSeg) opts(o wire.TCPOptions) peerSeg { p.Options = o; return p }

// sack adds SACK blocks.
func (p peerSeg) sack(blocks ...wire.SACKBlock) peerSeg {
	p.Options.NumSACK = copy(p.Options.SACK[:], blocks)
	return p
}

// want is a segment a test expects from the TCB: flags, SEQ, ACK (when
// the ACK flag is on) and the payload's length always count; the window,
// the payload's bytes and each option count only when the test set them
// (win, data, mss, ...).
type want struct {
	flags    wire.TCPFlags
	seq, ack Seq
	n        int
	data     []byte
	win      int // -1: any
	mss      int // -1: any, 0: none
	wscale   int // -1: any, -2: none
	sackOK   int // -1: any, 0: no, 1: yes
	ts       int // -1: any, 0: no timestamps, 1: some
	tsVal    uint32
	tsEcr    uint32
	tsExact  bool
	sack     []wire.SACKBlock
	sackSet  bool
}

// seg returns a wanted segment with flags, seq and ack, no payload, and
// every other field unchecked.
func seg(flags wire.TCPFlags, seq, ack Seq) want {
	return want{flags: flags, seq: seq, ack: ack, win: -1, mss: -1, wscale: -1, sackOK: -1, ts: -1}
}

// length wants n bytes of payload.
func (w want) length(n int) want { w.n = n; return w }

// payload wants exactly p as the payload.
func (w want) payload(p []byte) want { w.n, w.data = len(p), p; return w }

// window wants the window field to be win.
func (w want) window(win uint16) want { w.win = int(win); return w }

// withMSS wants an MSS option of m (0: none).
func (w want) withMSS(m uint16) want { w.mss = int(m); return w }

// withWScale wants a window scale option of s (-2: none).
func (w want) withWScale(s int) want { w.wscale = s; return w }

// withSACKOK wants SACK-permitted present or not.
func (w want) withSACKOK(on bool) want { w.sackOK = map[bool]int{false: 0, true: 1}[on]; return w }

// withTS wants timestamps present (val and ecr unchecked) or absent.
func (w want) withTS(on bool) want { w.ts = map[bool]int{false: 0, true: 1}[on]; return w }

// withTSValues wants timestamps with exactly these values.
func (w want) withTSValues(val, ecr uint32) want {
	w.ts, w.tsVal, w.tsEcr, w.tsExact = 1, val, ecr, true
	return w
}

// withSACK wants exactly these SACK blocks (none: no SACK option).
func (w want) withSACK(blocks ...wire.SACKBlock) want { w.sack, w.sackSet = blocks, true; return w }

// match reports whether s is the wanted segment.
func (w want) match(s *wire.TCPSegment) bool {
	o := &s.Options
	switch {
	case s.Flags != w.flags || s.Seq != w.seq || len(s.Payload) != w.n:
		return false
	case w.flags&wire.ACK != 0 && s.Ack != w.ack:
		return false
	case w.data != nil && string(s.Payload) != string(w.data):
		return false
	case w.win >= 0 && int(s.Window) != w.win:
		return false
	case w.mss >= 0 && int(o.MSS) != w.mss:
		return false
	case w.wscale == -2 && o.HasWScale, w.wscale >= 0 && (!o.HasWScale || int(o.WScale) != w.wscale):
		return false
	case w.sackOK >= 0 && o.SACKPermitted != (w.sackOK == 1):
		return false
	case w.ts >= 0 && o.HasTS != (w.ts == 1), w.tsExact && (o.TSVal != w.tsVal || o.TSEcr != w.tsEcr):
		return false
	case w.sackSet && !sameSACK(o.SACK[:o.NumSACK], w.sack):
		return false
	}
	return true
}

func sameSACK(a, b []wire.SACKBlock) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// String renders the wanted segment as tcpdump would the real one, with
// only the checked fields.
func (w want) String() string {
	var b []byte
	b = appendFlagsSeqAck(b, w.flags, w.seq, w.ack, w.n)
	if w.win >= 0 {
		b = append(b, ", win "...)
		b = strconv.AppendInt(b, int64(w.win), 10)
	}
	var opts []string
	if w.mss > 0 {
		opts = append(opts, "mss "+strconv.Itoa(w.mss))
	}
	if w.sackOK == 1 {
		opts = append(opts, "sackOK")
	}
	switch {
	case w.tsExact:
		opts = append(opts, fmt.Sprintf("TS val %d ecr %d", w.tsVal, w.tsEcr))
	case w.ts == 1:
		opts = append(opts, "TS")
	}
	if w.wscale >= 0 {
		opts = append(opts, "wscale "+strconv.Itoa(w.wscale))
	}
	if len(w.sack) > 0 {
		opts = append(opts, "sack "+sackString(w.sack))
	}
	if len(opts) > 0 {
		b = append(b, ", options ["...)
		b = append(b, strings.Join(opts, ",")...)
		b = append(b, ']')
	}
	b = append(b, ", length "...)
	return string(strconv.AppendInt(b, int64(w.n), 10))
}

// formatSeg renders seg as tcpdump -n -S prints a TCP segment, without
// addresses.
func formatSeg(s *wire.TCPSegment) string {
	b := appendFlagsSeqAck(nil, s.Flags, s.Seq, s.Ack, len(s.Payload))
	b = append(b, ", win "...)
	b = strconv.AppendUint(b, uint64(s.Window), 10)
	o := &s.Options
	var opts []string
	if o.MSS != 0 {
		opts = append(opts, "mss "+strconv.Itoa(int(o.MSS)))
	}
	if o.SACKPermitted {
		opts = append(opts, "sackOK")
	}
	if o.HasTS {
		opts = append(opts, fmt.Sprintf("TS val %d ecr %d", o.TSVal, o.TSEcr))
	}
	if o.HasWScale {
		opts = append(opts, "wscale "+strconv.Itoa(int(o.WScale)))
	}
	if o.NumSACK > 0 {
		opts = append(opts, "sack "+sackString(o.SACK[:o.NumSACK]))
	}
	if len(opts) > 0 {
		b = append(b, ", options ["...)
		b = append(b, strings.Join(opts, ",")...)
		b = append(b, ']')
	}
	b = append(b, ", length "...)
	return string(strconv.AppendInt(b, int64(len(s.Payload)), 10))
}

// appendFlagsSeqAck appends tcpdump's "Flags [S.], seq 1:101, ack 7".
func appendFlagsSeqAck(b []byte, flags wire.TCPFlags, seq, ack Seq, n int) []byte {
	b = append(b, "Flags ["...)
	b = append(b, flags.String()...)
	b = append(b, "], seq "...)
	b = strconv.AppendUint(b, uint64(seq), 10)
	if n > 0 {
		b = append(b, ':')
		b = strconv.AppendUint(b, uint64(seq.Add(uint32(n))), 10)
	}
	if flags&wire.ACK != 0 {
		b = append(b, ", ack "...)
		b = strconv.AppendUint(b, uint64(ack), 10)
	}
	return b
}

func sackString(blocks []wire.SACKBlock) string {
	var parts []string
	for _, s := range blocks {
		parts = append(parts, fmt.Sprintf("{%d:%d}", s.Left, s.Right))
	}
	return strings.Join(parts, "")
}
