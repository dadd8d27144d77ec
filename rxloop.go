package synack

import (
	"net/netip"
	"time"

	"github.com/synack-go/synack/link"
	"github.com/synack-go/synack/tcp"
	"github.com/synack-go/synack/trace"
	"github.com/synack-go/synack/wire"
)

// startReaders starts one read loop per link queue, and a writer per
// queue on links with offloads.
func (s *Stack) startReaders() {
	for q := range s.lk.queues {
		r := s.newRxLoop(q)
		if il := s.lk.inliner(q); il != nil && s.clock == nil {
			// On a Clock's virtual time every goroutine is the Clock's
			// to schedule: packets go through the read loop there.
			il.SetInline(r.batch)
		}
		s.spawn(r.run)
	}
	for i := range s.lk.writers {
		s.spawn(s.lk.writers[i].run)
	}
}

// rxLoop is the state of link queue q's reader: its read loop's, and that
// of the link's writers who run its work inline (link.Inliner) while the
// loop waits in a read, never at the same time.
type rxLoop struct {
	s     *Stack
	q     int
	bufs  [][]byte
	pkts  [][]byte // the packets of bufs, headroom cut off
	sizes []int
	meta  []link.Meta
	split []byte // scratch for inputSegments, made on first use
	tx    *txBatch
	seg   wire.TCPSegment
	ev    trace.Event
}

func (s *Stack) newRxLoop(q int) *rxLoop {
	lk := &s.lk
	r := &rxLoop{s: s, q: q, bufs: make([][]byte, lk.rxCount)}
	slab := make([]byte, len(r.bufs)*lk.rxBuf)
	for i := range r.bufs {
		r.bufs[i] = slab[i*lk.rxBuf : (i+1)*lk.rxBuf : (i+1)*lk.rxBuf]
	}
	r.sizes = make([]int, len(r.bufs))
	r.pkts = make([][]byte, len(r.bufs))
	if lk.offload {
		r.meta = make([]link.Meta, len(r.bufs))
	}
	r.tx = newTxBatch(s, true)
	r.tx.q = q
	r.tx.rx = &rxState{on: lk.batchACKs}
	return r
}

// run is the read loop, the goroutine of link queue q: it reads batches of
// packets into buffers it reuses and hands each batch to batch.
func (r *rxLoop) run() {
	lk := &r.s.lk
	for {
		var n int
		var err error
		if lk.offload {
			n, err = lk.oq[r.q].ReadPackets(r.bufs, r.sizes, r.meta)
		} else {
			n, err = lk.queues[r.q].ReadBatch(r.bufs, r.sizes)
		}
		if err != nil {
			return // the link is closed: Stack.Close
		}
		for i := range n {
			r.pkts[i] = r.bufs[i][lk.headroom : lk.headroom+r.sizes[i]]
		}
		var meta []link.Meta
		if r.meta != nil {
			meta = r.meta[:n]
		}
		r.batch(r.pkts[:n], meta)
	}
}

// batch runs a batch of packets to completion, polls the connections whose
// answers it deferred (rxState), then writes what they produced in one
// batch (release). The read loop calls it with what it read, and a link's
// writer with what it delivers on its own goroutine (link.Inliner): as
// Linux's loopback, the sender runs the receiver's input, and the read
// loop is not woken. meta is nil on a link without offloads.
func (r *rxLoop) batch(pkts [][]byte, meta []link.Meta) {
	r.tx.rx.now = r.s.now()
	for i, p := range pkts {
		var m *link.Meta
		if meta != nil {
			m = &meta[i]
		}
		r.packet(p, m)
	}
	r.tx.pollDeferred()
	if r.s.mem.UnderPressure() {
		r.s.relieve(r.tx)
	}
	r.tx.release()
}

// packet runs one packet to completion; m is its metadata on a link with
// offloads, else nil.
func (r *rxLoop) packet(pkt []byte, m *link.Meta) {
	checked := false
	if m != nil {
		if m.GSO == link.GSOUDPL4 {
			// Datagrams the kernel sent as one (UDP_SEGMENT): each
			// is a datagram of its own for the sockets.
			r.s.inputSegments(pkt, m, &r.split, &r.seg, &r.ev, r.tx)
			return
		}
		// The kernel's own packets (or the pipe's other end's)
		// whose checksum was never filled, or one it checked;
		// TCP packets it coalesced (TSO, GRO) go in whole.
		checked = m.Flags&(link.NeedsChecksum|link.ChecksumValid) != 0
	}
	r.s.input(pkt, checked, &r.seg, &r.ev, r.tx)
}

// inputSegments cuts a packet the link marked for segmentation into its
// segments (link.Segment), checksums filled, and inputs each; one it
// cannot cut is dropped as malformed. *split is the scratch, made on first
// use.
func (s *Stack) inputSegments(pkt []byte, m *link.Meta, split *[]byte, seg *wire.TCPSegment, ev *trace.Event, tx *txBatch) {
	if *split == nil {
		*split = make([]byte, 65535)
	}
	err := link.Segment(pkt, m, *split, func(b []byte) { s.input(b, true, seg, ev, tx) })
	if err != nil {
		s.ctr.packetsIn.Add(1)
		s.ctr.malformed.Add(1)
		s.traceDrop(netip.AddrPort{}, netip.AddrPort{}, "malformed-gso")
	}
}

// rxState is what a read loop's batch remembers between the packets of a
// read batch: the time it was read, and the connections whose Poll it
// deferred.
type rxState struct {
	now     time.Duration // when the read batch was read (txBatch.now)
	on      bool          // Options.BatchACKs
	pending []*Conn
	flows   flowCache
}

// now is the stack's time for the segments the batch answers. A read
// loop's is the time its read batch arrived, read once for the whole
// batch: all its packets were there by then, and the clock costs tens of
// nanoseconds a reading on a virtual machine. (smoltcp's interface is
// polled with one timestamp the same way.) Other batches read the clock.
func (b *txBatch) now() time.Duration {
	if b.rx != nil {
		return b.rx.now
	}
	return b.s.now()
}

// stretchACKBytes bounds how much in-order data one deferred Poll answers:
// Linux acknowledges each GRO packet, which holds at most 64 KiB, and
// compresses at most 44 SACKs (tcp_comp_sack_nr).
const stretchACKBytes = 64 << 10

// deferPoll decides, after c's TCB took seg (c.mu held), whether the Poll
// that answers it may wait for the end of the read batch; if so it notes c
// for pollDeferred. rcvBefore is the TCB's in-order receive buffer before
// seg. It defers only in ESTABLISHED, for a pure ACK or data that went in
// order while no data above a hole is held, up to stretchACKBytes:
// out-of-order or duplicate data, data that fills a hole and all data while
// holes remain are answered at once (RFC 5681 §4.2: duplicate ACKs, SACKs
// and partial ACKs are what the sender's loss recovery counts), and so is
// anything that changes the state.
func (b *txBatch) deferPoll(c *Conn, seg *wire.TCPSegment, rcvBefore int) bool {
	r := b.rx
	if r == nil || !r.on || seg.Flags&(wire.SYN|wire.FIN|wire.RST|wire.URG) != 0 ||
		c.tcb.State() != tcp.StateEstablished {
		return false
	}
	if n := len(seg.Payload); n > 0 {
		if after, _ := c.tcb.Buffered(); after != rcvBefore+n || c.tcb.HoldsOutOfOrder() {
			// Out of order, a duplicate, a hole filled, or holes left:
			// the peer counts these ACKs to repair its losses.
			return false
		}
		if c.tcb.InQuickAck() {
			// Each of these is acknowledged at once: the sender's window
			// grows by them (quick-ACK mode, tcp/quickack.go).
			return false
		}
		c.rxDeferred += int32(n)
		if c.rxDeferred >= stretchACKBytes {
			return false
		}
	}
	if !c.rxPending {
		c.rxPending = true
		r.pending = append(r.pending, c)
	}
	return true
}

// pollDeferred polls the connections whose Poll deferPoll put off.
func (b *txBatch) pollDeferred() {
	r := b.rx
	for i, c := range r.pending {
		c.mu.Lock()
		c.rxPending = false
		if !c.gone {
			c.pollLocked(b.now(), b)
		}
		c.mu.Unlock()
		r.pending[i] = nil
	}
	r.pending = r.pending[:0]
}

// lookup finds the connection of a 4-tuple for a packet the batch's read
// loop delivers, through the loop's cache; other batches go to the table.
func (b *txBatch) lookup(k flowKey) *Conn {
	if b.rx == nil {
		return b.s.lookup(k)
	}
	return b.rx.flows.lookup(&b.s.flows, k)
}
