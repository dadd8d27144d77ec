package synack

import (
	"net/netip"

	"github.com/synack-go/synack/link"
	"github.com/synack-go/synack/tcp"
	"github.com/synack-go/synack/trace"
	"github.com/synack-go/synack/wire"
)

// startReaders starts one read loop per link queue, and a writer per
// queue on links with offloads.
func (s *Stack) startReaders() {
	for q := range s.lk.queues {
		s.spawn(func() { s.readLoop(q) })
	}
	for i := range s.lk.writers {
		s.spawn(s.lk.writers[i].run)
	}
}

// readLoop is the goroutine of link queue q: it reads batches of packets
// into buffers it reuses, runs each packet to completion, polls the
// connections whose answers it deferred (rxState), then writes what they
// produced in one batch (release).
func (s *Stack) readLoop(q int) {
	lk := &s.lk
	bufs := make([][]byte, lk.rxCount)
	slab := make([]byte, len(bufs)*lk.rxBuf)
	for i := range bufs {
		bufs[i] = slab[i*lk.rxBuf : (i+1)*lk.rxBuf : (i+1)*lk.rxBuf]
	}
	sizes := make([]int, len(bufs))
	var meta []link.Meta
	var split []byte // scratch for inputSegments, made on first use
	if lk.offload {
		meta = make([]link.Meta, len(bufs))
	}
	tx := newTxBatch(s, true)
	tx.q = q
	tx.rx = &rxState{on: lk.batchACKs}
	var seg wire.TCPSegment
	var ev trace.Event
	for {
		var n int
		var err error
		if lk.offload {
			n, err = lk.oq[q].ReadPackets(bufs, sizes, meta)
		} else {
			n, err = lk.queues[q].ReadBatch(bufs, sizes)
		}
		if err != nil {
			return // the link is closed: Stack.Close
		}
		for i := range n {
			pkt := bufs[i][lk.headroom : lk.headroom+sizes[i]]
			checked := false
			if meta != nil {
				if meta[i].GSO == link.GSOUDPL4 {
					// Datagrams the kernel sent as one (UDP_SEGMENT): each
					// is a datagram of its own for the sockets.
					s.inputSegments(pkt, &meta[i], &split, &seg, &ev, tx)
					continue
				}
				// The kernel's own packets (or the pipe's other end's)
				// whose checksum was never filled, or one it checked;
				// TCP packets it coalesced (TSO, GRO) go in whole.
				checked = meta[i].Flags&(link.NeedsChecksum|link.ChecksumValid) != 0
			}
			s.input(pkt, checked, &seg, &ev, tx)
		}
		tx.pollDeferred()
		if s.mem.UnderPressure() {
			s.relieve(tx)
		}
		tx.release()
	}
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
// read batch: the connections whose Poll it deferred.
type rxState struct {
	on      bool // Options.BatchACKs
	pending []*Conn
	flows   flowCache
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
			c.pollLocked(c.s.now(), b)
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
