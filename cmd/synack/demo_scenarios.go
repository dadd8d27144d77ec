package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"

	"github.com/synack-go/synack"
	"github.com/synack-go/synack/link/pipe"
	"github.com/synack-go/synack/tcp"
	"github.com/synack-go/synack/trace"
	"github.com/synack-go/synack/wire"
)

// scenario is one story `synack demo` can tell.
type scenario struct {
	name  string
	about string // one line for --list
	// run plays the scenario, printing its trace to out, and returns the
	// events for the ladder. o carries the capture and time options.
	run func(out io.Writer, o demoOptions) ([]trace.Event, error)
}

// demoScenarios returns the scenarios, the default first. Each call makes
// them afresh: their loss rules count segments.
func demoScenarios() []scenario {
	return []scenario{
		{"story", "the whole story: handshake, lines each way, half-close, four-way close (the default)", onStacks(demoOptions{}, playStory)},
		{"handshake", "the three-way handshake: SYN, SYN-ACK, ACK (RFC 9293 §3.5)", onStacks(demoOptions{}, playHandshake)},
		{"data-and-ack", "data and its acknowledgments: a delayed ACK, then one ACK for two full segments (RFC 9293 §3.8.6.3)", onStacks(demoOptions{}, playDataAndAck)},
		{"half-close", "the client shuts down its sending side; the server goes on sending until it closes", onStacks(demoOptions{}, playHalfClose)},
		{"four-way-close", "FIN, ACK, FIN, ACK, and TIME_WAIT running out (RFC 9293 §3.6)", onStacks(demoOptions{}, playFourWayClose)},
		{"simultaneous-open", "both ends dial each other at once: the SYNs cross and both meet in SYN_RECV (RFC 9293 Figure 8)", onStacks(demoOptions{}, playSimultaneousOpen)},
		{"simultaneous-close", "both ends close at once: FINs cross, both pass through CLOSING (RFC 9293 Figure 13)", onStacks(demoOptions{}, playSimultaneousClose)},
		{"rst-abort", "the client aborts (SO_LINGER 0): a RST, and the server's read fails with ECONNRESET", onStacks(demoOptions{}, playRSTAbort)},
		{"rst-closed-port", "a SYN to a port nobody listens on is answered with a RST: ECONNREFUSED", onStacks(demoOptions{}, playRSTClosedPort)},
		{"lost-syn", "the link loses the first SYN; the client retransmits it when its RTO (1 s) fires", onStacks(demoOptions{
			losses: []*lossRule{{stack: "client", match: isSYN, nth: 1}}}, playLostSYN)},
		{"lost-data", "the link loses one data segment; duplicate ACKs with SACK blocks trigger a fast retransmit (RFC 5681 §3.2, RFC 6675)", onStacks(demoOptions{
			cwnd: true, losses: []*lossRule{{stack: "client", match: hasData, nth: 2}}}, playLostData)},
		{"lossy-bulk", "a 256 KiB transfer that loses four segments, two in a row: SACK recovery, in a time-sequence graph (--plot)", onStacks(demoOptions{
			// Every segment acknowledged at once, one ACK per segment in
			// the graph; a 50 Mbit/s link whose queue holds whatever the
			// sender sends, so that the four losses are the only ones.
			serverTCP: func(c *tcp.Config) { c.DelayedAck = -1 },
			link:      pipe.Config{RateBitsPerSec: 50e6, QueueBytes: -1},
			cwnd:      true, losses: []*lossRule{
				{stack: "client", match: hasData, nth: 30}, {stack: "client", match: hasData, nth: 90},
				{stack: "client", match: hasData, nth: 91}, {stack: "client", match: hasData, nth: 150}}}, playLossyBulk)},
		{"zero-window", "the server's buffer fills: its window closes, the client sends persist probes until it opens (RFC 9293 §3.8.6.1)", onStacks(demoOptions{
			serverTCP: func(c *tcp.Config) { c.RecvBuf = 4096 }}, playZeroWindow)},
		{"backlog-full", "a full SYN queue answers with SYN cookies, a full accept queue drops SYNs and ACKs (RFC 4987)", onStacks(demoOptions{
			synBacklog: 1}, playBacklogFull)},
	}
}

func isSYN(s *wire.TCPSegment) bool   { return s.Flags&wire.SYN != 0 }
func hasData(s *wire.TCPSegment) bool { return len(s.Payload) > 0 }

// onStacks makes a scenario that plays on two stacks with the options
// base says (plus o's capture and time options).
func onStacks(base demoOptions, play func(r *demoRun)) func(io.Writer, demoOptions) ([]trace.Event, error) {
	return func(out io.Writer, o demoOptions) ([]trace.Event, error) {
		base.pcap, base.times, base.absolute = o.pcap, o.times, o.absolute
		r, err := newDemoRun(out, base)
		if err != nil {
			return nil, err
		}
		play(r)
		r.settle()
		r.close()
		return r.tracer.rec.Events(), r.err
	}
}

// The port the server listens on, and the address to dial it.
const (
	demoPort   = "10.0.0.2:80"
	demoClosed = "10.0.0.2:81"
)

func playStory(r *demoRun) {
	ln := r.listen(demoPort, 0)
	r.say("the server listens on %s", demoPort)
	c, s := r.connect(ln, demoPort)
	if r.err != nil {
		return
	}
	r.say("connected %v -> %v", c.LocalAddr(), c.RemoteAddr())
	for i, line := range []string{"hello, synack", "every segment is traced"} {
		if i == 1 {
			r.say("each side answered at once: now interactive, each delays its ACK up to 40ms for an answer to carry it (this demo answers only once the link is quiet, so the timer sends it)")
		}
		r.say("client writes %q", line)
		r.write(c, line+"\n")
		got, _ := r.read(s)
		r.say("server reads %q and answers in upper case", strings.TrimSuffix(got, "\n"))
		r.write(s, strings.ToUpper(got))
		reply, _ := r.read(c)
		r.say("client reads %q", strings.TrimSuffix(reply, "\n"))
	}
	r.say("client half-closes (CloseWrite): its FIN; it can still read")
	r.do(c.CloseWrite)
	_, err := r.read(s)
	r.say("server reads %v: it says goodbye and closes", err)
	r.write(s, "goodbye\n")
	from := r.mark()
	r.do(s.Close)
	got, _ := r.read(c)
	_, err = r.read(c)
	r.say("client reads %q, then %v at the server's FIN", strings.TrimSpace(got), err)
	r.do(c.Close)
	r.say("the client waits in TIME_WAIT (2 MSL, %v here) before it forgets the connection", demoTimeWait)
	r.waitState(from, "client", "CLOSED")
}

func playHandshake(r *demoRun) {
	ln := r.listen(demoPort, 0)
	r.say("the server listens on %s; the client connects", demoPort)
	c, _ := r.connect(ln, demoPort)
	if r.err == nil {
		r.say("connected %v -> %v: both ends ESTABLISHED", c.LocalAddr(), c.RemoteAddr())
	}
}

func playDataAndAck(r *demoRun) {
	ln := r.listen(demoPort, 0)
	c, s := r.connect(ln, demoPort)
	r.say("both ends leave quick-ACK mode (TCP_QUICKACK 0): a new connection's first segments are otherwise acknowledged at once")
	r.do(func() error { return c.SetQuickAck(false) })
	r.do(func() error { return s.SetQuickAck(false) })
	r.say("client writes 100 bytes: the server delays its ACK, hoping to send it with data")
	from := r.mark()
	r.write(c, strings.Repeat("a", 100))
	r.waitTimer(from, "server", "delayed-ack")
	r.say("client writes 2920 bytes, two full segments: the second is acknowledged at once")
	r.write(c, strings.Repeat("b", 2920))
	got, _ := r.read(s)
	r.say("server reads %d bytes and answers; the client's ACK of the answer is delayed", len(got))
	from = r.mark()
	r.write(s, "thanks\n")
	r.waitTimer(from, "client", "delayed-ack")
	r.read(c)
}

func playHalfClose(r *demoRun) {
	ln := r.listen(demoPort, 0)
	c, s := r.connect(ln, demoPort)
	r.say("client half-closes (CloseWrite): FIN_WAIT1, then FIN_WAIT2 when its FIN is acknowledged")
	r.do(c.CloseWrite)
	_, err := r.read(s)
	r.say("server reads %v, but may still send: CLOSE_WAIT", err)
	r.write(s, "still talking\n")
	r.write(s, "and done\n")
	got, _ := r.read(c)
	r.say("client reads %q", strings.TrimSpace(got))
	from := r.mark()
	r.say("server closes: its FIN")
	r.do(s.Close)
	_, err = r.read(c)
	r.say("client reads %v; TIME_WAIT lasts %v here", err, demoTimeWait)
	r.do(c.Close)
	r.waitState(from, "client", "CLOSED")
}

func playFourWayClose(r *demoRun) {
	ln := r.listen(demoPort, 0)
	c, s := r.connect(ln, demoPort)
	r.say("client closes: FIN (FIN_WAIT1); the server acknowledges it (CLOSE_WAIT)")
	from := r.mark()
	r.do(c.Close)
	_, err := r.read(s)
	r.say("server reads %v and closes: FIN (LAST_ACK)", err)
	r.do(s.Close)
	r.say("client acknowledges and waits in TIME_WAIT for 2 MSL (%v here)", demoTimeWait)
	r.waitState(from, "client", "CLOSED")
}

func playSimultaneousClose(r *demoRun) {
	ln := r.listen(demoPort, 0)
	c, s := r.connect(ln, demoPort)
	r.say("both ends close before either FIN arrives")
	from := r.mark()
	r.do(func() error { return errors.Join(c.Close(), s.Close()) })
	r.waitState(from, "client", "TIME_WAIT")
	r.waitState(from, "server", "TIME_WAIT")
	r.say("each FIN found its receiver in FIN_WAIT1: CLOSING, then TIME_WAIT on both ends, for 2 MSL")
}

func playRSTAbort(r *demoRun) {
	ln := r.listen(demoPort, 0)
	c, s := r.connect(ln, demoPort)
	r.write(c, "about to abort\n")
	r.read(s)
	r.say("client sets SO_LINGER to 0 and closes: a RST instead of a FIN")
	r.do(func() error {
		if err := c.SetLinger(0); err != nil {
			return err
		}
		return c.Close()
	})
	_, err := r.read(s)
	if !errors.Is(err, syscall.ECONNRESET) {
		r.fail(fmt.Errorf("demo: server's read after the RST: %v, want ECONNRESET", err))
	}
	r.say("server's read: %v", err)
}

func playRSTClosedPort(r *demoRun) {
	r.say("client dials %s, where nothing listens", demoClosed)
	_, err := r.finish(r.startDials(demoClosed)[0])
	if !errors.Is(err, syscall.ECONNREFUSED) {
		r.fail(fmt.Errorf("demo: dial to a closed port: %v, want ECONNREFUSED", err))
	}
	r.say("client's dial: %v", err)
}

func playLostSYN(r *demoRun) {
	ln := r.listen(demoPort, 0)
	r.say("client dials %s; the link loses its SYN", demoPort)
	c, _ := r.connect(ln, demoPort)
	if r.err == nil {
		r.say("connected %v -> %v after one retransmission", c.LocalAddr(), c.RemoteAddr())
	}
}

func playLostData(r *demoRun) {
	ln := r.listen(demoPort, 0)
	c, s := r.connect(ln, demoPort)
	r.say("client writes five full segments; the link loses the second")
	r.write(c, strings.Repeat("d", 5*1460))
	got, _ := r.read(s)
	r.say("each segment after the hole was answered at once with ack 1461 and a SACK block; when the blocks")
	r.say("showed three segments above the hole, the client resent it: the server reads all %d bytes", len(got))
}

func playLossyBulk(r *demoRun) {
	ln := r.listen(demoPort, 0)
	c, s := r.connect(ln, demoPort)
	const size = 256 << 10
	r.say("client writes %d bytes at once; the link loses the 30th, 90th, 91st and 150th data segments", size)
	r.write(c, string(make([]byte, size)))
	got := 0
	for r.err == nil && got < size {
		b, err := r.read(s)
		got += len(b)
		r.fail(err)
	}
	r.say("server read all %d bytes; synack demo --scenario lossy-bulk --plot FILE.svg draws the transfer", got)
}

func playZeroWindow(r *demoRun) {
	ln := r.listen(demoPort, 0)
	c, s := r.connect(ln, demoPort)
	r.say("server's receive buffer is 4096 bytes and it does not read; client writes 8192")
	from := r.mark()
	r.write(c, strings.Repeat("z", 8192))
	r.say("the window is closed: the client probes it when its persist timer fires")
	r.waitTimer(from, "client", "persist")
	from = r.mark()
	r.waitTimer(from, "client", "persist")
	r.say("server reads: its window opens, and the client sends what it could not")
	got, _ := r.read(s)
	r.say("server read %d bytes; it reads again", len(got))
	got, _ = r.read(s)
	r.say("server read %d bytes", len(got))
}

func playBacklogFull(r *demoRun) {
	ln := r.listen(demoPort, 1)
	r.say("the server's SYN queue holds 1 connection and its accept queue 1")
	r.say("two clients dial at once: the second SYN finds the SYN queue full and gets a SYN cookie")
	ds := r.startDials(demoPort, demoPort)
	ca, errA := r.finish(ds[0])
	cb, errB := r.finish(ds[1])
	r.fail(errors.Join(errA, errB))
	r.say("both clients are ESTABLISHED; the server dropped the second one's ACK: its accept queue was full")
	r.say("a third client dials: its SYN is dropped while the accept queue is full")
	from := r.mark()
	d := r.startDials(demoPort)[0]
	sa := r.accept(ln)
	if r.err != nil {
		return
	}
	r.say("the server accepts %v; the third client's SYN is retransmitted after 1 s and finds room", sa.RemoteAddr())
	r.waitTimer(from, "client", "retransmit")
	cd, err := r.finish(d)
	r.fail(err)
	sd := r.accept(ln)
	if r.err != nil {
		return
	}
	r.pairs = append(r.pairs, [2]*synack.Conn{ca, sa}, [2]*synack.Conn{cd, sd})
	r.say("the second client sends data: its segment still carries the cookie, and the server opens the connection from it")
	r.write(cb, "hello from the cookie\n")
	sb := r.accept(ln)
	if r.err != nil {
		return
	}
	r.pairs = append(r.pairs, [2]*synack.Conn{cb, sb})
	got, _ := r.read(sb)
	r.say("server reads %q from %v", strings.TrimSpace(got), sb.RemoteAddr())
}
