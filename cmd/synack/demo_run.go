package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/synack-go/synack"
	"github.com/synack-go/synack/link"
	"github.com/synack-go/synack/link/pcap"
	"github.com/synack-go/synack/tcp"
	"github.com/synack-go/synack/trace"
	"github.com/synack-go/synack/wire"
)

// The demo's two hosts.
var (
	demoClientAddr = netip.MustParsePrefix("10.0.0.1/24")
	demoServerAddr = netip.MustParsePrefix("10.0.0.2/24")
)

// Tunables every demo stack shares. Timestamps are off because their
// values come from the real clock and would differ from run to run;
// TIME_WAIT is short so that a scenario can show it end.
const (
	demoTimeWait = 200 * time.Millisecond
	demoWait     = 5 * time.Second // the longest any step may take
)

// syncWriter serializes the writes of the trace and of the scenario's
// narration to one writer.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// demoTracer prints each event of both stacks once (segments as they are
// sent), records them for the ladder, and picks the segments the link is
// to lose.
type demoTracer struct {
	mu     sync.Mutex // orders the events of both stacks
	on     bool
	cwnd   bool // print congestion window changes
	text   *trace.Text
	out    io.Writer
	times  bool
	rec    trace.Recorder
	losses *losses
	// What each stack last sent on each connection and last received, to
	// name the probes it answers (see trace.ProbeNote).
	lastOut map[demoConnKey]wire.TCPSegment
	lastIn  map[string]*trace.Event
}

// demoConnKey is a connection as one stack sees it.
type demoConnKey struct {
	stack         string
	local, remote netip.AddrPort
}

// Trace implements trace.Tracer.
func (t *demoTracer) Trace(e *trace.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.on {
		return
	}
	t.rec.Trace(e)
	switch e.Kind {
	case trace.SegmentIn:
		c, seg := *e, *e.Seg // header fields only: the payload is not read
		c.Seg = &seg
		t.lastIn[e.Stack] = &c
		return // printed when it was sent
	case trace.SegmentOut:
		t.lastOut[demoConnKey{e.Stack, e.Local, e.Remote}] = *e.Seg
	case trace.Congestion:
		if !t.cwnd {
			return
		}
	case trace.StateChange:
		if e.From == "CLOSED" && e.To == "LISTEN" {
			// A stack makes a connection's passive end when the SYN
			// arrives; the listener was there before, and listen says so
			// once, under its own address, when it starts.
			return
		}
	case trace.Drop:
		if note := t.probe(e); note != "" {
			t.line(e, note)
			return
		}
	}
	t.text.Trace(e)
	if e.Kind == trace.SegmentOut && t.losses.pick(e.Stack, e.Seg) {
		t.line(&trace.Event{At: e.At, Stack: "link", Local: e.Local, Remote: e.Remote}, "the link loses this segment")
	}
}

// probe returns trace.ProbeNote's text when Drop e threw away a probe that
// just arrived on its stack: an ACK one below what the stack acknowledges.
func (t *demoTracer) probe(e *trace.Event) string {
	in := t.lastIn[e.Stack]
	if e.Why != "out-of-window" || in == nil || in.Local != e.Local || in.Remote != e.Remote {
		return ""
	}
	ours, ok := t.lastOut[demoConnKey{e.Stack, e.Local, e.Remote}]
	s := in.Seg
	if !ok || s.Flags&(wire.SYN|wire.FIN|wire.RST|wire.ACK) != wire.ACK || len(s.Payload) > 1 || s.Seq.Add(1) != ours.Ack {
		return ""
	}
	return trace.ProbeNote(ours.Window)
}

// listening prints the listener's CLOSED -> LISTEN under its own address.
func (t *demoTracer) listening(addr netip.AddrPort) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.on {
		return
	}
	// No time stamp: the stack traces no event of its own for it.
	fmt.Fprintf(t.out, "[server] %s.%d: state CLOSED -> LISTEN (listen)\n", addr.Addr(), addr.Port())
}

// line prints an event line of the demo's own, in the Text's layout:
// "[link] 10.0.0.1.48236 > 10.0.0.2.80: the link loses this segment".
func (t *demoTracer) line(e *trace.Event, text string) {
	var b []byte
	if t.times {
		b = fmt.Appendf(b, "%d.%06d ", e.At/time.Second, e.At%time.Second/time.Microsecond)
	}
	b = fmt.Appendf(b, "[%s] %s.%d > %s.%d: %s\n", e.Stack, e.Local.Addr(), e.Local.Port(), e.Remote.Addr(), e.Remote.Port(), text)
	t.out.Write(b)
}

// newDemoTracer returns a tracer printing to out: ISN-relative numbers,
// no time stamps unless times (the stacks' own clocks: they differ from run
// to run).
func newDemoTracer(out io.Writer, cwnd, times, absolute bool, l *losses) *demoTracer {
	tf := trace.TimeNone
	if times {
		tf = trace.TimeStack
	}
	return &demoTracer{on: true, cwnd: cwnd, losses: l, out: out, times: times,
		lastOut: make(map[demoConnKey]wire.TCPSegment), lastIn: make(map[string]*trace.Event),
		text: trace.NewText(out, trace.TextOptions{Stack: true, FromISN: true, Absolute: absolute, Time: tf})}
}

// setOn turns printing and recording on or off.
func (t *demoTracer) setOn(on bool) {
	t.mu.Lock()
	t.on = on
	t.mu.Unlock()
}

// demoRun is one scenario being played: two stacks on a lockstep link,
// and the steps that drive them. A failed step records the error and
// every later step does nothing, so a scenario reads as a straight list
// of steps; run reports the first error.
type demoRun struct {
	out            io.Writer
	link           *lockstep
	tracer         *demoTracer
	client, server *synack.Stack
	pairs          [][2]*synack.Conn // connections whose two ends the scenario holds
	capture        *gateWriter       // the client's capture, or nil
	err            error
}

// gateWriter passes writes through until it is shut, then drops them: the
// capture ends with the trace, before the stacks close.
type gateWriter struct {
	mu sync.Mutex
	w  io.Writer
	on bool
}

func (g *gateWriter) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.on {
		return len(p), nil
	}
	return g.w.Write(p)
}

func (g *gateWriter) shut() {
	g.mu.Lock()
	g.on = false
	g.mu.Unlock()
}

// demoOptions shape the stacks of a scenario.
type demoOptions struct {
	serverTCP  func(*tcp.Config) // changes to the server's connection tunables
	synBacklog int
	cwnd       bool
	losses     []*lossRule
	pcap       io.Writer // where to capture the client's traffic, or nil
	times      bool
	absolute   bool // absolute sequence numbers, as tcpdump -S
}

// newDemoRun starts the two stacks.
func newDemoRun(w io.Writer, o demoOptions) (*demoRun, error) {
	out := &syncWriter{w: w}
	l := &losses{rules: o.losses}
	tr := newDemoTracer(out, o.cwnd, o.times, o.absolute, l)
	ls, ends := newLockstep(l)
	r := &demoRun{out: out, link: ls, tracer: tr}
	clientEnd := ends[0]
	if o.pcap != nil {
		r.capture = &gateWriter{w: o.pcap, on: true}
		pe, err := pcap.Wrap(clientEnd, r.capture, pcap.Config{})
		if err != nil {
			return nil, err
		}
		clientEnd = pe
	}
	var err error
	if r.client, err = demoStack(clientEnd, "client", demoClientAddr, tr, 1, nil, 0); err != nil {
		return nil, err
	}
	if r.server, err = demoStack(ends[1], "server", demoServerAddr, tr, 2, o.serverTCP, o.synBacklog); err != nil {
		r.client.Close()
		return nil, err
	}
	return r, nil
}

// demoStack makes one of the two stacks, its randomness seeded so that
// ports and keys are the same every run.
func demoStack(ep link.Endpoint, name string, addr netip.Prefix, tr trace.Tracer, seed uint64, tune func(*tcp.Config), synBacklog int) (*synack.Stack, error) {
	cfg := tcp.Config{DisableTimestamps: true, TimeWait: demoTimeWait}
	if tune != nil {
		tune(&cfg)
	}
	var key [32]byte
	key[0] = byte(seed)
	return synack.NewStack(ep, synack.Options{
		Name: name, Addrs: []netip.Prefix{addr}, Tracer: tr, TCP: cfg,
		Rand: rand.NewChaCha8(key), KeepAlive: -1, SynBacklog: synBacklog,
	})
}

// close stops the trace and the capture, then both stacks.
func (r *demoRun) close() {
	r.tracer.setOn(false)
	if r.capture != nil {
		r.capture.shut()
	}
	r.client.Close()
	r.server.Close()
}

// fail records the first error.
func (r *demoRun) fail(err error) {
	if r.err == nil && err != nil {
		r.err = err
	}
}

// say narrates, as a comment line between the trace's lines.
func (r *demoRun) say(format string, args ...any) {
	if r.err == nil {
		fmt.Fprintf(r.out, "# "+format+"\n", args...)
	}
}

// settle waits until the link is quiet and every delayed ACK has gone out:
// each end of each pair the scenario holds has had acknowledged all the
// data the other end received. Then the next step starts from rest.
func (r *demoRun) settle() {
	if r.err != nil {
		return
	}
	r.fail(waitUntil(demoWait, func() bool {
		if !r.link.isQuiet() {
			return false
		}
		for _, p := range r.pairs {
			for _, d := range [2][2]*synack.Conn{{p[0], p[1]}, {p[1], p[0]}} {
				snd, rcv := d[0].Stats(), d[1].Stats()
				if snd.State != tcp.StateClosed && rcv.State != tcp.StateClosed && snd.BytesAcked < rcv.BytesReceived {
					return false
				}
			}
		}
		return r.link.isQuiet()
	}))
}

// do runs one step of the scenario: from rest, with deliveries held while
// fn runs so that what fn sends goes out in order after it, then settles.
// fn must not block.
func (r *demoRun) do(fn func() error) {
	if r.err != nil {
		return
	}
	r.settle()
	r.link.hold()
	err := fn()
	r.link.release()
	r.fail(err)
	r.settle()
}

// listen makes the server listen on addr with an accept queue of backlog.
func (r *demoRun) listen(addr string, backlog int) *synack.Listener {
	if r.err != nil {
		return nil
	}
	ln, err := r.server.ListenAddrPort("tcp", netip.MustParseAddrPort(addr), backlog)
	r.fail(err)
	if err == nil {
		r.tracer.listening(ln.Addr().(*net.TCPAddr).AddrPort())
	}
	return ln
}

// dialing is a Dial under way.
type dialing struct {
	done chan struct{}
	conn *synack.Conn
	err  error
}

// startDials starts one Dial from the client to each address, in order,
// and returns once each SYN has been written; deliveries are held until
// the last, so the SYNs arrive together.
func (r *demoRun) startDials(addrs ...string) []*dialing {
	ds := make([]*dialing, len(addrs))
	for i := range ds {
		ds[i] = &dialing{done: make(chan struct{})}
	}
	if r.err != nil {
		for _, d := range ds {
			d.err = r.err
			close(d.done)
		}
		return ds
	}
	r.settle()
	r.link.hold()
	for i, d := range ds {
		before := r.link.writes(0)
		go func() {
			defer close(d.done)
			ctx, cancel := context.WithTimeout(context.Background(), demoWait)
			defer cancel()
			c, err := r.client.DialContext(ctx, "tcp", addrs[i])
			if err == nil {
				d.conn = c.(*synack.Conn)
			}
			d.err = err
		}()
		r.fail(waitUntil(demoWait, func() bool { return r.link.writes(0) > before }))
	}
	r.link.release()
	return ds
}

// finish waits for a Dial to end and the link to settle, and returns its
// connection or error.
func (r *demoRun) finish(d *dialing) (*synack.Conn, error) {
	select {
	case <-d.done:
	case <-time.After(2 * demoWait):
		r.fail(errStuck)
		return nil, errStuck
	}
	r.settle()
	return d.conn, d.err
}

// dial connects the client to addr; an error fails the scenario.
func (r *demoRun) dial(addr string) *synack.Conn {
	c, err := r.finish(r.startDials(addr)[0])
	r.fail(err)
	return c
}

// accept takes the next established connection from ln, which must have
// one waiting.
func (r *demoRun) accept(ln *synack.Listener) *synack.Conn {
	var c *synack.Conn
	r.do(func() error {
		ln.SetDeadline(time.Now().Add(demoWait))
		var err error
		c, err = ln.AcceptTCP()
		return err
	})
	return c
}

// connect dials addr, accepts the connection, and holds both ends.
func (r *demoRun) connect(ln *synack.Listener, addr string) (c, s *synack.Conn) {
	c = r.dial(addr)
	s = r.accept(ln)
	if r.err == nil {
		r.pairs = append(r.pairs, [2]*synack.Conn{c, s})
	}
	return c, s
}

// write writes p on c; it must fit in the send buffer.
func (r *demoRun) write(c *synack.Conn, p string) {
	r.do(func() error {
		_, err := c.Write([]byte(p))
		return err
	})
}

// read reads what c has received, which must be there already (or its
// end, io.EOF, or its error), and returns it.
func (r *demoRun) read(c *synack.Conn) (string, error) {
	var got []byte
	var rerr error
	r.do(func() error {
		c.SetReadDeadline(time.Now().Add(demoWait))
		buf := make([]byte, 64<<10)
		n, err := c.Read(buf)
		got, rerr = buf[:n], err
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return fmt.Errorf("demo: nothing to read: %w", err)
		}
		return nil
	})
	return string(got), rerr
}

// waitFor waits until the trace holds an event after the first `from`
// that match accepts, then settles.
func (r *demoRun) waitFor(what string, from int, match func(e *trace.Event) bool) {
	if r.err != nil {
		return
	}
	err := waitUntil(demoWait, func() bool {
		evs := r.tracer.rec.Events()
		for i := from; i < len(evs); i++ {
			if match(&evs[i]) {
				return true
			}
		}
		return false
	})
	if err != nil {
		err = fmt.Errorf("%w waiting for %s", err, what)
	}
	r.fail(err)
	r.settle()
}

// mark returns the number of events traced so far, for waitFor.
func (r *demoRun) mark() int { return r.tracer.rec.Len() }

// waitTimer waits for the timer named name to fire on stack.
func (r *demoRun) waitTimer(from int, stack, name string) {
	r.waitFor(stack+"'s "+name+" timer", from, func(e *trace.Event) bool {
		return e.Kind == trace.Timer && e.Stack == stack && e.Why == name
	})
}

// waitState waits until stack's end of a connection enters state.
func (r *demoRun) waitState(from int, stack, state string) {
	r.waitFor(stack+" entering "+state, from, func(e *trace.Event) bool {
		return e.Kind == trace.StateChange && e.Stack == stack && e.To == state
	})
}
