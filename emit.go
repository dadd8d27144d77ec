package synack

import (
	"net/netip"
	"sync"

	"github.com/synack-go/synack/trace"
	"github.com/synack-go/synack/wire"
)

// txBatch collects the packets one goroutine produces and writes them to
// the link in one WriteBatch. It is the tcp.Emitter the TCBs write into:
// each segment becomes an IP packet, checksummed, in a buffer the batch
// keeps for reuse; echo replies take the same buffers (icmp.go). A txBatch
// belongs to one goroutine at a time.
type txBatch struct {
	s        *Stack
	bufs     [][]byte // MTU bytes each, cut from one slab made on first use
	pkts     [][]byte // the filled prefix of bufs
	src, dst netip.Addr
	segs     uint64 // segments and RSTs in pkts, for the counters
	rsts     uint64
	ev       trace.Event     // reused for SegmentOut events
	scratch  wire.TCPSegment // for segments the stack builds: RSTs, cookie SYN-ACKs
}

func newTxBatch(s *Stack) *txBatch {
	return &txBatch{s: s, bufs: make([][]byte, s.batch), pkts: make([][]byte, 0, s.batch)}
}

// to sets the addresses of the segments that follow.
func (b *txBatch) to(src, dst netip.Addr) { b.src, b.dst = src, dst }

// Emit implements tcp.Emitter: it turns seg into an IP packet in the
// batch, flushing first if the batch is full.
func (b *txBatch) Emit(seg *wire.TCPSegment) {
	buf := b.next()
	hl := wire.IPHeaderLen(b.dst)
	n := seg.Len()
	if hl+n > len(buf) {
		b.s.ctr.tooBig.Add(1) // a TCB bug or an MSS set above the MTU
		return
	}
	wire.PutIPHeader(buf, b.src, b.dst, wire.ProtoTCP, n, ipTTL)
	seg.Emit(buf[hl:])
	wire.TCP(buf[hl:hl+n]).SetChecksum(b.src, b.dst)
	b.pkts = append(b.pkts, buf[:hl+n])
	b.segs++
	if seg.Flags&wire.RST != 0 {
		b.rsts++
	}
	if b.s.tracer != nil {
		b.ev = trace.Event{Kind: trace.SegmentOut, Local: netip.AddrPortFrom(b.src, seg.SrcPort),
			Remote: netip.AddrPortFrom(b.dst, seg.DstPort), Seg: seg}
		b.s.trace(&b.ev)
		b.ev.Seg = nil
	}
}

// next returns the MTU-sized buffer of the batch's next packet, flushing
// the batch first if it is full; the caller appends what it fills to pkts.
func (b *txBatch) next() []byte {
	if len(b.pkts) == cap(b.pkts) {
		b.flush()
	}
	if b.bufs[0] == nil {
		// All at once: a batch that allocated only as deep as its
		// bursts went would allocate again at every deeper burst.
		slab := make([]byte, len(b.bufs)*b.s.mtu)
		for i := range b.bufs {
			b.bufs[i] = slab[i*b.s.mtu : (i+1)*b.s.mtu : (i+1)*b.s.mtu]
		}
	}
	return b.bufs[len(b.pkts)]
}

// flush writes the batch to the link and empties it.
func (b *txBatch) flush() {
	if len(b.pkts) == 0 {
		return
	}
	c := &b.s.ctr
	if err := b.s.ep.WriteBatch(b.pkts); err != nil {
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
}

// batchPool keeps the batches of application calls. Unlike a sync.Pool it
// survives garbage collections, so a busy stack allocates no batch in
// steady state; it keeps at most maxIdle.
type batchPool struct {
	s    *Stack
	mu   sync.Mutex
	free []*txBatch
}

const maxIdleBatches = 8

func (p *batchPool) init(s *Stack) { p.s = s }

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
	return newTxBatch(p.s)
}

// put flushes b and keeps it for reuse.
func (p *batchPool) put(b *txBatch) {
	b.flush()
	p.mu.Lock()
	if len(p.free) < maxIdleBatches {
		p.free = append(p.free, b)
	}
	p.mu.Unlock()
}
