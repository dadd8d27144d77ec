package synack

import (
	"github.com/synack-go/synack/tcp"
	"github.com/synack-go/synack/wire"
)

// input handles a segment that reached this listener because no connection
// has its 4-tuple: RFC 9293 §3.10.7.2 (LISTEN state), with the SYN queue,
// SYN cookies and accept queue of a real socket. iss, when not zero, is the
// ISS of a SYN that reuses a TIME_WAIT 4-tuple.
// https://www.rfc-editor.org/rfc/rfc9293#section-3.10.7.2
func (l *Listener) input(key flowKey, seg *wire.TCPSegment, tx *txBatch, iss tcp.Seq) {
	s := l.s
	switch {
	case seg.Flags&wire.RST != 0:
		s.ctr.noConn.Add(1) // "An incoming RST should be ignored."
		s.traceDrop(key.local, key.remote, "no-socket")
		return
	case seg.Flags&wire.ACK != 0:
		// An ACK to LISTEN: the end of a cookie handshake, or a stray
		// that gets a RST.
		if seg.Flags&wire.SYN == 0 && l.acceptCookie(key, seg, tx) {
			return
		}
		s.ctr.noConn.Add(1)
		s.replyRST(key, seg, tx)
		return
	case seg.Flags&wire.SYN == 0:
		s.ctr.tcpDrops[tcp.DropInvalid].Add(1) // "drop the segment and return"
		s.traceDrop(key.local, key.remote, tcp.DropInvalid.String())
		return
	}
	l.mu.Lock()
	closed, full, synFull := l.closed, len(l.queue) >= l.backlog, len(l.halfOpen) >= s.synBacklog
	l.mu.Unlock()
	switch {
	case closed:
		s.ctr.noListener.Add(1)
		s.traceDrop(key.local, key.remote, "no-socket")
		return
	case full:
		// Linux drops SYNs while the accept queue is full; the client
		// retries after its RTO.
		s.ctr.acceptDrops.Add(1)
		s.traceDrop(key.local, key.remote, "accept-queue-full")
		return
	case l.refuse(key, seg, tx):
		return
	case synFull:
		l.sendCookie(key, seg, tx)
		return
	}
	now := tx.now()
	if iss == 0 {
		iss = s.isn.ISN(key.local, key.remote, now)
	}
	c := newConn(s, key)
	l.configure(c)
	c.mu.Lock()
	defer c.mu.Unlock()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		s.ctr.noListener.Add(1)
		return
	}
	l.conns.Add(1)
	c.listener, c.halfOpen = l, true
	l.halfOpen[c] = struct{}{}
	l.mu.Unlock()
	if !s.register(c) {
		c.halfOpen = false
		l.forget(c)
		l.conns.Add(-1)
		return
	}
	s.ctr.passive.Add(1)
	c.tcb.Listen(iss)
	c.tcb.Input(seg, now)
	c.pollLocked(now, tx)
}

// sendCookie answers a SYN without keeping state, with a SYN cookie in the
// SYN-ACK's sequence number (RFC 4987 §3.6), built by tcp.SynCookies.SynAck
// as the listener's TCBs would build it: window scale and SACK survive
// only with timestamps, where the cookie's TSval encodes them.
// https://www.rfc-editor.org/rfc/rfc4987#section-3.6
func (l *Listener) sendCookie(key flowKey, syn *wire.TCPSegment, tx *txBatch) {
	s := l.s
	s.cookies.SynAck(l.config(key.remote.Addr()), key.local, key.remote, syn, s.now(), s.tsOffset, &tx.scratch)
	s.ctr.cookiesSent.Add(1)
	tx.to(key.local.Addr(), key.remote.Addr())
	tx.Emit(&tx.scratch)
}

// acceptCookie opens a connection from the ACK that completes a cookie
// handshake. It reports whether the ACK carried a valid cookie (it may
// still be dropped when the accept queue is full).
func (l *Listener) acceptCookie(key flowKey, ack *wire.TCPSegment, tx *txBatch) bool {
	s := l.s
	now := s.now()
	opts, ok := s.cookies.Check(key.local, key.remote, ack, now)
	if !ok {
		return false
	}
	if l.queueFull() {
		s.ctr.acceptDrops.Add(1) // the client's retransmission may find room
		s.traceDrop(key.local, key.remote, "accept-queue-full")
		return true
	}
	if l.refuse(key, ack, tx) {
		return true
	}
	c := newConn(s, key)
	l.configure(c)
	c.mu.Lock()
	defer c.mu.Unlock()
	if !s.register(c) {
		return true
	}
	c.listener = l
	l.conns.Add(1)
	s.ctr.cookiesValid.Add(1)
	c.tcb.OpenFromCookie(ack, &opts, now)
	c.pollLocked(now, tx)
	if c.tcb.Established() && !c.gone {
		l.enqueueLocked(c)
	}
	return true
}

// refuse is refuseNew for the listener, which also refuses beyond
// Options.MaxConnsPerListener.
func (l *Listener) refuse(key flowKey, seg *wire.TCPSegment, tx *txBatch) bool {
	return l.s.refuseNew(key, seg, tx, int(l.conns.Load()) >= l.s.maxPerLn)
}

// refuseNew answers a SYN (or the ACK of a SYN cookie) with a RST, and
// reports true, when the stack takes no new connection: its memory budget
// is under pressure, or Options.MaxConns is reached, or full says the
// listener's own bound is. A refusal costs nothing to keep, unlike a
// SYN-ACK, and tells the client at once (ECONNREFUSED) rather than after
// its retries.
func (s *Stack) refuseNew(key flowKey, seg *wire.TCPSegment, tx *txBatch, full bool) bool {
	switch {
	case s.mem.UnderPressure():
		s.ctr.refusedMemory.Add(1)
		s.traceDrop(key.local, key.remote, "memory-pressure")
	case full || s.connCount() >= s.maxConns:
		s.ctr.refusedConnLimit.Add(1)
		s.traceDrop(key.local, key.remote, "too-many-connections")
	default:
		return false
	}
	s.replyRST(key, seg, tx)
	return true
}

// queueFull reports whether the accept queue has no room (or the listener
// is closed).
func (l *Listener) queueFull() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed || len(l.queue) >= l.backlog
}

// settle is where the end of a passive handshake, which publishState
// reports, reaches the listener: the connection leaves the SYN queue for
// the accept queue, or is forgotten if it died (c.mu held). It is the one
// place the listener's queues learn about a connection's state.
func (s *Stack) settle(c *Conn, end handshakeEnd) {
	l := c.listener
	l.forget(c)
	if end == handshakeEstablished {
		l.enqueueLocked(c)
	}
}

// forget removes c from the SYN queue.
func (l *Listener) forget(c *Conn) {
	l.mu.Lock()
	delete(l.halfOpen, c)
	l.mu.Unlock()
}

// enqueueLocked adds an established connection to the accept queue (c.mu
// held). A connection that finds the queue full (a race the SYN and ACK
// checks leave open) or the listener closed is reset.
func (l *Listener) enqueueLocked(c *Conn) {
	l.mu.Lock()
	if l.closed || len(l.queue) >= l.backlog {
		l.mu.Unlock()
		l.s.ctr.acceptDrops.Add(1)
		c.tcb.Abort()
		c.pollNow()
		return
	}
	if l.queue == nil {
		l.queue = l.first[:0]
	}
	l.queue = append(l.queue, c)
	l.mu.Unlock()
	signal(l.ready)
}
