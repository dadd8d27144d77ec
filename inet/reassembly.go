package inet

import (
	"bytes"
	"net/netip"
	"time"

	"github.com/synack-go/synack/wire"
)

// Reassembly limits and defaults.
const (
	// DefaultReassemblyBytes is the default memory cap of a Reassembler:
	// Linux's ipfrag_high_thresh.
	DefaultReassemblyBytes = 4 << 20
	// DefaultTimeout4 is how long an IPv4 datagram may take to arrive
	// whole: Linux's ipfrag_time. RFC 791 leaves it to the host (its
	// example sets the timer to 15 s at least).
	DefaultTimeout4 = 30 * time.Second
	// DefaultTimeout6 is RFC 8200 §4.5's 60 seconds.
	DefaultTimeout6 = 60 * time.Second
	// DefaultMaxFragments bounds the fragments of one datagram: a 64 KiB
	// datagram over IPv4's 576-byte minimum path needs 120, and a sender
	// that cuts finer is more likely an attack on the reassembler's
	// sorting than a link.
	DefaultMaxFragments = 128

	maxDatagram = 65535 // IPv4 Total Length, IPv6 Payload Length: 16 bits

	// Memory charged besides the bytes held: a datagram's bookkeeping and
	// each fragment's, so that tiny fragments cost what they really do.
	datagramOverhead = 192
	pieceOverhead    = 32
)

// ReassemblyConfig configures a Reassembler. The zero value of each field
// means its default.
type ReassemblyConfig struct {
	// MaxBytes caps the memory held by incomplete datagrams: fragment data,
	// headers and bookkeeping. A fragment that would go past it evicts the
	// oldest datagrams first. 0 means DefaultReassemblyBytes.
	MaxBytes int
	// Timeout4 and Timeout6 bound the time from a datagram's first
	// fragment to its last, per family. 0 means DefaultTimeout4 and
	// DefaultTimeout6.
	Timeout4, Timeout6 time.Duration
	// MaxFragments bounds the fragments one datagram may have. 0 means
	// DefaultMaxFragments.
	MaxFragments int
}

// FragDrop is why a Reassembler discarded fragments. Each counts
// fragments, those held by a discarded datagram included.
type FragDrop uint8

const (
	// FragMalformed: a fragment with the M flag whose data is not a
	// multiple of 8 bytes or is empty (RFC 791 §3.2, RFC 8200 §4.5), or
	// that ends past the largest datagram a header can describe.
	FragMalformed FragDrop = iota
	// FragOverlap: fragments that overlapped, and every fragment of their
	// datagram, which is dropped whole (RFC 5722; Linux does the same for
	// IPv4). Later fragments of it are dropped too, until its timeout.
	FragOverlap
	// FragDuplicate: an exact copy of a fragment already held (RFC 8200
	// §4.5 allows dropping it alone).
	FragDuplicate
	// FragInconsistent: two last fragments that disagree on the length,
	// or data past the length the last fragment gave: the datagram is
	// dropped.
	FragInconsistent
	// FragTimeout: the fragments of datagrams that did not complete in
	// time.
	FragTimeout
	// FragMemory: fragments of datagrams evicted for the memory cap, or
	// refused because one fragment alone did not fit.
	FragMemory
	// FragTooMany: a datagram that went past MaxFragments.
	FragTooMany
	// FragHeaders: an IPv6 first fragment that does not hold the whole
	// header chain and the transport header's start (RFC 7112 §5, RFC
	// 8200 §4.5): dropped with its datagram.
	FragHeaders
	// FragTooBig: a datagram whose reassembled length does not fit its IP
	// header's 16-bit length field.
	FragTooBig
	// NumFragDrops is the number of reasons.
	NumFragDrops
)

var fragDropNames = [NumFragDrops]string{
	FragMalformed:    "frag-malformed",
	FragOverlap:      "frag-overlap",
	FragDuplicate:    "frag-duplicate",
	FragInconsistent: "frag-inconsistent",
	FragTimeout:      "frag-timeout",
	FragMemory:       "frag-memory",
	FragTooMany:      "frag-too-many",
	FragHeaders:      "frag-headers",
	FragTooBig:       "frag-too-big",
}

// String returns the reason's name as traces and counters show it.
func (d FragDrop) String() string {
	if d < NumFragDrops {
		return fragDropNames[d]
	}
	return "frag-?"
}

// ReassemblyStats counts a Reassembler's work.
type ReassemblyStats struct {
	Fragments   uint64 // fragments taken by Add
	Reassembled uint64 // datagrams completed
	Drops       [NumFragDrops]uint64
}

// Reassembler puts IPv4 and IPv6 fragments back together: RFC 815's hole
// list, kept as the sorted list of the pieces held. Overlapping fragments
// drop their whole datagram (RFC 5722, RFC 8200 §4.5), exact duplicates are
// dropped alone, and memory, time and fragment count are bounded. It reads
// no clock: Add takes the time, and the owner calls Expire by Deadline.
// A Reassembler is not safe for concurrent use; make one with
// NewReassembler.
type Reassembler struct {
	cfg   ReassemblyConfig
	dgs   map[fragKey]*datagram
	lists [2]dgList // by age, one per family (their timeouts differ): [0] IPv4, [1] IPv6
	mem   int
	free  []*datagram // recycled datagrams, their buffers kept
	out   []byte      // the last reassembled packet, returned by Add
	stats ReassemblyStats
}

// fragKey names a datagram: RFC 791 §3.2 (source, destination, protocol,
// identification) and RFC 8200 §4.5 (source, destination, identification).
type fragKey struct {
	src, dst netip.Addr
	id       uint32
	proto    uint8 // IPv4 only
}

// datagram is one datagram being reassembled.
type datagram struct {
	key        fragKey
	v6         bool
	dead       bool          // dropped for overlap: later fragments are dropped too
	expires    time.Duration // its reassembly timeout
	total      int           // payload length, from the last fragment; -1 until then
	have       int           // payload bytes held
	pieces     []piece       // sorted by off, never overlapping
	arena      []byte        // fragment data, in arrival order
	hdr        []byte        // the first fragment's headers, once it came
	nh         uint8         // IPv6: the first fragment's Fragment header Next Header
	nhAt       int           // IPv6: where the Next Header naming the Fragment header sits in hdr
	charged    int           // memory charged for it
	prev, next *datagram     // in its age list
}

// piece is one fragment's data: payload bytes [off, off+n), held at
// arena[at:at+n].
type piece struct{ off, n, at int }

// NewReassembler returns an empty reassembler.
func NewReassembler(cfg ReassemblyConfig) *Reassembler {
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultReassemblyBytes
	}
	if cfg.Timeout4 <= 0 {
		cfg.Timeout4 = DefaultTimeout4
	}
	if cfg.Timeout6 <= 0 {
		cfg.Timeout6 = DefaultTimeout6
	}
	if cfg.MaxFragments <= 0 {
		cfg.MaxFragments = DefaultMaxFragments
	}
	return &Reassembler{cfg: cfg, dgs: make(map[fragKey]*datagram)}
}

// Stats returns the reassembler's counters.
func (r *Reassembler) Stats() ReassemblyStats { return r.stats }

// Memory returns the bytes charged to the datagrams held.
func (r *Reassembler) Memory() int { return r.mem }

// Pending returns the number of incomplete datagrams held, dropped ones
// waiting for their timeout included.
func (r *Reassembler) Pending() int { return len(r.dgs) }

// Deadline returns when the oldest datagram times out: when Expire must run
// next. It is NoDeadline when nothing is held.
func (r *Reassembler) Deadline() time.Duration {
	d := NoDeadline
	for i := range r.lists {
		if h := r.lists[i].head; h != nil && h.expires < d {
			d = h.expires
		}
	}
	return d
}

// NoDeadline is what Deadline returns when no timer is due.
const NoDeadline = time.Duration(1<<63 - 1)

// Expire drops the datagrams whose timeout has passed by now.
func (r *Reassembler) Expire(now time.Duration) { r.ExpireFunc(now, nil) }

// maxTimeoutQuote is how much of a timed-out datagram's first fragment
// ExpireFunc hands out: its headers and up to this many bytes of data, more
// than any ICMP error quotes after the headers.
const maxTimeoutQuote = 1232

// ExpireFunc is Expire that calls timedOut, when not nil, for each dropped
// datagram whose first fragment had come: first is that fragment as
// received, its headers and the start of its data, valid only during the
// call. RFC 8200 §4.5 (and RFC 1122 §3.3.2 for IPv4) would have the source
// told with an ICMP Time Exceeded, code 1; see Layer.Expire.
func (r *Reassembler) ExpireFunc(now time.Duration, timedOut func(first []byte)) {
	for i := range r.lists {
		for h := r.lists[i].head; h != nil && h.expires <= now; h = r.lists[i].head {
			if timedOut != nil && h.hdr != nil && len(h.pieces) > 0 && h.pieces[0].off == 0 {
				q := h.pieces[0]
				first := append(r.out[:0], h.hdr...)
				first = append(first, h.arena[q.at:q.at+min(q.n, maxTimeoutQuote)]...)
				r.out = first[:0]
				timedOut(first)
			}
			r.discard(h, FragTimeout)
		}
	}
}

// Add takes one fragment at time now: pkt is the whole packet as received
// and p what wire.ParseIP said of it (it returned wire.ErrFragment). When
// the fragment completes its datagram, Add returns the reassembled packet,
// a whole IP packet that wire.ParseIP parses like any other (for IPv4 the
// first fragment's header with the length and fragment fields fixed; for
// IPv6 the first fragment's unfragmentable part without the Fragment
// header, RFC 8200 §4.5); it is valid until the next call to Add or
// ExpireFunc.
// Otherwise Add returns nil, and any fragment it discarded is counted in
// Stats. Add never keeps pkt.
func (r *Reassembler) Add(pkt []byte, p *wire.IPPacket, now time.Duration) []byte {
	r.stats.Fragments++
	r.Expire(now)
	f := &p.Fragment
	v6 := p.Src.Is6()
	data := p.Payload
	end := f.Offset + len(data)
	if f.More && (len(data) == 0 || len(data)%8 != 0) || end > maxDatagram {
		r.stats.Drops[FragMalformed]++
		return nil
	}
	k := fragKey{src: p.Src, dst: p.Dst, id: f.ID}
	if !v6 {
		k.proto = p.Protocol
	}
	d := r.dgs[k]
	if d == nil {
		d = r.newDatagram(k, v6, now)
		if d == nil {
			r.stats.Drops[FragMemory]++
			return nil
		}
	}
	if d.dead {
		r.stats.Drops[FragOverlap]++
		return nil
	}
	if f.Offset == 0 && v6 && !chainComplete(p.Protocol, data) {
		r.stats.Drops[FragHeaders]++
		r.discard(d, FragHeaders)
		return nil
	}
	switch {
	case !f.More && d.total >= 0 && d.total != end,
		!f.More && end < d.maxEnd(),
		d.total >= 0 && end > d.total:
		r.stats.Drops[FragInconsistent]++
		r.discard(d, FragInconsistent)
		return nil
	}
	i, dup := d.find(f.Offset, data)
	switch {
	case dup:
		r.stats.Drops[FragDuplicate]++
		return nil
	case i < 0:
		// RFC 5722 §4: the whole datagram goes, and fragments of it that
		// are still to come.
		r.stats.Drops[FragOverlap]++
		r.kill(d)
		return nil
	case len(d.pieces) >= r.cfg.MaxFragments:
		r.stats.Drops[FragTooMany]++
		r.discard(d, FragTooMany)
		return nil
	}
	var hdr []byte
	if f.Offset == 0 {
		hdr = pkt[:f.HeaderLen]
	}
	if !r.charge(d, len(data), hdr) {
		r.stats.Drops[FragMemory]++
		r.discard(d, FragMemory)
		return nil
	}
	if hdr != nil {
		d.hdr = append(d.hdr[:0], hdr...)
		d.nh, d.nhAt = p.Protocol, f.NextHeaderAt
	}
	d.pieces = append(d.pieces, piece{})
	copy(d.pieces[i+1:], d.pieces[i:])
	d.pieces[i] = piece{off: f.Offset, n: len(data), at: len(d.arena)}
	d.arena = append(d.arena, data...)
	d.have += len(data)
	if !f.More {
		d.total = end
	}
	if d.total < 0 || d.have != d.total || d.hdr == nil {
		return nil
	}
	return r.complete(d)
}

// maxEnd returns the end of the highest piece held.
func (d *datagram) maxEnd() int {
	if len(d.pieces) == 0 {
		return 0
	}
	last := d.pieces[len(d.pieces)-1]
	return last.off + last.n
}

// find returns where a fragment of data at off goes in d.pieces, or -1 if
// it overlaps a piece held; dup reports an exact copy of a piece held.
func (d *datagram) find(off int, data []byte) (i int, dup bool) {
	end := off + len(data)
	// Binary search for the first piece that ends after off.
	lo, hi := 0, len(d.pieces)
	for lo < hi {
		m := (lo + hi) / 2
		if q := d.pieces[m]; q.off+q.n <= off {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(d.pieces) {
		q := d.pieces[lo]
		if q.off == off && q.n == len(data) && bytes.Equal(d.arena[q.at:q.at+q.n], data) {
			return lo, true
		}
		if q.off < end || (len(data) == 0 && q.off == off && q.n == 0) {
			return -1, false
		}
	}
	return lo, false
}

// chainComplete reports whether data, the first fragment's fragmentable
// part starting with header nh, holds every extension header and the start
// of the transport header: TCP's 20 bytes, UDP's 8, ICMPv6's first 4 (the
// lengths Linux checks in ipv6frag_thdr_truncated). RFC 7112 §5.
func chainComplete(nh uint8, data []byte) bool {
	for {
		switch nh {
		case 43, 60: // Routing, Destination Options
			if len(data) < 8 {
				return false
			}
			n := (int(data[1]) + 1) * 8
			if n > len(data) {
				return false
			}
			nh, data = data[0], data[n:]
		case wire.ProtoTCP:
			return len(data) >= 20
		case wire.ProtoUDP:
			return len(data) >= wire.UDPHeaderLen
		case wire.ProtoICMPv6:
			return len(data) >= 4
		case 0, wire.ProtoIPv6Fragment:
			return false // Hop-by-Hop out of place, or a second Fragment header
		default:
			return true // a protocol whose header we do not know
		}
	}
}

// newDatagram makes room for and enters a new datagram, or returns nil if
// even an empty one does not fit.
func (r *Reassembler) newDatagram(k fragKey, v6 bool, now time.Duration) *datagram {
	if !r.makeRoom(datagramOverhead, nil) {
		return nil
	}
	var d *datagram
	if n := len(r.free); n > 0 {
		d = r.free[n-1]
		r.free = r.free[:n-1]
		*d = datagram{pieces: d.pieces[:0], arena: d.arena[:0], hdr: d.hdr[:0]}
	} else {
		d = &datagram{}
	}
	d.key, d.v6, d.total = k, v6, -1
	d.expires = now + r.cfg.Timeout4
	if v6 {
		d.expires = now + r.cfg.Timeout6
	}
	d.charged = datagramOverhead
	r.mem += datagramOverhead
	r.dgs[k] = d
	r.lists[family(v6)].pushBack(d)
	return d
}

func family(v6 bool) int {
	if v6 {
		return 1
	}
	return 0
}

// charge accounts for d taking n more data bytes (and the first fragment's
// headers hdr), evicting older datagrams if the cap needs it. It reports
// false when the datagram cannot grow within the cap.
func (r *Reassembler) charge(d *datagram, n int, hdr []byte) bool {
	need := d.cost(n, len(hdr)) - d.charged
	if !r.makeRoom(need, d) {
		return false
	}
	d.charged += need
	r.mem += need
	return true
}

// cost is what d would be charged holding n more data bytes and a header
// of hl bytes: its buffers' capacity as they would grow, and bookkeeping.
func (d *datagram) cost(n, hl int) int {
	arena := cap(d.arena)
	if len(d.arena)+n > arena {
		arena = max(2*arena, len(d.arena)+n) // append's growth, at most
	}
	return datagramOverhead + arena + max(cap(d.hdr), hl) + (len(d.pieces)+1)*pieceOverhead
}

// makeRoom evicts the oldest datagrams other than keep until need more
// bytes fit under the cap, and reports whether they do.
func (r *Reassembler) makeRoom(need int, keep *datagram) bool {
	if need > r.cfg.MaxBytes {
		return false
	}
	for r.mem+need > r.cfg.MaxBytes {
		var old *datagram
		for i := range r.lists {
			for h := r.lists[i].head; h != nil; h = h.next {
				if h != keep {
					if old == nil || h.expires-r.timeout(h.v6) < old.expires-r.timeout(old.v6) {
						old = h
					}
					break
				}
			}
		}
		if old == nil {
			return false
		}
		r.discard(old, FragMemory)
	}
	return true
}

func (r *Reassembler) timeout(v6 bool) time.Duration {
	if v6 {
		return r.cfg.Timeout6
	}
	return r.cfg.Timeout4
}

// kill drops d's fragments but keeps d, dead, until its timeout, so that
// the fragments still to come are dropped too (RFC 5722 §4).
func (r *Reassembler) kill(d *datagram) {
	r.stats.Drops[FragOverlap] += uint64(len(d.pieces))
	d.dead = true
	d.pieces, d.arena, d.hdr = d.pieces[:0], nil, nil
	r.mem -= d.charged - datagramOverhead
	d.charged = datagramOverhead
}

// discard forgets d, counting its fragments under why.
func (r *Reassembler) discard(d *datagram, why FragDrop) {
	r.stats.Drops[why] += uint64(len(d.pieces))
	r.forget(d)
}

// forget removes d and recycles it, keeping its buffers when they are
// small.
func (r *Reassembler) forget(d *datagram) {
	delete(r.dgs, d.key)
	r.lists[family(d.v6)].remove(d)
	r.mem -= d.charged
	if len(r.free) < 8 {
		if cap(d.arena) > 16<<10 {
			d.arena = nil
		}
		r.free = append(r.free, d)
	}
}

// complete builds the whole packet of d into r.out and forgets d.
func (r *Reassembler) complete(d *datagram) []byte {
	hl := len(d.hdr)
	if d.v6 {
		hl -= wire.IPv6FragmentHeaderLen
	}
	if hl+d.total > maxDatagram+40*family(d.v6) {
		r.discard(d, FragTooBig)
		return nil
	}
	n := hl + d.total
	if cap(r.out) < n {
		r.out = make([]byte, n, max(n, 2*cap(r.out)))
	}
	out := r.out[:n]
	copy(out, d.hdr[:hl])
	for _, q := range d.pieces {
		copy(out[hl+q.off:], d.arena[q.at:q.at+q.n])
	}
	if d.v6 {
		out[d.nhAt] = d.nh
		wire.IPv6(out).SetPayloadLen(n - 40)
	} else {
		h := wire.IPv4(out)
		h.SetFragment(uint16(d.key.id), 0, false)
		h.SetTotalLen(n)
		h.SetChecksum()
	}
	r.stats.Reassembled++
	r.forget(d)
	return out
}

// dgList is a doubly linked list of datagrams, oldest first.
type dgList struct{ head, tail *datagram }

func (l *dgList) pushBack(d *datagram) {
	d.prev, d.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = d
	} else {
		l.head = d
	}
	l.tail = d
}

func (l *dgList) remove(d *datagram) {
	if d.prev != nil {
		d.prev.next = d.next
	} else {
		l.head = d.next
	}
	if d.next != nil {
		d.next.prev = d.prev
	} else {
		l.tail = d.prev
	}
	d.prev, d.next = nil, nil
}
