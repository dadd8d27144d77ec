package synack

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/synack-go/synack/tcp"
	"github.com/synack-go/synack/trace"
	"github.com/synack-go/synack/wire"
)

// Conn is one TCP connection: a net.Conn with the extras of *net.TCPConn.
// It is safe for concurrent use: one Read and one Write may run at once
// with any other calls.
type Conn struct {
	s   *Stack
	key flowKey

	mu        sync.Mutex // guards everything below and the TCB
	tcb       *tcp.TCB
	rdl, wdl  time.Time // read and write deadlines; zero = none
	closed    bool      // the user called Close
	linger    int       // -1 = default (FIN), 0 = abort with RST
	gone      bool      // removed from the flow table
	reported  bool      // ECONNRESET already returned once
	listener  *Listener // set while half-open or waiting in the accept queue
	halfOpen  bool
	estClosed bool
	retrans   uint64 // retransmissions already added to the stack's count

	rd, wr chan struct{} // capacity 1: "look again" signals for Read and Write
	est    chan struct{} // closed when the handshake ends, either way

	timerAt  time.Duration // guarded by the stack's timer queue
	timerIdx int
}

func newConn(s *Stack, key flowKey) *Conn {
	c := &Conn{s: s, key: key, linger: -1, timerIdx: -1,
		rd: make(chan struct{}, 1), wr: make(chan struct{}, 1), est: make(chan struct{})}
	c.tcb = tcp.New(s.config(key.remote.Addr()), key.local.Port(), key.remote.Port())
	c.tcb.SetTSOffset(s.tsOffset)
	c.tcb.SetObserver(c)
	if s.keep > 0 {
		c.tcb.SetKeepAlive(s.keep, 0, 0, s.now())
	}
	return c
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// input runs one arriving segment through the TCB. It returns false, doing
// nothing, when the segment is a SYN that RFC 6191 lets reuse this 4-tuple
// in TIME_WAIT: the connection is then closed and forgotten.
func (c *Conn) input(seg *wire.TCPSegment, tx *txBatch) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tcb.State() == tcp.StateTimeWait && c.tcb.AcceptsNewSYN(seg) {
		c.tcb.Abort()
		c.afterOp()
		return false
	}
	now := c.s.now()
	c.tcb.Input(seg, now)
	c.pollLocked(now, tx)
	return true
}

// pollLocked lets the TCB emit what is due into tx, then updates waiters,
// timers and tables.
func (c *Conn) pollLocked(now time.Duration, tx *txBatch) {
	tx.to(c.key.local.Addr(), c.key.remote.Addr())
	c.tcb.Poll(now, tx)
	c.afterOp()
}

// pollNow runs pollLocked with a batch of its own and flushes it: for
// application calls, which write their segments straight to the link.
func (c *Conn) pollNow() {
	tx := c.s.getBatch()
	c.pollLocked(c.s.now(), tx)
	c.s.putBatch(tx)
}

// afterOp wakes whoever may proceed, moves a handshake's end to the
// listener or dialer, reschedules the timer and forgets a closed TCB.
func (c *Conn) afterOp() {
	t := c.tcb
	st := t.State()
	if r := t.Retransmits(); r != c.retrans {
		c.s.ctr.retrans.Add(r - c.retrans)
		c.retrans = r
	}
	if t.Readable() {
		signal(c.rd)
	}
	if t.Writable() {
		signal(c.wr)
	}
	dead := st == tcp.StateClosed || (st == tcp.StateListen && c.listener != nil)
	if !c.estClosed && (t.Established() || dead) {
		c.estClosed = true
		close(c.est)
		if t.Established() {
			c.s.ctr.opened.Add(1)
		}
	}
	if c.halfOpen && (t.Established() || dead) {
		c.halfOpen = false
		c.listener.handshakeDone(c, t.Established() && !dead)
	}
	if dead {
		if !c.gone {
			c.gone = true
			c.s.unregister(c)
			c.s.timers.remove(c)
		}
		return
	}
	c.s.timers.schedule(c, t.Deadline())
}

// onTimer runs when the TCB's deadline has passed.
func (c *Conn) onTimer(tx *txBatch) {
	c.mu.Lock()
	if !c.gone {
		c.pollLocked(c.s.now(), tx)
	}
	c.mu.Unlock()
}

// abort resets the connection (RST to the peer) and wakes every waiter.
func (c *Conn) abort() {
	c.mu.Lock()
	c.tcb.Abort()
	c.pollNow()
	c.mu.Unlock()
	signal(c.rd)
	signal(c.wr)
}

// Read reads data from the connection. It returns io.EOF after the peer's
// FIN, an error wrapping syscall.ECONNRESET after a reset,
// os.ErrDeadlineExceeded at the read deadline and net.ErrClosed after Close.
func (c *Conn) Read(b []byte) (int, error) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return 0, c.opErr("read", net.ErrClosed)
		}
		if expired(c.rdl) {
			c.mu.Unlock()
			return 0, c.opErr("read", os.ErrDeadlineExceeded)
		}
		if len(b) == 0 {
			c.mu.Unlock()
			return 0, nil
		}
		n, err := c.tcb.Read(b)
		if n > 0 {
			c.pollNow() // a window update may be due
			c.mu.Unlock()
			return n, nil
		}
		if err != nil {
			c.mu.Unlock()
			if err == io.EOF {
				return 0, io.EOF
			}
			c.reported = true
			return 0, c.opErr("read", err)
		}
		dl := c.rdl
		c.mu.Unlock()
		if err := c.wait(c.rd, dl); err != nil {
			return 0, c.opErr("read", err)
		}
	}
}

// Write writes b to the connection, blocking while the send buffer is full.
// After the peer's reset it returns an error wrapping syscall.ECONNRESET
// once and syscall.EPIPE afterwards (as Linux does); after CloseWrite,
// syscall.EPIPE.
func (c *Conn) Write(b []byte) (int, error) {
	n := 0
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return n, c.opErr("write", net.ErrClosed)
		}
		if expired(c.wdl) {
			c.mu.Unlock()
			return n, c.opErr("write", os.ErrDeadlineExceeded)
		}
		m, err := c.tcb.Write(b[n:])
		n += m
		if m > 0 {
			c.pollNow()
		}
		if err != nil {
			if errors.Is(err, syscall.ECONNRESET) && c.reported {
				err = syscall.EPIPE
			}
			c.reported = true
			c.mu.Unlock()
			return n, c.opErr("write", err)
		}
		if n == len(b) {
			c.mu.Unlock()
			return n, nil
		}
		dl := c.wdl
		c.mu.Unlock()
		if err := c.wait(c.wr, dl); err != nil {
			return n, c.opErr("write", err)
		}
	}
}

// wait blocks until ch is signalled, the deadline passes, or the stack
// closes.
func (c *Conn) wait(ch chan struct{}, deadline time.Time) error {
	if deadline.IsZero() {
		select {
		case <-ch:
			return nil
		case <-c.s.done:
			return net.ErrClosed
		}
	}
	d := time.Until(deadline)
	if d <= 0 {
		return os.ErrDeadlineExceeded
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return nil
	case <-t.C:
		return os.ErrDeadlineExceeded
	case <-c.s.done:
		return net.ErrClosed
	}
}

// expired reports whether a deadline is set and has passed: such a deadline
// fails calls at once, even when data is ready, as in package net.
func expired(deadline time.Time) bool {
	return !deadline.IsZero() && !time.Now().Before(deadline)
}

func (c *Conn) opErr(op string, err error) error {
	return opError(op, c.key.local, c.key.remote, err)
}

// Close closes the connection. By default the FIN handshake goes on in the
// background after Close returns; with SetLinger(0), or with received data
// left unread, the connection is reset instead (RST), as Linux does. Close
// returns net.ErrClosed if called twice.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return c.opErr("close", net.ErrClosed)
	}
	c.closed = true
	if c.linger == 0 {
		c.tcb.Abort()
	} else {
		c.tcb.Close(c.s.now())
	}
	c.pollNow()
	signal(c.rd)
	signal(c.wr)
	return nil
}

// CloseWrite shuts down the sending side: a FIN follows the data already
// written (a half-close); reading goes on until the peer's FIN.
func (c *Conn) CloseWrite() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return c.opErr("close", net.ErrClosed)
	}
	c.tcb.Shutdown(c.s.now())
	c.pollNow()
	return nil
}

// CloseRead shuts down the reading side: later reads return io.EOF, and
// data that arrives is acknowledged and discarded.
func (c *Conn) CloseRead() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return c.opErr("close", net.ErrClosed)
	}
	c.tcb.CloseRead()
	c.pollNow()
	signal(c.rd)
	return nil
}

// LocalAddr returns the local address as a *net.TCPAddr.
func (c *Conn) LocalAddr() net.Addr { return net.TCPAddrFromAddrPort(c.key.local) }

// RemoteAddr returns the peer's address as a *net.TCPAddr.
func (c *Conn) RemoteAddr() net.Addr { return net.TCPAddrFromAddrPort(c.key.remote) }

// SetDeadline sets the read and write deadlines; see net.Conn.
func (c *Conn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.rdl, c.wdl = t, t
	c.mu.Unlock()
	signal(c.rd)
	signal(c.wr)
	return nil
}

// SetReadDeadline sets the read deadline; a blocked Read re-checks it at
// once.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.rdl = t
	c.mu.Unlock()
	signal(c.rd)
	return nil
}

// SetWriteDeadline sets the write deadline; a blocked Write re-checks it at
// once.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.wdl = t
	c.mu.Unlock()
	signal(c.wr)
	return nil
}

// SetLinger sets what Close does: sec < 0 (the default) sends a FIN and
// finishes in the background; sec == 0 aborts with a RST. Positive values
// behave like the default.
func (c *Conn) SetLinger(sec int) error {
	c.mu.Lock()
	c.linger = sec
	c.mu.Unlock()
	return nil
}

// SetNoDelay turns Nagle's algorithm off (true, the default) or on.
func (c *Conn) SetNoDelay(noDelay bool) error {
	c.mu.Lock()
	c.tcb.SetNoDelay(noDelay)
	c.pollNow()
	c.mu.Unlock()
	return nil
}

// SetKeepAlive turns keepalive probes on (with the current period) or off.
func (c *Conn) SetKeepAlive(on bool) error {
	d := time.Duration(0)
	if on {
		d = c.s.keep
		if d <= 0 {
			d = defaultKeepAlive
		}
	}
	return c.setKeepAlive(d)
}

// SetKeepAlivePeriod sets the idle time before the first keepalive probe
// and between probes, and turns keepalive on.
func (c *Conn) SetKeepAlivePeriod(d time.Duration) error {
	if d <= 0 {
		return c.opErr("set", syscall.EINVAL)
	}
	return c.setKeepAlive(d)
}

func (c *Conn) setKeepAlive(d time.Duration) error {
	c.mu.Lock()
	c.tcb.SetKeepAlive(d, d, 0, c.s.now())
	c.s.timers.schedule(c, c.tcb.Deadline())
	c.mu.Unlock()
	return nil
}

// SetReadBuffer sets the receive buffer size in bytes. It takes effect only
// before the connection is established (the window scale is fixed then).
func (c *Conn) SetReadBuffer(bytes int) error {
	if bytes <= 0 {
		return c.opErr("set", syscall.EINVAL)
	}
	c.mu.Lock()
	c.tcb.SetBuffers(0, bytes)
	c.mu.Unlock()
	return nil
}

// SetWriteBuffer sets the send buffer size in bytes.
func (c *Conn) SetWriteBuffer(bytes int) error {
	if bytes <= 0 {
		return c.opErr("set", syscall.EINVAL)
	}
	c.mu.Lock()
	c.tcb.SetBuffers(bytes, 0)
	signal(c.wr)
	c.mu.Unlock()
	return nil
}

// Stats returns the connection's statistics: state, RTT, RTO, congestion
// window, bytes and segments each way, retransmissions.
func (c *Conn) Stats() tcp.Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tcb.Stats()
}

// StateChanged implements tcp.Observer for tracing.
func (c *Conn) StateChanged(from, to tcp.State, why string) {
	if c.s.tracer != nil {
		c.s.trace(&trace.Event{Kind: trace.StateChange, Local: c.key.local, Remote: c.key.remote,
			From: from.String(), To: to.String(), Why: why})
	}
}

// TimerFired implements tcp.Observer for tracing.
func (c *Conn) TimerFired(name string) {
	if c.s.tracer != nil {
		c.s.trace(&trace.Event{Kind: trace.Timer, Local: c.key.local, Remote: c.key.remote, Why: name})
	}
}

// Dropped implements tcp.Observer: it counts the drop and traces it.
func (c *Conn) Dropped(r tcp.DropReason) {
	c.s.ctr.tcpDrops[r].Add(1)
	if c.s.tracer != nil {
		c.s.trace(&trace.Event{Kind: trace.Drop, Local: c.key.local, Remote: c.key.remote, Why: r.String()})
	}
}

// CongestionChanged implements tcp.Observer for tracing.
func (c *Conn) CongestionChanged(cwnd, ssthresh uint32) {
	if c.s.tracer != nil {
		c.s.trace(&trace.Event{Kind: trace.Congestion, Local: c.key.local, Remote: c.key.remote, Cwnd: cwnd, Ssthresh: ssthresh})
	}
}
