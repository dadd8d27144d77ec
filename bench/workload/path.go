package workload

import (
	"encoding/binary"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/synack-go/synack/link/impair"
)

// IsPathWorkload reports whether workload name runs over an emulated path
// (link/impair on both directions of the link, Spec.Data and Spec.Ack):
// lossy-goodput, reordering and bufferbloat. The kernel runs them between
// two namespaces joined by a userspace bridge.
func IsPathWorkload(name string) bool {
	switch name {
	case "lossy-goodput", "reordering", "bufferbloat":
		return true
	}
	return false
}

// pathConfigs returns the impairments of a path workload's two directions:
// p.delay each way; on the data direction a p.rate bottleneck behind a
// p.queue-byte drop-tail queue, with p.loss percent of random loss
// (lossy-goodput, bufferbloat) or p.reorder percent of packets p.reorderD
// late (reordering).
func pathConfigs(name string, p *params) (data, ack impair.Config) {
	data = impair.Config{Delay: p.delay, RateBitsPerSec: p.rate, QueueBytes: p.queue, Seed: int64(p.seed)}
	ack = impair.Config{Delay: p.delay, Seed: int64(p.seed) + 1}
	switch name {
	case "lossy-goodput", "bufferbloat":
		data.Loss = p.loss / 100
	case "reordering":
		data.Reorder, data.ReorderDelay = p.reorder/100, p.reorderD
	}
	return data, ack
}

// dupCounter counts the TCP data segments a receiver got that carried no
// byte it had not got already: retransmissions that were not needed
// (spurious), seen on the wire after the impairments, so that every
// contender is counted the same way whatever its own statistics say. It
// reads IPv4 packets; others pass uncounted.
type dupCounter struct {
	mu    sync.Mutex
	flows map[[12]byte]*seqTrack // by addresses and ports
	segs  atomic.Uint64          // data segments seen
	dups  atomic.Uint64          // of those, duplicates
}

// seqTrack is what one direction of one connection has delivered: every
// byte below nxt, and the ranges of ooo above it.
type seqTrack struct {
	nxt uint32
	ooo []seqRange // disjoint, sorted from nxt up
}

type seqRange struct{ start, end uint32 }

// maxOOORanges bounds a flow's out-of-order ranges; past it the flow
// forgets them (and may miss a duplicate), so memory stays bounded.
const maxOOORanges = 4096

func newDupCounter() *dupCounter { return &dupCounter{flows: map[[12]byte]*seqTrack{}} }

// Observe looks at packets as the receiving host is about to get them.
func (d *dupCounter) Observe(pkts [][]byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range pkts {
		d.observe(p)
	}
}

func (d *dupCounter) observe(p []byte) {
	if len(p) < 20 || p[0]>>4 != 4 || p[9] != 6 {
		return
	}
	ihl := int(p[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(p[2:]))
	if ihl < 20 || total > len(p) || total < ihl+20 {
		return
	}
	tcp := p[ihl:total]
	doff := int(tcp[12]>>4) * 4
	if doff < 20 || doff > len(tcp) {
		return
	}
	var key [12]byte
	copy(key[:8], p[12:20])
	copy(key[8:], tcp[:4])
	seq, syn := binary.BigEndian.Uint32(tcp[4:]), tcp[13]&0x02 != 0
	t := d.flows[key]
	if syn {
		d.flows[key] = &seqTrack{nxt: seq + 1}
		return
	}
	n := uint32(len(tcp) - doff)
	if n == 0 {
		return
	}
	d.segs.Add(1)
	if t == nil { // the SYN went by unseen: start here
		t = &seqTrack{nxt: seq}
		d.flows[key] = t
	}
	if t.add(seq, seq+n) {
		d.dups.Add(1)
	}
}

// add records the bytes [start, end) as delivered and reports whether
// every one of them had been already.
func (t *seqTrack) add(start, end uint32) (dup bool) {
	if seqLEQ(end, t.nxt) {
		return true
	}
	for _, r := range t.ooo {
		if seqLEQ(r.start, start) && seqLEQ(end, r.end) {
			return true
		}
	}
	if seqLEQ(start, t.nxt) {
		t.nxt = end
	} else {
		t.ooo = append(t.ooo, seqRange{start, end})
		nxt := t.nxt
		slices.SortFunc(t.ooo, func(a, b seqRange) int { return int(int64(a.start-nxt) - int64(b.start-nxt)) })
	}
	// Merge what now touches nxt or each other.
	out := t.ooo[:0]
	for _, r := range t.ooo {
		switch {
		case seqLEQ(r.start, t.nxt):
			if seqLT(t.nxt, r.end) {
				t.nxt = r.end
			}
		case len(out) > 0 && seqLEQ(r.start, out[len(out)-1].end):
			if last := &out[len(out)-1]; seqLT(last.end, r.end) {
				last.end = r.end
			}
		default:
			out = append(out, r)
		}
	}
	t.ooo = out
	if len(t.ooo) > maxOOORanges {
		t.ooo = t.ooo[:0]
	}
	return false
}

func seqLT(a, b uint32) bool  { return int32(a-b) < 0 }
func seqLEQ(a, b uint32) bool { return int32(a-b) <= 0 }

// defaultReorderDelay is how late the reordering workload's reordered
// packets are: the "1% of packets delayed by 5 ms".
const defaultReorderDelay = 5 * time.Millisecond
