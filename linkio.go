package synack

import (
	"encoding/binary"

	"github.com/synack-go/synack/link"
)

// linkIO is how the stack uses its link: the queues it reads (one
// goroutine each) and writes, and the offloads it uses. It is set once by
// NewStack.
type linkIO struct {
	queues []link.Endpoint        // one reader each; a link without queues is its own only one
	oq     []link.OffloadEndpoint // queues as OffloadEndpoints, when offload
	off    link.Offloads          // what the link offers

	offload    bool // read with ReadPackets, write with WritePackets
	headroom   int  // bytes in front of every packet in read and write buffers
	csum       bool // TCP checksums are left to the link on the way out
	tso4, tso6 bool // TSO packets go out, per family
	batchACKs  bool // a read batch's segments are answered together (rxbatch.go)

	rxBuf   int // bytes per read buffer: headroom and the largest packet
	rxCount int // buffers per read batch
	txSlab  int // bytes of packets per transmit batch

	writers []txWriter // per queue, on links with offloads (txwriter.go); nil: write inline
}

// writer returns queue q's writer goroutine's state, or nil when batches
// are written by whoever flushes them.
func (l *linkIO) writer(q int) *txWriter {
	if l.writers == nil {
		return nil
	}
	return &l.writers[q]
}

// BatchACKMode says when the stack answers the segments of a read batch
// together: Options.BatchACKs.
type BatchACKMode int8

// The BatchACKMode values.
const (
	// BatchACKsAuto batches on links with offloads and not on others:
	// on a plain lossy link with a short RTT, a stretch ACK answers a
	// whole small flight, and losing it stalls the ACK clock until a
	// loss probe or timeout, RACK or not (docs/design.md).
	BatchACKsAuto BatchACKMode = iota
	// BatchACKsOn batches on every link.
	BatchACKsOn
	// BatchACKsOff answers every segment as it arrives.
	BatchACKsOff
)

// readBatchBytes bounds the read buffers of one queue with offloads: 32
// packets of 64 KiB.
const readBatchBytes = 2 << 20

func (l *linkIO) init(s *Stack, ep link.Endpoint, opts *Options) {
	l.queues = []link.Endpoint{ep}
	if mq, ok := ep.(link.MultiQueue); ok && mq.NumQueues() > 1 {
		l.queues = make([]link.Endpoint, mq.NumQueues())
		for i := range l.queues {
			l.queues[i] = mq.Queue(i)
		}
	}
	if oe, ok := ep.(link.OffloadEndpoint); ok && !opts.NoOffloads {
		l.off = oe.Offloads()
	}
	if l.off.Enabled() {
		l.oq = make([]link.OffloadEndpoint, len(l.queues))
		for i, q := range l.queues {
			oq, ok := q.(link.OffloadEndpoint)
			if !ok {
				l.oq, l.off = nil, link.Offloads{}
				break
			}
			l.oq[i] = oq
		}
	}
	l.offload = l.off.Enabled()
	l.rxBuf, l.rxCount = s.mtu, s.batch
	if l.offload {
		l.headroom = l.off.Headroom
		l.csum = l.off.TxChecksum
		l.tso4 = l.csum && l.off.TSO4 && l.off.MaxPacket > s.mtu
		l.tso6 = l.csum && l.off.TSO6 && l.off.MaxPacket > s.mtu
		l.rxBuf = l.headroom + max(l.off.MaxPacket, s.mtu)
		l.rxCount = min(max(ep.BatchSize(), 1), max(8, readBatchBytes/l.rxBuf))
	}
	per := (l.headroom + s.mtu + batchAlign - 1) &^ (batchAlign - 1)
	l.txSlab = s.batch * per
	if l.tso4 || l.tso6 {
		l.txSlab = max(l.txSlab, 4*(l.headroom+tsoMaxPacket+batchAlign))
	}
	if l.offload && s.clock == nil {
		// On a Clock's virtual time (package sim) every goroutine is the
		// Clock's to schedule; batches are written inline there.
		l.writers = make([]txWriter, len(l.queues))
		for i := range l.writers {
			l.writers[i].init(s)
		}
	}
	switch opts.BatchACKs {
	case BatchACKsOn:
		l.batchACKs = true
	case BatchACKsAuto:
		l.batchACKs = l.offload
	}
}

// inliner returns queue q as a link.Inliner, whose writers may run the
// read loop's work (rxLoop.inline), or nil: also when the link offers
// offloads the stack does not use (Options.NoOffloads), since the packets
// handed over inline are those ReadPackets would return, not ReadBatch.
func (l *linkIO) inliner(q int) link.Inliner {
	il, ok := l.queues[q].(link.Inliner)
	if !ok {
		return nil
	}
	if oe, ok := l.queues[q].(link.OffloadEndpoint); ok && oe.Offloads().Enabled() && !l.offload {
		return nil
	}
	return il
}

// queueFor returns the queue a connection's packets leave by: a hash of
// its 4-tuple. A TUN device learns from it which queue the flow's packets
// should arrive on (Linux's tun automatic steering), so one reader handles
// each connection.
func (l *linkIO) queueFor(k flowKey) int {
	if len(l.queues) == 1 {
		return 0
	}
	return int(flowHash(k) % uint32(len(l.queues)))
}

// flowHash mixes a 4-tuple into 32 bits (FNV-1a over the addresses and
// ports). It is not keyed: it only spreads flows over queues and shards.
func flowHash(k flowKey) uint32 {
	h := uint32(2166136261)
	mix := func(b []byte) {
		for _, c := range b {
			h = (h ^ uint32(c)) * 16777619
		}
	}
	a, r := k.local.Addr().As16(), k.remote.Addr().As16()
	mix(a[:])
	mix(r[:])
	var p [4]byte
	binary.BigEndian.PutUint16(p[:], k.local.Port())
	binary.BigEndian.PutUint16(p[2:], k.remote.Port())
	mix(p[:])
	return h
}
