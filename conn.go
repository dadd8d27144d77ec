package synack

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/synack-go/synack/tcp"
	"github.com/synack-go/synack/wire"
)

// Conn is one TCP connection: a net.Conn with the extras of *net.TCPConn
// (CloseRead, CloseWrite, SetLinger, SetNoDelay, keepalive, buffer sizes)
// and Stats. It is safe for concurrent use; concurrent Reads run one at a
// time, and so do concurrent Writes, so that the bytes of two Writes never
// interleave, as in package net.
//
// Errors are package net's: see the Read and Write docs.
type Conn struct {
	s   *Stack
	key flowKey

	rmu sync.Mutex // serializes Reads
	wmu sync.Mutex // serializes Writes

	mu       sync.Mutex // guards the TCB and every field below
	tcb      *tcp.TCB
	rdl, wdl deadline // read and write deadlines; 0 = none
	keepIdle time.Duration
	listener *Listener     // the listener that made it (its queues while halfOpen; its count until gone)
	timerAt  time.Duration // written under mu and the timer queue's lock: read under either
	lastNow  time.Duration // the latest time the TCB was given (monotonic)
	txHeld   *txBatch      // a held batch that took segments of the connection (txorder.go)
	txGen    uint32        // txHeld's generation then: while it is the same, they wait unwritten

	// rd and wr hold at most one "look again" token for the waiting Read
	// (or Dial) and Write. They are made by the first call that waits, so
	// an idle connection nobody reads has none. A token is never lost: it
	// is sent under mu after the waiter registered under mu.
	rd, wr chan struct{}

	wrLow      int32       // a Write waits on wr until this few bytes are queued; -1: none
	wrRoom     int32       // or until the buffer has grown past this room to half what is queued
	retrans    uint32      // retransmissions already added to the stack's count (mod 2^32)
	rxDeferred int32       // in-order bytes taken since the last Poll
	unlisted   atomic.Bool // out of the flow table (flowCache)
	timerIdx   int32       // position in the timer heap, -1: none; guarded by the timer queue
	txq        uint16      // the link queue the connection's packets leave by
	linger     int8        // < 0: Close sends a FIN (the default); 0: Close resets
	state      tcp.State   // the state publishState last saw
	closed     bool        // the user called Close
	gone       bool        // out of the flow table and the timer heap
	errSeen    bool        // the connection's error was returned once (Linux's sk_err)
	counted    bool        // counted in Stats.ConnsEstablished
	halfOpen   bool        // in the listener's SYN queue
	orphaned   bool        // closed by the user, still finishing: counted in the stack's orphans
	rdWait     bool        // a Read waits on rd
	rdPassed   bool        // on the wall clock, the read deadline has passed (conn_deadline.go)
	wdPassed   bool        // ... the write deadline
	rxPending  bool        // a read loop will poll the connection at the end of its batch
	repoll     bool        // txHeld will poll the connection again before it is written
	timerSet   bool        // in the timer heap at timerAt, or popped and onTimer not yet run
}

func newConn(s *Stack, key flowKey) *Conn {
	c := &Conn{s: s, key: key, linger: -1, wrLow: -1, timerIdx: -1, keepIdle: s.keepIdle, txq: uint16(s.lk.queueFor(key))}
	cfg := s.config(key.remote.Addr())
	c.tcb = tcp.New(cfg, key.local.Port(), key.remote.Port())
	c.tcb.SetTSOffset(s.tsOffset)
	c.tcb.SetObserver((*observer)(c))
	if c.keepIdle > 0 {
		c.tcb.SetKeepAlive(c.keepIdle, keepInterval(cfg, c.keepIdle), cfg.KeepAliveCount, 0)
	}
	return c
}

// keepInterval is the time between keepalive probes: the configured
// interval, else the idle time, as Go's net.KeepAliveConfig defaults.
func keepInterval(cfg *tcp.Config, idle time.Duration) time.Duration {
	if cfg.KeepAliveInterval > 0 {
		return cfg.KeepAliveInterval
	}
	return idle
}

// waitChan returns *ch, making it first (c.mu held).
func waitChan(ch *chan struct{}) chan struct{} {
	if *ch == nil {
		*ch = make(chan struct{}, 1)
	}
	return *ch
}

// signal leaves a token in ch unless one is there already; a nil ch (no
// one ever waited) takes none.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// inputResult is what Conn.input did with a segment.
type inputResult uint8

const (
	// inputDone: the TCB took the segment.
	inputDone inputResult = iota
	// inputGone: the connection was gone; nothing was done, and the
	// segment is the TIME_WAIT table's or a listener's.
	inputGone
	// inputNeedsRoom: the ACK that completes a passive handshake, not
	// taken: the caller checks the listener's accept queue first, then
	// calls input again with admitted set.
	inputNeedsRoom
)

// input runs one arriving segment through the TCB and emits the answers
// into tx (the read loop's batch), or says why it did not.
func (c *Conn) input(seg *wire.TCPSegment, tx *txBatch, admitted bool) inputResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gone {
		return inputGone
	}
	if !admitted && c.halfOpen && c.tcb.State() == tcp.StateSynReceived &&
		seg.Flags&(wire.SYN|wire.RST|wire.ACK) == wire.ACK {
		return inputNeedsRoom
	}
	now := c.monotonic(tx.now())
	rcv, _ := c.tcb.Buffered()
	c.tcb.Input(seg, now)
	if tx.deferPoll(c, seg, rcv) {
		return inputDone
	}
	c.pollLocked(now, tx)
	return inputDone
}

// pollLocked lets the TCB emit what is due into tx, then wakes waiters and
// updates the timer and the tables (c.mu held). While another goroutine's
// batch holds the connection's earlier segments unwritten, that goroutine
// polls it instead, into its batch, so that the segments leave in order
// (txorder.go); it also publishes the state then.
func (c *Conn) pollLocked(now time.Duration, tx *txBatch) {
	if h := c.txHeld; h != nil && h != tx && h.handOff(c) {
		return
	}
	now = c.monotonic(now)
	tx.forConn(c)
	c.rxDeferred = 0
	n := tx.emitted
	c.tcb.Poll(now, tx)
	if tx.held && tx.emitted != n {
		c.txHeld, c.txGen = tx, tx.gen
	}
	if ch := c.publishState(); ch != 0 {
		c.s.settle(c, ch)
	}
}

// monotonic returns now, or the latest time the TCB was given if that is
// later (c.mu held): a read loop's time is its read batch's (txBatch.now),
// which an application call may have passed meanwhile, and the TCB's
// clock must not go back: its timestamps (RFC 7323 §5.4) would, and the
// peer would drop the segments that carry them (PAWS).
func (c *Conn) monotonic(now time.Duration) time.Duration {
	if now < c.lastNow {
		return c.lastNow
	}
	c.lastNow = now
	return now
}

// nowLocked is the stack's time for an application call on the
// connection, never earlier than what its TCB was given (c.mu held).
func (c *Conn) nowLocked() time.Duration { return c.monotonic(c.s.now()) }

// pollNow is pollLocked for application calls: the segments go straight to
// the link in one batch (c.mu held).
func (c *Conn) pollNow() {
	tx := c.s.batches.get()
	c.pollLocked(c.s.now(), tx)
	c.s.batches.put(tx)
}

// pollLate is pollNow for Read, whose window update it cannot foresee
// before it locks c: it returns the writer whose queue took the batch, for
// the caller to wait for room in (txWriter.waitRoom) once c.mu is
// released, or nil. A read loop polling c meanwhile (the ACKs of every
// connection it serves) would otherwise wait behind the Read.
func (c *Conn) pollLate() *txWriter {
	tx := c.s.batches.get()
	c.pollLocked(c.s.now(), tx)
	return c.s.batches.putLate(tx)
}

// pollReserved is pollNow for Write, which reserved a place in w, its
// queue's writer, before it locked c (txWriter.reserve): it does not
// wait for room with c.mu held (c.mu held).
func (c *Conn) pollReserved(w *txWriter) {
	tx := c.s.batches.get()
	c.pollLocked(c.s.now(), tx)
	c.s.batches.putReserved(tx, w)
}

// onTimer runs when the TCB's deadline has passed: it fires the TCB's
// timers (retransmission, delayed ACK, persist, keepalive, TIME_WAIT) into
// tx, the timer goroutine's held batch.
func (c *Conn) onTimer(tx *txBatch) {
	c.mu.Lock()
	c.timerSet = false // popped: the poll's schedule puts it back
	if !c.gone {
		now := c.s.now()
		if c.s.clock == nil {
			c.deadlinesAt(now) // conn_deadline.go
		}
		c.pollLocked(now, tx)
	}
	c.mu.Unlock()
}

// handshakeEnd is what publishState reports for a connection in a
// listener's SYN queue: its handshake is over, one way or the other.
type handshakeEnd uint8

const (
	handshakeEstablished handshakeEnd = iota + 1 // for the accept queue
	handshakeFailed                              // reset or timed out: forget it
)

// publishState runs after every TCB call (c.mu held): it wakes whoever may
// proceed, reschedules the timer, and forgets a closed TCB (freeing its
// 4-tuple and port). For a connection in a listener's SYN queue it
// reports the end of the handshake, which the stack settles (settle).
func (c *Conn) publishState() handshakeEnd {
	t := c.tcb
	st := t.State()
	if st == tcp.StateTimeWait {
		c.enterTimeWait() // a small entry in the stack's table takes over
		st = t.State()
	}
	if r := uint32(t.Retransmits()); r != c.retrans {
		c.s.ctr.retrans.Add(uint64(r - c.retrans))
		c.retrans = r
	}
	if st != c.state {
		// Every state change may end a wait: the handshake (Dial),
		// the peer's FIN (Read), a reset or timeout (all).
		c.state = st
		signal(c.rd)
		signal(c.wr)
	} else {
		if c.rdWait && t.Readable() {
			signal(c.rd)
		}
		if c.wrLow >= 0 && t.Writable() {
			_, queued := t.Buffered()
			if room := t.SendSpace(); queued <= int(c.wrLow) || room > int(c.wrRoom) && room >= queued/2 {
				signal(c.wr)
			}
		}
	}
	est := t.Established()
	if est && !c.counted {
		c.counted = true
		c.s.ctr.established.Add(1)
	}
	// A passive TCB that a RST sent back to LISTEN is of no further use:
	// each SYN gets its own TCB.
	dead := st == tcp.StateClosed || st == tcp.StateListen
	if c.orphaned && (dead || st == tcp.StateTimeWait) {
		c.orphaned = false
		c.s.orphans.Add(-1)
		if err := t.Err(); err != nil && !errors.Is(err, syscall.ECONNRESET) {
			c.s.ctr.orphansTimedOut.Add(1) // retries, probes or keepalives exhausted
		}
	}
	var end handshakeEnd
	if c.halfOpen && (est || dead) {
		c.halfOpen = false
		end = handshakeFailed
		if est && !dead {
			end = handshakeEstablished
		}
	}
	if dead {
		if !c.gone {
			c.gone = true
			c.s.unregister(c)
			c.s.timers.remove(c)
			if c.listener != nil {
				c.listener.conns.Add(-1)
			}
		}
		return end
	}
	c.s.timers.schedule(c, c.deadlineWake(t.Deadline()))
	return end
}

// orphan counts the connection, just closed by its user, among the
// stack's orphans while it finishes (FIN_WAIT_1 to LAST_ACK), or resets it
// if there are Options.MaxOrphans already: Linux's tcp_max_orphans
// (c.mu held).
func (c *Conn) orphan() {
	switch c.tcb.State() {
	case tcp.StateClosed, tcp.StateListen, tcp.StateTimeWait:
		return
	}
	if c.s.orphans.Add(1) > int64(c.s.maxOrphans) {
		c.s.orphans.Add(-1)
		c.s.ctr.orphansReset.Add(1)
		c.s.traceDrop(c.key.local, c.key.remote, "too-many-orphans")
		c.tcb.Abort()
		return
	}
	c.orphaned = true
}

// abort resets the connection (RST to a synchronized peer) and wakes every
// waiter: for Stack.Close, Listener.Close and a cancelled Dial.
func (c *Conn) abort() {
	c.mu.Lock()
	c.tcb.Abort()
	c.pollNow()
	signal(c.rd)
	signal(c.wr)
	c.mu.Unlock()
}

// LocalAddr returns the local address, a *net.TCPAddr.
func (c *Conn) LocalAddr() net.Addr { return net.TCPAddrFromAddrPort(c.key.local) }

// RemoteAddr returns the peer's address, a *net.TCPAddr.
func (c *Conn) RemoteAddr() net.Addr { return net.TCPAddrFromAddrPort(c.key.remote) }

// Stats returns the connection's statistics, Linux's tcp_info: state, RTT
// and its variance, RTO and backoff, congestion window and threshold,
// bytes and segments each way, retransmissions and drops, buffer sizes,
// the receiver's RTT, and the recovery unit's and congestion control's
// state (tcp.RecoveryStats). It does not allocate.
func (c *Conn) Stats() tcp.Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tcb.Stats()
}

func (c *Conn) opErr(op string, err error) error {
	return opError(op, c.key.local, c.key.remote, err)
}
