package synack

import (
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/synack-go/synack/inet"
	"github.com/synack-go/synack/udp"
	"github.com/synack-go/synack/wire"
)

// netLayer is what the stack has of package inet and of UDP until the
// restructure (docs/design.md, "Network layer") folds it into the stack:
// the UDP flow table and sockets, fragment reassembly for every protocol,
// the fragment IDs and ICMP errors the stack sends. It is made on first
// use, so a stack that never sees UDP or a fragment pays nothing.
type netLayer struct {
	once sync.Once
	s    *Stack

	mu       sync.RWMutex // guards table and portNext
	table    inet.Table[udpEntry]
	portNext uint32

	lmu   sync.Mutex // guards layer and ids
	layer *inet.Layer
	ids   *inet.FragmentIDs

	pool    *udp.Pool
	scratch sync.Pool // *udpScratch, for datagrams larger than the MTU
	expiry  udpExpiry
	ctr     udpCounters
}

// udpEntry is what the UDP flow table holds: a socket, or a forwarder.
type udpEntry struct {
	c *UDPConn
	f *UDPForwarder
}

// udpCounters are UDPStats as atomics.
type udpCounters struct {
	in, out, malformed, checksum, noPort, notForUs, queueDrops atomic.Uint64
	forwarded, forwardDrops, idleExpired, icmpErrors           atomic.Uint64
	fragmentsOut, fragmentedOut                                atomic.Uint64
}

// net returns the stack's network layer state, made on first use.
func (s *Stack) net() *netLayer {
	nl := &s.nl
	nl.once.Do(func() {
		nl.s = s
		nl.layer = inet.New(inet.Config{Addrs: s.addrs, MTU: s.mtu, TTL: ipTTL})
		// The fragment ID counters start from the stack's secret key, so
		// a seeded Options.Rand repeats them.
		var seed [32]byte
		for i := range 8 {
			v := uint32(s.portHash.ISN(netip.AddrPortFrom(netip.IPv6Unspecified(), uint16(i)), netip.AddrPort{}, 0))
			seed[4*i], seed[4*i+1], seed[4*i+2], seed[4*i+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
		}
		nl.ids = inet.NewFragmentIDs(seed)
		nl.portNext = uint32(s.portHash.ISN(netip.AddrPort{}, netip.AddrPort{}, 0))
		nl.pool = udp.NewPool()
		nl.expiry.init(s)
	})
	return nl
}

// reassemble takes a fragment that wire.ParseIP described in ip. When it
// completes its datagram, reassemble returns the whole packet, parsed into
// ip; otherwise nil (held, or dropped and counted in inet.Stats). The
// packet is a copy the caller owns: reassembled datagrams are rare, and the
// reassembler's buffer is shared.
func (s *Stack) reassemble(pkt []byte, ip *wire.IPPacket) []byte {
	nl := s.net()
	nl.lmu.Lock()
	r := nl.layer.Reassembler()
	before := fragDrops(r)
	whole := r.Add(pkt, ip, s.now())
	if whole != nil {
		whole = append([]byte(nil), whole...)
	}
	s.ctr.fragment.Add(fragDrops(r) - before)
	nl.lmu.Unlock()
	if whole == nil || wire.ParseIP(whole, ip) != nil {
		return nil
	}
	return whole
}

// fragDrops is the number of fragments r has dropped, for Stats.Drops.Fragment.
func fragDrops(r *inet.Reassembler) uint64 {
	var n uint64
	for _, d := range r.Stats().Drops {
		n += d
	}
	return n
}

// fragmentID returns the Identification for a datagram from src to dst of
// protocol proto that must be fragmented: a per-destination counter keyed
// by the stack's secret (inet.FragmentIDs).
func (nl *netLayer) fragmentID(src, dst netip.Addr, proto uint8) uint32 {
	h := uint32(nl.s.portHash.ISN(netip.AddrPortFrom(dst, 0), netip.AddrPortFrom(src, uint16(proto)), 0))
	nl.lmu.Lock()
	id := nl.ids.Next(h)
	nl.lmu.Unlock()
	return id
}

// icmpUnreachable answers pkt (ip describes it) with an ICMP destination
// unreachable error in tx, if the rules and the rate limit allow one.
func (nl *netLayer) icmpUnreachable(pkt []byte, ip *wire.IPPacket, why inet.Unreachable, tx *txBatch) {
	buf := tx.next()
	nl.lmu.Lock()
	n := nl.layer.ICMPError(buf, pkt, ip, why, nl.s.now())
	nl.lmu.Unlock()
	if n > 0 {
		tx.commit(n)
		nl.s.ctr.icmpOut.Add(1)
	}
}
