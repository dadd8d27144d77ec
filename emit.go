package synack

import (
	"net/netip"

	"github.com/synack-go/synack/trace"
	"github.com/synack-go/synack/wire"
)

// txBatch collects the packets one goroutine produces and writes them to the
// link in one WriteBatch. It is the tcp.Emitter the TCBs write into: each
// segment becomes an IP packet in a preallocated buffer, checksummed. A
// txBatch belongs to one goroutine at a time.
type txBatch struct {
	s        *Stack
	bufs     [][]byte // preallocated, MTU bytes each
	pkts     [][]byte // the filled prefix of bufs
	src, dst netip.Addr
	segs     uint64
	rsts     uint64
	ev       trace.Event
}

func newTxBatch(s *Stack) *txBatch {
	n := max(s.ep.BatchSize(), 1)
	b := &txBatch{s: s, bufs: make([][]byte, n), pkts: make([][]byte, 0, n)}
	for i := range b.bufs {
		b.bufs[i] = make([]byte, s.mtu)
	}
	return b
}

// to sets the addresses of the segments that follow.
func (b *txBatch) to(src, dst netip.Addr) { b.src, b.dst = src, dst }

// Emit turns seg into an IP packet in the batch.
func (b *txBatch) Emit(seg *wire.TCPSegment) {
	if len(b.pkts) == cap(b.pkts) {
		b.flush()
	}
	buf := b.bufs[len(b.pkts)]
	hl := wire.IPHeaderLen(b.dst)
	n := seg.Len()
	if hl+n > len(buf) {
		b.s.ctr.tooBig.Add(1)
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

// flush writes the batch to the link.
func (b *txBatch) flush() {
	if len(b.pkts) == 0 {
		return
	}
	if err := b.s.ep.WriteBatch(b.pkts); err != nil {
		b.s.ctr.linkErrors.Add(1)
	}
	b.s.ctr.packetsOut.Add(uint64(len(b.pkts)))
	b.s.ctr.segsOut.Add(b.segs)
	if b.rsts != 0 {
		b.s.ctr.rstsOut.Add(b.rsts)
	}
	b.segs, b.rsts = 0, 0
	clear(b.pkts)
	b.pkts = b.pkts[:0]
}

func (s *Stack) getBatch() *txBatch { return s.batches.Get().(*txBatch) }

func (s *Stack) putBatch(b *txBatch) {
	b.flush()
	s.batches.Put(b)
}
