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
	"time"

	"github.com/synack-go/synack"
	"github.com/synack-go/synack/link"
	"github.com/synack-go/synack/link/pcap"
	"github.com/synack-go/synack/link/pipe"
	"github.com/synack-go/synack/sim"
	"github.com/synack-go/synack/tcp"
	"github.com/synack-go/synack/trace"
)

// The demo's two hosts.
var (
	demoClientAddr = netip.MustParsePrefix("10.0.0.1/24")
	demoServerAddr = netip.MustParsePrefix("10.0.0.2/24")
)

// Tunables every demo stack shares. TCP timestamps are off to keep the
// lines short; TIME_WAIT is short so that a scenario can show it end.
const (
	demoTimeWait = 200 * time.Millisecond
	demoWait     = 5 * time.Second // the longest any step may take, in virtual time
	demoSeed     = 1               // the simulation's seed (for random impairments)
)

// demoRun is one scenario being played: two stacks on one simulation,
// joined by its link, and the steps that drive them. The scenario runs on
// the simulation's main goroutine, so every event has one place in the
// trace and one virtual time, on a busy machine as on an idle one. A failed
// step records the error and every later step does nothing, so a scenario
// reads as a straight list of steps; run reports the first error.
type demoRun struct {
	sim            *sim.Sim
	pipe           [2]*sim.Endpoint // the link's client and server ends
	out            io.Writer
	tracer         *demoTracer
	client, server *synack.Stack
	pairs          [][2]*synack.Conn // connections whose two ends the scenario holds
	capture        *gateWriter       // the client's capture, or nil
	err            error
}

// gateWriter passes writes through until it is shut, then drops them: the
// capture ends with the trace, before the stacks close.
type gateWriter struct {
	w  io.Writer
	on bool
}

func (g *gateWriter) Write(p []byte) (int, error) {
	if !g.on {
		return len(p), nil
	}
	return g.w.Write(p)
}

// demoOptions shape the stacks of a scenario and their link.
type demoOptions struct {
	link       pipe.Config       // the link's delay and rate; zero Delay means demoDelay
	serverTCP  func(*tcp.Config) // changes to the server's connection tunables
	synBacklog int
	cwnd       bool
	losses     []*lossRule
	pcap       io.Writer // where to capture the client's traffic, or nil
	times      bool
	absolute   bool // absolute sequence numbers, as tcpdump -S
}

// newDemoRun starts the simulation and the two stacks on it. The caller's
// goroutine becomes the simulation's main one.
func newDemoRun(w io.Writer, o demoOptions) (*demoRun, error) {
	l := &losses{rules: o.losses}
	s := sim.New(sim.Config{Seed: demoSeed})
	r := &demoRun{sim: s, out: w, tracer: newDemoTracer(w, o.cwnd, o.times, o.absolute, l)}
	var ends [2]link.Endpoint
	r.pipe, ends = demoLink(s, o.link, l)
	if o.pcap != nil {
		r.capture = &gateWriter{w: o.pcap, on: true}
		pe, err := pcap.Wrap(ends[0], r.capture, pcap.Config{Now: s.Now})
		if err != nil {
			s.Close()
			return nil, err
		}
		ends[0] = pe
	}
	var err error
	if r.client, err = r.stack(ends[0], "client", demoClientAddr, 1, nil, 0); err != nil {
		s.Close()
		return nil, err
	}
	if r.server, err = r.stack(ends[1], "server", demoServerAddr, 2, o.serverTCP, o.synBacklog); err != nil {
		r.client.Close()
		s.Close()
		return nil, err
	}
	return r, nil
}

// stack makes one of the two stacks on the simulation, its randomness
// seeded with seed so that its ports, ISNs and keys are the same in every
// scenario and every run.
func (r *demoRun) stack(ep link.Endpoint, name string, addr netip.Prefix, seed byte, tune func(*tcp.Config), synBacklog int) (*synack.Stack, error) {
	cfg := tcp.Config{DisableTimestamps: true, TimeWait: demoTimeWait}
	if tune != nil {
		tune(&cfg)
	}
	var key [32]byte
	key[0] = seed
	return synack.NewStack(ep, synack.Options{
		Name: name, Addrs: []netip.Prefix{addr}, Tracer: r.tracer, TCP: cfg,
		Clock: r.sim, Rand: rand.NewChaCha8(key), KeepAlive: -1, SynBacklog: synBacklog,
	})
}

// close stops the trace and the capture, then both stacks and the
// simulation.
func (r *demoRun) close() {
	r.tracer.setOn(false)
	if r.capture != nil {
		r.capture.on = false
	}
	r.client.Close()
	r.server.Close()
	r.sim.Close()
}

// fail records the first error.
func (r *demoRun) fail(err error) {
	if r.err == nil && err != nil {
		r.err = err
	}
}

// errStuck is what waits return when a scenario does not reach the state
// it waits for: a bug, reported rather than hung on.
var errStuck = errors.New("demo: the scenario is stuck")

// wait runs the simulation until cond holds, for at most demoWait of
// virtual time, and fails the scenario if it does not.
func (r *demoRun) wait(what string, cond func() bool) {
	if r.err != nil {
		return
	}
	if err := r.sim.Wait(cond, r.sim.Now().Add(demoWait)); err != nil {
		r.fail(fmt.Errorf("%w waiting for %s: %w", errStuck, what, err))
	}
}

// say narrates, as a comment line between the trace's lines.
func (r *demoRun) say(format string, args ...any) {
	if r.err == nil {
		fmt.Fprintf(r.out, "# "+format+"\n", args...)
	}
}

// settle runs the simulation until the link is quiet and every delayed
// ACK has gone out: nothing in flight or waiting to be read, each end of
// each pair the scenario holds has had acknowledged all the data the other
// end received, and nothing else is due at this instant. Then the next
// step starts from rest.
func (r *demoRun) settle() {
	for r.err == nil {
		r.wait("the link to settle", r.rested)
		if r.err == nil {
			r.fail(r.sim.RunFor(0)) // whatever else is due now
		}
		if r.rested() {
			return
		}
	}
}

// rested reports whether the link is quiet and every pair's data acknowledged.
func (r *demoRun) rested() bool {
	if unread(r.pipe[0], r.pipe[1]) > 0 || unread(r.pipe[1], r.pipe[0]) > 0 {
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
	return true
}

// do runs one step of the scenario: from rest, fn, then until rest again.
// fn runs at one virtual instant unless it blocks (a read waiting for its
// data), and what it sends leaves in the order it sent it.
func (r *demoRun) do(fn func() error) {
	if r.err != nil {
		return
	}
	r.settle()
	r.fail(fn())
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
		r.tracer.listening(r.sim.Elapsed(), ln.Addr().(*net.TCPAddr).AddrPort())
	}
	return ln
}

// dialing is a Dial under way on a goroutine of the simulation.
type dialing struct {
	done bool
	conn *synack.Conn
	err  error
}

// startDials starts one Dial from the client to each address, in order,
// and returns once each SYN has been written: the SYNs are in flight
// together.
func (r *demoRun) startDials(addrs ...string) []*dialing {
	ds := make([]*dialing, len(addrs))
	for i := range ds {
		ds[i] = &dialing{}
	}
	if r.err != nil {
		for _, d := range ds {
			d.err, d.done = r.err, true
		}
		return ds
	}
	r.settle()
	for i, d := range ds {
		r.goDial(d, func(ctx context.Context) (*synack.Conn, error) {
			c, err := r.client.DialContext(ctx, "tcp", addrs[i])
			if err != nil {
				return nil, err
			}
			return c.(*synack.Conn), nil
		})
	}
	r.fail(r.sim.RunFor(0)) // each dial sends its SYN and waits for the answer
	return ds
}

// goDial runs dial on a goroutine of the simulation, with a deadline of
// demoWait in virtual time, and records its outcome in d.
func (r *demoRun) goDial(d *dialing, dial func(context.Context) (*synack.Conn, error)) {
	r.sim.Go(func() {
		ctx, cancel := r.sim.WithTimeout(context.Background(), demoWait)
		defer cancel()
		d.conn, d.err = dial(ctx)
		d.done = true
	})
}

// finish waits for a Dial to end and the link to settle, and returns its
// connection or error.
func (r *demoRun) finish(d *dialing) (*synack.Conn, error) {
	r.wait("a dial to end", func() bool { return d.done })
	if !d.done {
		return nil, r.err
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
		ln.SetDeadline(r.sim.Now().Add(demoWait))
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
		c.SetReadDeadline(r.sim.Now().Add(demoWait))
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

// waitFor runs the simulation until the trace holds an event after the
// first `from` that match accepts, then settles.
func (r *demoRun) waitFor(what string, from int, match func(e *trace.Event) bool) {
	next := from // the first event not looked at yet
	r.wait(what, func() bool {
		if r.tracer.rec.Len() == next {
			return false
		}
		evs := r.tracer.rec.Events()
		for ; next < len(evs); next++ {
			if match(&evs[next]) {
				return true
			}
		}
		return false
	})
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
