// Package pipe provides an in-memory link: two connected [link.Endpoint]s, a
// packet written on one arriving on the other. The link is perfect by
// default and can be made lossy, slow, jittery or reordering with the same
// impairments as package [impair], seeded so that a run replays.
//
// With Config.Offload both ends agree on virtio-net offloads
// ([link.OffloadEndpoint]): TCP packets of up to 64 KiB cross whole,
// checksums left unfilled cross as they are, as between two virtual
// machines' virtio NICs on one host or a veth pair. Each packet then
// carries its virtio-net header through the link, so the impairments see
// it as bytes like any other. With Config.Queues > 1 each end has several
// receive queues ([link.MultiQueue]) and spreads arriving packets over
// them by a hash of their flow, as a NIC's receive-side scaling does.
package pipe

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/synack-go/synack/link"
	"github.com/synack-go/synack/link/impair"
)

// Config describes a pipe. The zero value is a perfect link with a 1500-byte
// MTU. A Config is read once by New and never modified.
type Config struct {
	// Loss, Reorder, Duplicate and Corrupt are probabilities in [0, 1],
	// applied to each direction independently; see impair.Config. 0 means
	// none.
	Loss, Reorder, Duplicate, Corrupt float64

	// ReorderDelay, if positive, makes Reorder delay each packet it picks
	// by that much, everything behind overtaking it; see
	// impair.Config.ReorderDelay.
	ReorderDelay time.Duration

	// Delay is each direction's one-way delay and Jitter the extra delay,
	// drawn uniformly from [0, Jitter], added to each packet without
	// reordering; see impair.Config. 0 means none.
	Delay, Jitter time.Duration

	// RateBitsPerSec limits each direction's bandwidth; 0 means unlimited.
	RateBitsPerSec int64

	// QueueBytes bounds each direction's rate-limiter queue; see
	// impair.Config.QueueBytes. 0 means impair.DefaultQueueBytes.
	QueueBytes int

	// MTU is the largest packet, in bytes, the link carries; larger packets
	// are dropped and counted as TooBig. 0 (or negative) means DefaultMTU;
	// values above 65535 mean 65535.
	MTU int

	// QueueLen is how many packets wait at each end for ReadBatch; packets
	// arriving at a full queue are dropped and counted as QueueFull, as a
	// real NIC's receive ring does. 0 (or negative) means DefaultQueueLen.
	QueueLen int

	// Seed seeds the impairments. The two directions draw from different
	// generators derived from it, so their decisions differ but both replay.
	Seed int64

	// Offload makes both ends offer virtio-net offloads: checksums left to
	// the link (never filled: both ends are on this side of any wire),
	// TSO4, TSO6, and TCP packets of up to 65535 bytes delivered whole
	// (RxCoalesce). With Corrupt, the writer fills checksums first, as a
	// NIC would before the wire, so that damage shows. ReadBatch and
	// WriteBatch keep meaning plain packets within the MTU: a reader of
	// ReadBatch gets large packets cut into segments and checksums filled.
	Offload bool

	// Queues is the number of receive queues at each end; 0 or 1: one.
	// Each is read through Queue(i); ReadBatch on an Endpoint reads queue
	// 0 only.
	Queues int
}

// DefaultMTU is the MTU of a pipe whose Config.MTU is 0: Ethernet's.
const DefaultMTU = 1500

// DefaultQueueLen is each end's receive queue when Config.QueueLen is 0.
// Deep enough that a reader keeping up with a fast writer never drops.
const DefaultQueueLen = 1024

// batchSize is what BatchSize reports: a typical GSO/GRO batch.
const batchSize = 64

// Stats counts one end's traffic: what was written on it and what became of
// those packets on the way to the other end, and what was read from it.
type Stats struct {
	Written   uint64       // packets passed to WriteBatch and WritePackets on this end
	TooBig    uint64       // written packets dropped for exceeding the MTU (or 65535 bytes with a GSO type)
	Impair    impair.Stats // what the impairments did to the others
	Queued    uint64       // packets that reached the other end's receive queue
	QueueFull uint64       // packets dropped because that queue was full
	Read      uint64       // packets returned by ReadBatch and ReadPackets on this end, or delivered inline
	Inline    uint64       // packets of Read delivered inline to this end's reader (link.Inliner)
	GSO       uint64       // written packets with a GSO type: TSO packets
}

// Endpoint is one end of a pipe. Its methods implement link.Endpoint,
// link.OffloadEndpoint (offering offloads only with Config.Offload) and
// link.MultiQueue: it is safe for any number of concurrent readers and
// writers.
type Endpoint struct {
	pair *pair
	in   []*queue // packets arriving at this end, per receive queue
	qs   []link.Endpoint
	peer *Endpoint    // the other end
	path *impair.Path // impairs what this end writes
	// inlineOK: the other end's path to this one is perfect, so arrive
	// runs on the writer's goroutine, which may then run this end's
	// reader's work (inline.go).
	inlineOK bool
	written  atomic.Uint64
	tooBig   atomic.Uint64
	gso      atomic.Uint64

	// With offloads, plain writes get a header in front; plainMu guards
	// plainBuf.
	plainMu  sync.Mutex
	plainBuf []byte
}

var (
	_ link.OffloadEndpoint = (*Endpoint)(nil)
	_ link.MultiQueue      = (*Endpoint)(nil)
)

// pair is what the two ends share.
type pair struct {
	mtu     int
	offload bool
	corrupt bool // Offload with Corrupt: writers fill checksums
	closed  atomic.Bool
	once    sync.Once
	ends    [2]*Endpoint

	inlineBusy atomic.Bool // an inline delivery runs, on either end (inline.go)
}

// New returns the two ends of a new pipe. Their dynamic type is *Endpoint,
// which also reports Stats. When cfg delays packets, each direction runs one
// goroutine until Close.
func New(cfg Config) (a, b link.Endpoint) {
	mtu := cfg.MTU
	if mtu <= 0 {
		mtu = DefaultMTU
	}
	mtu = min(mtu, 65535)
	qlen := cfg.QueueLen
	if qlen <= 0 {
		qlen = DefaultQueueLen
	}
	nq := max(cfg.Queues, 1)
	p := &pair{mtu: mtu, offload: cfg.Offload, corrupt: cfg.Offload && cfg.Corrupt > 0}
	for i := range p.ends {
		e := &Endpoint{pair: p}
		for q := range nq {
			e.in = append(e.in, newQueue(qlen))
			e.qs = append(e.qs, &queueEnd{e: e, q: q})
		}
		p.ends[i] = e
	}
	for i, e := range p.ends {
		e.peer = p.ends[1-i]
		ic := cfg.Impairments()
		ic.Seed = directionSeed(cfg.Seed, i)
		e.path = impair.New(ic, e.peer.arrive)
		e.peer.inlineOK = e.path.Perfect()
	}
	return p.ends[0], p.ends[1]
}

// Impairments returns what cfg does to each direction as the model of
// link/impair takes it: every impairment field of Config, the seed left
// zero (New derives each direction's from Seed; package sim from its own).
// Both users read it here, so that a field added to both Configs cannot be
// carried by one and dropped by the other (TestImpairmentsCarryEveryField).
func (cfg Config) Impairments() impair.Config {
	return impair.Config{
		Loss:           cfg.Loss,
		Reorder:        cfg.Reorder,
		ReorderDelay:   cfg.ReorderDelay,
		Duplicate:      cfg.Duplicate,
		Corrupt:        cfg.Corrupt,
		Delay:          cfg.Delay,
		Jitter:         cfg.Jitter,
		RateBitsPerSec: cfg.RateBitsPerSec,
		QueueBytes:     cfg.QueueBytes,
	}
}

// directionSeed derives direction i's seed from seed with SplitMix64, so the
// two directions' generators are unrelated.
func directionSeed(seed int64, i int) int64 {
	z := uint64(seed) + uint64(i+1)*0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return int64(z ^ z>>31)
}

// MTU returns the pipe's MTU.
func (e *Endpoint) MTU() int { return e.pair.mtu }

// BatchSize returns 64.
func (e *Endpoint) BatchSize() int { return batchSize }

// ReadBatch blocks until a packet has arrived at this end's first receive
// queue, then copies out as many queued packets as fit in bufs and sizes, in
// arrival order. A buffer shorter than its packet receives the packet's
// head and sizes[i] says how much was copied. With no buffers it returns
// (0, nil) at once. After either end is closed it returns net.ErrClosed,
// dropping what was queued. With Config.Offload it returns plain packets:
// see Config.Offload.
func (e *Endpoint) ReadBatch(bufs [][]byte, sizes []int) (int, error) {
	return e.readBatch(0, bufs, sizes)
}

// WriteBatch sends each of pkts to the other end. It never blocks: packets
// larger than the MTU are dropped (counted as TooBig), and packets finding
// the other end's receive queue full are dropped (counted as QueueFull).
// After either end is closed it returns net.ErrClosed.
func (e *Endpoint) WriteBatch(pkts [][]byte) error {
	if e.pair.closed.Load() {
		return net.ErrClosed
	}
	e.written.Add(uint64(len(pkts)))
	if e.pair.offload {
		return e.writePlain(pkts)
	}
	// Hand over each run of packets that fit, without copying the slice.
	start := 0
	for i, p := range pkts {
		if len(p) > e.pair.mtu {
			e.path.SendBatch(pkts[start:i])
			e.tooBig.Add(1)
			start = i + 1
		}
	}
	e.path.SendBatch(pkts[start:])
	return nil
}

// Close closes both ends of the pipe: pending and later ReadBatch and
// WriteBatch calls on either end return net.ErrClosed, and packets in flight
// are dropped. It is safe to call more than once and always returns nil.
func (e *Endpoint) Close() error {
	p := e.pair
	p.once.Do(func() {
		p.closed.Store(true)
		for _, end := range p.ends {
			for _, q := range end.in {
				q.close()
			}
		}
		for _, end := range p.ends {
			end.path.Close()
		}
	})
	return nil
}

// Stats returns this end's counters so far.
func (e *Endpoint) Stats() Stats {
	s := Stats{
		Written: e.written.Load(),
		TooBig:  e.tooBig.Load(),
		Impair:  e.path.Stats(),
		GSO:     e.gso.Load(),
	}
	for _, q := range e.peer.in {
		queued, full, _, _ := q.counts()
		s.Queued += queued
		s.QueueFull += full
	}
	for _, q := range e.in {
		_, _, read, inlined := q.counts()
		s.Read += read
		s.Inline += inlined
	}
	return s
}
