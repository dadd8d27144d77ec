package inet

import (
	"net/netip"
	"time"

	"github.com/synack-go/synack/wire"
)

// Defaults of Config.
const (
	// DefaultICMPRate and DefaultICMPBurst bound the ICMP errors a Layer
	// sends: Linux's icmp_msgs_per_sec and icmp_msgs_burst.
	DefaultICMPRate  = 1000
	DefaultICMPBurst = 50
	// DefaultTTL is the TTL (hop limit) of the packets the layer builds:
	// RFC 1700's recommended default, as Linux uses.
	DefaultTTL = 64
)

// Config configures a Layer. The zero value of each field but Addrs and
// MTU means its default; New neither keeps nor modifies the caller's
// slices.
type Config struct {
	// Addrs are the host's own addresses with their prefixes: packets to
	// them are local, and the directed broadcast of each IPv4 prefix names
	// no single host.
	Addrs []netip.Prefix
	// MTU is the link's MTU: the largest packet the layer builds.
	MTU int
	// Reassembly configures fragment reassembly.
	Reassembly ReassemblyConfig
	// ICMPRate and ICMPBurst bound the ICMP errors the layer builds, per
	// second and at once, in one token bucket (RFC 4443 §2.4(f), RFC 1812
	// §4.3.2.8). 0 means DefaultICMPRate and DefaultICMPBurst; a negative
	// rate sends no ICMP error at all.
	ICMPRate, ICMPBurst int
	// TTL is the TTL (hop limit) of the packets the layer builds. 0 means
	// DefaultTTL.
	TTL uint8
}

// Stats counts a Layer's work. Reasons are counted once each.
type Stats struct {
	// Malformed, Checksum and Unsupported count packets Input dropped: a
	// header that does not parse, a bad IPv4 header checksum, an IP
	// version other than 4 and 6.
	Malformed, Checksum, Unsupported uint64
	// Reassembly counts fragments and datagrams.
	Reassembly ReassemblyStats
	// ICMPErrors counts the ICMP errors built; ICMPRateLimited those the
	// token bucket refused; ICMPSuppressed those RFC 1122 §3.2.2 and RFC
	// 4443 §2.4(e) forbid (about an ICMP error, a multicast or broadcast,
	// a non-initial fragment or a source that names no single host).
	ICMPErrors, ICMPRateLimited, ICMPSuppressed uint64
}

// Layer is the network layer of one stack: input validation and
// reassembly, the ICMP errors it sends, and what it knows of its own
// addresses. Input, ICMPError and the reassembly methods change its state
// and need the owner's lock; IsLocal, BadSource and ParseICMP only read
// the configuration and may run concurrently with each other.
type Layer struct {
	addrs  []netip.Prefix
	bcast  []netip.Addr // the directed broadcasts of addrs (BadSource)
	mtu    int
	ttl    uint8
	noICMP bool

	reasm  *Reassembler
	icmpTB TokenBucket
	stats  Stats
}

// New returns a layer for cfg.
func New(cfg Config) *Layer {
	l := &Layer{
		addrs: append([]netip.Prefix(nil), cfg.Addrs...),
		mtu:   cfg.MTU,
		ttl:   cfg.TTL,
		reasm: NewReassembler(cfg.Reassembly),
	}
	for _, p := range l.addrs {
		// The prefix with every host bit set; /31 and /32 have none.
		if p.Addr().Is4() && p.Bits() < 31 {
			l.bcast = append(l.bcast, BroadcastOf(p))
		}
	}
	if l.ttl == 0 {
		l.ttl = DefaultTTL
	}
	rate, burst := cfg.ICMPRate, cfg.ICMPBurst
	if rate == 0 {
		rate = DefaultICMPRate
	}
	if burst <= 0 {
		burst = DefaultICMPBurst
	}
	l.noICMP = rate < 0
	l.icmpTB = NewTokenBucket(rate, burst)
	return l
}

// Stats returns the layer's counters.
func (l *Layer) Stats() Stats {
	s := l.stats
	s.Reassembly = l.reasm.Stats()
	return s
}

// Reassembler returns the layer's reassembler, for its Deadline, Expire
// and Memory.
func (l *Layer) Reassembler() *Reassembler { return l.reasm }

// Verdict says what Input did with a packet.
type Verdict uint8

const (
	// Deliver: the packet is whole (as received, or reassembled) and out
	// describes it.
	Deliver Verdict = iota
	// Held: a fragment, kept until its datagram is whole.
	Held
	// Dropped: malformed, or a fragment discarded; counted in Stats.
	Dropped
)

// Input takes one packet from the link at time now. For Deliver it fills
// out (wire.ParseIP's meaning) and returns the whole packet: pkt itself, or
// the reassembled datagram, valid until the next Input. The caller still
// decides whether the destination is local (IsLocal) and which flow gets
// the packet.
func (l *Layer) Input(pkt []byte, now time.Duration, out *wire.IPPacket) (Verdict, []byte) {
	err := wire.ParseIP(pkt, out)
	switch err {
	case nil:
		return Deliver, pkt
	case wire.ErrFragment:
		whole := l.reasm.Add(pkt, out, now)
		if whole == nil {
			return Held, nil
		}
		if wire.ParseIP(whole, out) != nil {
			l.stats.Malformed++ // the first fragment's headers were bad
			return Dropped, nil
		}
		return Deliver, whole
	case wire.ErrChecksum:
		l.stats.Checksum++
	case wire.ErrUnsupported:
		l.stats.Unsupported++
	default:
		l.stats.Malformed++
	}
	return Dropped, nil
}

// IsLocal reports whether a is one of the host's addresses.
func (l *Layer) IsLocal(a netip.Addr) bool {
	for _, p := range l.addrs {
		if p.Addr() == a {
			return true
		}
	}
	return false
}

// BadSource reports an address that names no single host, from which no
// ICMP message is acted on and about which none is sent: multicast,
// unspecified, loopback, the limited broadcast, or the directed broadcast
// of one of the host's IPv4 prefixes (RFC 1122 §3.2.1.3, RFC 922).
func (l *Layer) BadSource(a netip.Addr) bool {
	if a.IsMulticast() || a.IsUnspecified() || a.IsLoopback() {
		return true
	}
	if !a.Is4() {
		return false
	}
	if a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return true
	}
	for _, b := range l.bcast { // computed once: every segment in asks
		if a == b {
			return true
		}
	}
	return false
}

// BroadcastOf returns the IPv4 prefix p with every host bit set.
func BroadcastOf(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := ^uint32(0) >> p.Bits()
	for i := range b {
		b[i] |= byte(host >> (24 - 8*i))
	}
	return netip.AddrFrom4(b)
}
