package synack

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

// Read reads data from the connection, blocking until some is available.
// It returns io.EOF (bare, as package net does) after the peer's FIN and
// after CloseRead; an *net.OpError wrapping syscall.ECONNRESET after the
// peer's reset or syscall.ETIMEDOUT after retransmissions or keepalives
// gave up (or, instead, the ICMP error that explains why, such as
// EHOSTUNREACH); os.ErrDeadlineExceeded at the read deadline; net.ErrClosed
// after Close or Stack.Close. As on Linux, the connection's error is
// reported once, by whichever of Read and Write sees it first: later Reads
// return io.EOF and later Writes syscall.EPIPE.
func (c *Conn) Read(b []byte) (int, error) {
	if c.s.clock == nil {
		c.rmu.Lock()
	} else if err := c.s.clockLock(&c.rmu); err != nil {
		return 0, c.opErr("read", err)
	}
	defer c.rmu.Unlock()
	c.mu.Lock()
	var late *txWriter // pollLate's, waited for once c.mu is released
	defer func() {
		c.mu.Unlock()
		if late != nil {
			late.waitRoom()
		}
	}()
	for {
		if c.closed || c.s.closed.Load() {
			return 0, c.opErr("read", net.ErrClosed)
		}
		if c.readPassed() {
			return 0, c.opErr("read", os.ErrDeadlineExceeded)
		}
		if len(b) == 0 {
			return 0, nil
		}
		n, err := c.tcb.Read(b)
		if n > 0 {
			if c.tcb.Deadline() == 0 {
				// The window opened enough for an update (RFC 9293
				// §3.8.6.2.2), due now. Otherwise a read changes nothing
				// Poll acts on (its timers are in the queue already): no
				// poll, no clock read, no batch per read.
				late = c.pollLate()
			}
			return n, nil
		}
		if err == io.EOF {
			return 0, io.EOF
		}
		if err != nil {
			if c.errSeen {
				return 0, io.EOF
			}
			c.errSeen = true
			return 0, c.opErr("read", err)
		}
		c.rdWait = true
		ch, dl := waitChan(&c.rd), c.waitDeadline(c.rdl)
		c.mu.Unlock()
		err = c.s.waitToken(ch, dl, nil)
		c.mu.Lock()
		c.rdWait = false
		if err != nil {
			return 0, c.opErr("read", err)
		}
	}
}

// WaitRead blocks until a Read would not block: received data, the peer's
// FIN, a reset or timeout, or CloseRead. It returns nil then, and
// os.ErrDeadlineExceeded at the read deadline or net.ErrClosed after Close
// or Stack.Close, as Read would. A relay that takes a buffer only when
// there are bytes to copy waits with it, so that an idle connection holds
// no buffer (synack proxy does). It runs one at a time with Read.
func (c *Conn) WaitRead() error {
	if c.s.clock == nil {
		c.rmu.Lock()
	} else if err := c.s.clockLock(&c.rmu); err != nil {
		return c.opErr("read", err)
	}
	defer c.rmu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		switch {
		case c.closed || c.s.closed.Load():
			return c.opErr("read", net.ErrClosed)
		case c.readPassed():
			return c.opErr("read", os.ErrDeadlineExceeded)
		case c.tcb.Readable():
			return nil
		}
		c.rdWait = true
		ch, dl := waitChan(&c.rd), c.waitDeadline(c.rdl)
		c.mu.Unlock()
		err := c.s.waitToken(ch, dl, nil)
		c.mu.Lock()
		c.rdWait = false
		if err != nil {
			return c.opErr("read", err)
		}
	}
}

// Write writes b to the connection, blocking while the send buffer is
// full; it returns len(b) or an error, with the count of bytes written
// before it. Errors: an *net.OpError wrapping syscall.EPIPE after
// CloseWrite, or syscall.ECONNRESET (ETIMEDOUT) once after the peer's reset
// (a timeout) and syscall.EPIPE afterwards, as Linux does;
// os.ErrDeadlineExceeded at the write deadline; net.ErrClosed after Close
// or Stack.Close.
func (c *Conn) Write(b []byte) (int, error) {
	if c.s.clock == nil {
		c.wmu.Lock()
	} else if err := c.s.clockLock(&c.wmu); err != nil {
		return 0, c.opErr("write", err)
	}
	defer c.wmu.Unlock()
	// A place in the queue's writer for the batch of each poll, reserved
	// before c.mu is taken (txWriter.reserve); nil: batches are written
	// inline.
	w := c.s.lk.writer(int(c.txq))
	resv := w != nil
	if resv {
		w.reserve()
	}
	c.mu.Lock()
	defer func() {
		if resv {
			w.unreserve()
		}
		c.mu.Unlock()
	}()
	n := 0
	for {
		if c.closed || c.s.closed.Load() {
			return n, c.opErr("write", net.ErrClosed)
		}
		if c.writePassed() {
			return n, c.opErr("write", os.ErrDeadlineExceeded)
		}
		m, err := c.tcb.Write(b[n:])
		n += m
		if m > 0 {
			if resv {
				resv = false
				c.pollReserved(w)
			} else {
				c.pollNow()
			}
		}
		if err != nil {
			if !errors.Is(err, syscall.EPIPE) {
				if c.errSeen {
					err = syscall.EPIPE
				}
				c.errSeen = true
			}
			return n, c.opErr("write", err)
		}
		if n == len(b) {
			return n, nil
		}
		// Sleep until a third of the queue has drained, not until the
		// first ACK frees a few bytes: fewer, larger copies and wakeups.
		// Linux's sk_stream_write_space wakes the writer once the free
		// space is half what is queued, a third of a full buffer. Half
		// the buffer was too late: a sender whose flight is half of it
		// (BBR's Startup cwnd, 2 BDPs, in a buffer of 4) had sent every
		// byte before the writer woke, the rate sampler marked the
		// connection app-limited at each Write, and BBR, which needs
		// samples that are not, never left Startup: a standing queue of a
		// BDP (BenchmarkBufferbloat, 20 ms at 200 Mbit/s).
		//
		// Or until autotuning has grown the buffer (tcp/sndbuf.go) to
		// free space of half what is queued, as Linux's tcp_new_space
		// calls sk_write_space after tcp_sndbuf_expand. What is queued
		// drains only as the cumulative ACK advances, and after a loss
		// the data SACKed behind the hole waits for its retransmission,
		// a round trip and a queue: BBR's Startup on a 20 ms, 200 Mbit/s
		// path with a one-BDP queue sent all 1.6 MB written while the
		// buffer grew to 4 MB, the flight ran dry, and the 1 MB window
		// then left at Startup's pacing gain of 2.77 and overflowed the
		// queue (TestWriterWakesOnSendBufGrowth). The room the buffer had
		// when the writer slept does not count: a ring that the memory
		// budget kept from growing (buffer.go) takes no more.
		_, queued := c.tcb.Buffered()
		c.wrLow = int32(queued * 2 / 3)
		c.wrRoom = int32(c.tcb.SendSpace())
		ch, dl := waitChan(&c.wr), c.waitDeadline(c.wdl)
		if resv {
			resv = false
			w.unreserve()
		}
		c.mu.Unlock()
		err = c.s.waitToken(ch, dl, nil)
		if w != nil {
			w.reserve()
			resv = true
		}
		c.mu.Lock()
		c.wrLow = -1
		if err != nil {
			return n, c.opErr("write", err)
		}
	}
}

// Close closes the connection; blocked Reads and Writes return
// net.ErrClosed. By default the FIN handshake goes on in the background
// after Close returns, and the stack keeps the connection until it ends
// (TIME_WAIT included). With SetLinger(0), or with received data left
// unread, Close resets the connection instead (RST), as Linux does. A
// second Close returns net.ErrClosed.
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
		c.tcb.Close(c.nowLocked())
		c.orphan()
	}
	c.pollNow()
	signal(c.rd)
	signal(c.wr)
	return nil
}

// CloseWrite shuts down the sending side: a FIN follows the data already
// written (a half-close), later Writes fail with syscall.EPIPE, and Read
// goes on until the peer's FIN. It returns net.ErrClosed after Close.
func (c *Conn) CloseWrite() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return c.opErr("close", net.ErrClosed)
	}
	c.tcb.Shutdown(c.nowLocked())
	c.pollNow()
	signal(c.wr)
	return nil
}

// CloseRead shuts down the reading side: Reads return io.EOF, and data that
// arrives later is acknowledged and discarded. It returns net.ErrClosed
// after Close.
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

// SetDeadline sets the read and write deadlines, as net.Conn defines them:
// zero means none, a time already past fails calls at once, and blocked
// calls see the new deadline at once.
func (c *Conn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.rdl = c.s.deadlineAt(t)
	c.wdl = c.rdl
	c.setDeadlines()
	signal(c.rd)
	signal(c.wr)
	c.mu.Unlock()
	return nil
}

// SetReadDeadline sets the read deadline; see SetDeadline.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.rdl = c.s.deadlineAt(t)
	c.setDeadlines()
	signal(c.rd)
	c.mu.Unlock()
	return nil
}

// SetWriteDeadline sets the write deadline; see SetDeadline. A Write that
// times out may have written part of its data.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.wdl = c.s.deadlineAt(t)
	c.setDeadlines()
	signal(c.wr)
	c.mu.Unlock()
	return nil
}
