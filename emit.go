package synack

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync"

	"github.com/synack-go/synack/link"
	"github.com/synack-go/synack/trace"
	"github.com/synack-go/synack/wire"
)

// txBatch collects the packets one goroutine produces and writes them to
// the link in one WriteBatch (WritePackets with offloads). It is the
// tcp.Emitter the TCBs write into: each segment becomes an IP packet in a
// slab the batch keeps for reuse, packed back to back behind the link's
// headroom; echo replies take the same slab (icmp.go). A txBatch belongs to
// one goroutine at a time.
//
// On a link with TSO, consecutive segments of one connection that its TCB
// emitted in one Poll (in order, full-sized, with the same flags but PSH
// and FIN, the same ACK, window and options) grow one packet instead of
// making new ones, up to a size like Linux's tcp_tso_autosize (tso.go):
// the link cuts it back into those segments, each with its own header.
// Which segments exist is the TCB's decision alone.
type txBatch struct {
	s        *Stack
	slab     []byte      // made on first use
	used     int         // bytes of slab taken by pkts
	start    int         // where the packet next returned room for begins
	pkts     [][]byte    // each packet with the link's headroom in front
	meta     []link.Meta // pkts' offload metadata, with offloads
	q        int         // the link queue the batch is written on
	src, dst netip.Addr
	tsoMax   int      // the largest TSO packet for the current connection; 0: none
	open     gsoOpen  // the last packet, while a segment may still extend it
	rx       *rxState // a read loop's deferred polls; nil in other batches
	queued   bool     // waiting in a txWriter's queue for its turn; guarded by the writer's mu
	segs     uint64   // segments and RSTs in pkts, for the counters
	rsts     uint64
	emitted  uint64 // segments emitted ever: did a Poll emit any?
	held     bool   // a read loop's or the timers': written after the connections' locks are released (txorder.go)

	hmu         sync.Mutex // guards gen and repoll, for handOff
	gen         uint32     // counts the times release let the held connections go
	repoll      []*Conn    // connections whose polls were handed off to the batch
	repollSpare []*Conn
	ev          trace.Event     // reused for SegmentOut events
	scratch     wire.TCPSegment // for segments the stack builds: RSTs, cookie SYN-ACKs
	lent        wire.TCPSegment // for the TCBs' segments (tcp.SegmentLender)
	cutSeg      wire.TCPSegment // for the segments cut cuts from a TSO segment
	gather      []byte          // for payloads the TCBs gather (tcp.SegmentLender)
}

// gsoOpen is the packet a TSO batch may still extend: the TCP header it
// carries and where the next segment must start.
type gsoOpen struct {
	on    bool
	hl    int             // IP header length
	thl   int             // TCP header length
	next  wire.Seq        // the sequence number an extending segment carries
	mss   int             // the first segment's payload: the GSO segment size
	segs  int             // segments in the packet
	full  bool            // every segment so far carried mss bytes, without PSH or FIN
	ack   wire.Seq        // what the header says, which extending segments repeat
	wnd   uint16          // ...
	sport uint16          // ...
	dport uint16          // ...
	opts  wire.TCPOptions // ... but for the timestamps
}

// Segment implements tcp.SegmentLender: the TCBs emitting into b fill it,
// so that none of them keeps a segment of its own.
func (b *txBatch) Segment() *wire.TCPSegment { return &b.lent }

// Scratch implements tcp.SegmentLender: room for a payload the TCB must
// gather (one that wraps around its send ring), made once per batch.
func (b *txBatch) Scratch(n int) []byte {
	if cap(b.gather) < n {
		b.gather = make([]byte, max(n, b.s.mtu))
	}
	return b.gather[:n]
}

// batchAlign keeps each packet in the slab 8-byte aligned.
const batchAlign = 8

// newTxBatch makes a batch; a held one is a read loop's or the timer
// goroutine's (txorder.go).
func newTxBatch(s *Stack, held bool) *txBatch {
	b := &txBatch{s: s, pkts: make([][]byte, 0, s.batch), held: held}
	if held {
		b.repoll, b.repollSpare = make([]*Conn, 0, 16), make([]*Conn, 0, 16)
	}
	if s.lk.offload {
		b.meta = make([]link.Meta, s.batch)
	}
	return b
}

// to sets the addresses of the segments that follow, which the stack
// builds itself: no TSO.
func (b *txBatch) to(src, dst netip.Addr) {
	b.seal()
	b.src, b.dst = src, dst
	b.tsoMax = 0
}

// forConn sets the addresses of the segments c's TCB emits next, the queue
// they leave by and the size of their TSO packets (c.mu held).
func (b *txBatch) forConn(c *Conn) {
	if b.q != int(c.txq) && len(b.pkts) > 0 {
		b.spill()
	}
	b.q = int(c.txq)
	b.to(c.key.local.Addr(), c.key.remote.Addr())
	tso := 0
	if lk := &b.s.lk; lk.tso4 && b.dst.Is4() || lk.tso6 && b.dst.Is6() {
		hl := wire.IPHeaderLen(b.dst)
		b.tsoMax = tsoAutosize(c.tcb, hl)
		tso = max(b.tsoMax-hl-tcpMaxHeader, 0) // 0 before the MSS is known
	}
	c.tcb.SetTSO(tso)
}

// Emit implements tcp.Emitter: it turns seg into an IP packet in the
// batch, or extends the batch's last packet with it (TSO), flushing first
// if the batch is full.
func (b *txBatch) Emit(seg *wire.TCPSegment) {
	b.segs++
	b.emitted++
	if seg.Flags&wire.RST != 0 {
		b.rsts++
	}
	if b.s.tracer != nil {
		b.ev = trace.Event{Kind: trace.SegmentOut, Local: netip.AddrPortFrom(b.src, seg.SrcPort),
			Remote: netip.AddrPortFrom(b.dst, seg.DstPort), Seg: seg}
		b.s.trace(&b.ev)
		b.ev.Seg = nil
	}
	if b.extend(seg) {
		return
	}
	buf := b.next()
	hl := wire.IPHeaderLen(b.dst)
	n := seg.Len()
	if hl+n > len(buf) {
		// The MSS is bounded by the link MTU (NewStack) and every segment
		// by the MSS (package tcp): a segment that does not fit is a bug,
		// and dropping it would stall its connection without a word.
		panic(fmt.Sprintf("synack: a %d-byte TCP segment for a %d-byte link MTU (MSS bound broken)", hl+n, len(buf)))
	}
	wire.PutIPHeader(buf, b.src, b.dst, wire.ProtoTCP, n, ipTTL)
	seg.Emit(buf[hl:])
	if b.tsoMax > hl+n && seg.Flags == wire.ACK && len(seg.Payload) > 0 && seg.Urgent == 0 {
		// A full-sized data segment may be the first of a TSO packet:
		// its checksum waits until the packet is sealed.
		b.open = gsoOpen{on: true, hl: hl, thl: seg.HeaderLen(), next: seg.Seq.Add(uint32(len(seg.Payload))),
			mss: len(seg.Payload), segs: 1, full: true, ack: seg.Ack, wnd: seg.Window,
			sport: seg.SrcPort, dport: seg.DstPort, opts: seg.Options}
		b.commit(hl + n)
		return
	}
	b.commit(hl + n)
	b.checksum(len(b.pkts)-1, hl)
}

// EmitTSO implements tcp.TSOEmitter: seg, whose payload is larger than
// size, becomes one TSO packet whose segments carry size bytes each, or,
// if it does not fit one, is cut here into segments of size bytes.
func (b *txBatch) EmitTSO(seg *wire.TCPSegment, size int) {
	hl := wire.IPHeaderLen(b.dst)
	n := seg.Len()
	p := len(seg.Payload)
	if size <= 0 || hl+n > b.tsoMax || b.s.lk.headroom+b.tsoMax+batchAlign > b.s.lk.txSlab {
		b.cut(seg, size)
		return
	}
	segs := (p + size - 1) / size
	b.segs += uint64(segs)
	b.emitted++
	if b.s.tracer != nil {
		b.ev = trace.Event{Kind: trace.SegmentOut, Local: netip.AddrPortFrom(b.src, seg.SrcPort),
			Remote: netip.AddrPortFrom(b.dst, seg.DstPort), Seg: seg}
		b.s.trace(&b.ev)
		b.ev.Seg = nil
	}
	buf := b.nextN(b.tsoMax)
	wire.PutIPHeader(buf, b.src, b.dst, wire.ProtoTCP, n, ipTTL)
	seg.Emit(buf[hl:])
	// Open, so that segments after it may extend it (extend), and sealed
	// with its GSO metadata.
	b.open = gsoOpen{on: true, hl: hl, thl: seg.HeaderLen(), next: seg.Seq.Add(uint32(p)),
		mss: size, segs: segs, full: p%size == 0 && seg.Flags == wire.ACK, ack: seg.Ack, wnd: seg.Window,
		sport: seg.SrcPort, dport: seg.DstPort, opts: seg.Options}
	b.commit(hl + n)
}

// cut emits seg as segments of size payload bytes each, the last
// possibly shorter and the only one with PSH and FIN, as the link would
// cut it.
func (b *txBatch) cut(seg *wire.TCPSegment, size int) {
	size = max(size, 1)
	s := &b.cutSeg
	*s = *seg
	p, flags := seg.Payload, seg.Flags
	for len(p) > 0 {
		k := min(size, len(p))
		s.Payload, s.Flags = p[:k], flags
		if k < len(p) {
			s.Flags &^= wire.PSH | wire.FIN
		}
		b.Emit(s)
		s.Seq = s.Seq.Add(uint32(k))
		p = p[k:]
	}
	s.Payload = nil
}

// extend appends seg's payload to the open TSO packet if seg continues it:
// the same connection and header but for PSH, FIN and the timestamps, the
// next sequence number, and every segment before it full-sized. The
// header's PSH and FIN are the last segment's: the link's segmentation
// puts them on the last segment only (Linux's tcp_gso_segment).
func (b *txBatch) extend(seg *wire.TCPSegment) bool {
	o := &b.open
	p := len(seg.Payload)
	if !o.on || !o.full || p == 0 || p > o.mss || seg.Seq != o.next ||
		seg.Flags&^(wire.PSH|wire.FIN) != wire.ACK || seg.Ack != o.ack || seg.Window != o.wnd ||
		seg.SrcPort != o.sport || seg.DstPort != o.dport || seg.Urgent != 0 || !sameButTS(&seg.Options, &o.opts) {
		return false
	}
	pkt := b.pkts[len(b.pkts)-1]
	if len(pkt)+p > b.tsoMax+b.s.lk.headroom || b.used+p > len(b.slab) {
		return false
	}
	copy(b.slab[b.used:], seg.Payload)
	b.used += p
	pkt = pkt[:len(pkt)+p]
	b.pkts[len(b.pkts)-1] = pkt
	o.next = o.next.Add(uint32(p))
	o.segs++
	if f := seg.Flags & (wire.PSH | wire.FIN); f != 0 || p < o.mss {
		pkt[b.s.lk.headroom+o.hl+13] |= byte(f) // the TCP flags byte
		o.full = false
	}
	return true
}

// sameButTS reports whether two segments' options are the same but for
// the timestamps, which a TSO packet's segments all take from its header.
func sameButTS(a, b *wire.TCPOptions) bool {
	x, y := *a, *b
	x.TSVal, x.TSEcr, y.TSVal, y.TSEcr = 0, 0, 0, 0
	return x == y
}

// seal finishes the open TSO packet: lengths, metadata and checksum.
func (b *txBatch) seal() {
	o := &b.open
	if !o.on {
		return
	}
	o.on = false
	i := len(b.pkts) - 1
	pkt := b.pkts[i][b.s.lk.headroom:]
	if o.segs > 1 {
		if pkt[0]>>4 == 4 {
			binary.BigEndian.PutUint16(pkt[2:], uint16(len(pkt)))
			wire.IPv4(pkt).SetChecksum()
			b.meta[i].GSO = link.GSOTCPv4
		} else {
			binary.BigEndian.PutUint16(pkt[4:], uint16(len(pkt)-o.hl))
			b.meta[i].GSO = link.GSOTCPv6
		}
		b.meta[i].HdrLen = uint16(o.hl + o.thl)
		b.meta[i].GSOSize = uint16(o.mss)
	}
	b.checksum(i, o.hl)
}

// checksum fills the TCP checksum of packet i, whose IP header is hl
// bytes, or leaves it to the link: the pseudo-header sum in the field and
// the packet marked NeedsChecksum (link.Meta).
func (b *txBatch) checksum(i, hl int) {
	t := wire.TCP(b.pkts[i][b.s.lk.headroom+hl:])
	if !b.s.lk.csum {
		t.SetChecksum(b.src, b.dst)
		return
	}
	sum := wire.PseudoHeaderSum(b.src, b.dst, wire.ProtoTCP, len(t))
	binary.BigEndian.PutUint16(t[16:], ^wire.Fold(sum))
	m := &b.meta[i]
	m.Flags |= link.NeedsChecksum
	m.CsumStart, m.CsumOffset = uint16(hl), 16
}

// next returns room for the batch's next packet, as much as the MTU,
// flushing the batch first if it is full; the caller fills it and commits
// what it used.
func (b *txBatch) next() []byte { return b.nextN(b.s.mtu) }

// nextN is next for a packet of up to size bytes.
func (b *txBatch) nextN(size int) []byte {
	b.seal()
	lk := &b.s.lk
	b.start = (b.used + batchAlign - 1) &^ (batchAlign - 1)
	if b.slab != nil && (len(b.pkts) == cap(b.pkts) || b.start+lk.headroom+size > len(b.slab)) {
		b.spill()
		b.start = 0
	}
	if b.slab == nil { // made on first use, or spill took it
		b.slab = make([]byte, lk.txSlab)
	}
	at := b.start + lk.headroom
	return b.slab[at : at+size]
}

// commit adds the n bytes filled in what next returned to the batch as a
// packet.
func (b *txBatch) commit(n int) {
	end := b.start + b.s.lk.headroom + n
	b.pkts = append(b.pkts, b.slab[b.start:end])
	b.used = end
}

// flush writes the batch to the link and empties it. On a link with a
// writer goroutine per queue (txwriter.go) it waits for what was handed
// over before, so that the queue's packets leave in order.
func (b *txBatch) flush() {
	b.seal()
	if len(b.pkts) == 0 {
		return
	}
	if w := b.s.lk.writer(b.q); w != nil {
		w.writeInOrder(b)
		return
	}
	b.write()
}

// spill empties the batch in the middle of a poll, under the polled
// connection's lock: full, or about to take packets for another queue. On
// a link with writer goroutines its packets go to the queue's writer in a
// batch of their own, without waiting for the write: a read loop or the
// timer goroutine waiting there would hold up the connection's Write and,
// through its lock, the other goroutines of every connection it serves.
// The writer takes up to maxSpilled batches so; beyond, and on other
// links, spill writes the packets (flush).
func (b *txBatch) spill() {
	b.seal()
	if len(b.pkts) == 0 {
		return
	}
	if w := b.s.lk.writer(b.q); w != nil {
		o := b.s.batches.get()
		o.swapPackets(b)
		if w.spill(o) {
			return
		}
		b.swapPackets(o)
		b.s.batches.recycle(o)
	}
	b.flush()
}

// swapPackets exchanges the packets of b and o, which go to b's queue,
// with their slabs and counts; neither has a TSO packet open.
func (b *txBatch) swapPackets(o *txBatch) {
	b.slab, o.slab = o.slab, b.slab
	b.used, o.used = o.used, b.used
	b.pkts, o.pkts = o.pkts, b.pkts
	b.meta, o.meta = o.meta, b.meta
	b.segs, o.segs = o.segs, b.segs
	b.rsts, o.rsts = o.rsts, b.rsts
	o.q = b.q
}

// write hands the batch's packets to the link and empties it.
func (b *txBatch) write() {
	c := &b.s.ctr
	lk := &b.s.lk
	var err error
	if lk.offload {
		err = lk.oq[b.q].WritePackets(b.pkts, b.meta[:len(b.pkts)])
		clear(b.meta[:len(b.pkts)])
	} else {
		err = lk.queues[b.q].WriteBatch(b.pkts)
	}
	if err != nil {
		c.linkErrors.Add(1)
	}
	c.packetsOut.Add(uint64(len(b.pkts)))
	c.segsOut.Add(b.segs)
	if b.rsts != 0 {
		c.rstsOut.Add(b.rsts)
	}
	b.segs, b.rsts = 0, 0
	clear(b.pkts)
	b.pkts = b.pkts[:0]
	b.used = 0
}

// batchPool keeps the batches of application calls, and those spilled to
// a writer (spill). Unlike a sync.Pool it survives garbage collections, so
// a busy stack allocates no batch in steady state; it keeps at most max.
type batchPool struct {
	s    *Stack
	mu   sync.Mutex
	free []*txBatch
	max  int
}

// The pool covers the batches one stack can have out at once: per writer,
// up to maxSpilled queued plus the one it writes, and one per goroutine
// building a batch (applications, read loops, the timer), for which
// idleBuilders allows. With fewer, a burst on a loaded machine drops
// batches that the next burst allocates again (TestSteadyStateAllocs/offload
// saw it under load).
const idleBuilders = 16

func (p *batchPool) init(s *Stack) {
	p.s = s
	p.max = len(s.lk.writers)*(maxSpilled+1) + idleBuilders
}

// get returns an empty batch.
func (p *batchPool) get() *txBatch {
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		p.mu.Unlock()
		return b
	}
	p.mu.Unlock()
	return newTxBatch(p.s, false)
}

// put flushes b and keeps it for reuse. On a link with a writer goroutine
// per queue, b goes to that goroutine instead, which writes it while the
// application goes on, and recycles it.
func (p *batchPool) put(b *txBatch) {
	b.seal()
	if w := p.s.lk.writer(b.q); w != nil && len(b.pkts) > 0 {
		w.handOver(b, handOverWait)
		return
	}
	b.flush()
	p.recycle(b)
}

// putLate is put for a caller that holds a connection's lock and waits for
// room in the writer's queue only once it released it: it returns the
// writer to wait on (txWriter.waitRoom), or nil.
func (p *batchPool) putLate(b *txBatch) *txWriter {
	b.seal()
	if w := p.s.lk.writer(b.q); w != nil && len(b.pkts) > 0 {
		w.handOver(b, handOverLate)
		return w
	}
	b.flush()
	p.recycle(b)
	return nil
}

// putReserved is put for a batch whose place in writer w's queue the
// caller reserved (txWriter.reserve): it takes the place, or gives it
// back when b is empty or goes to another queue.
func (p *batchPool) putReserved(b *txBatch, w *txWriter) {
	b.seal()
	if len(b.pkts) > 0 && p.s.lk.writer(b.q) == w {
		w.handOver(b, handOverReserved)
		return
	}
	w.unreserve()
	p.put(b)
}

// recycle keeps an empty batch for reuse.
func (p *batchPool) recycle(b *txBatch) {
	p.mu.Lock()
	if len(p.free) < p.max {
		p.free = append(p.free, b)
	}
	p.mu.Unlock()
}
