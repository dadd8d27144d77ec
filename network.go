package synack

import (
	"net/netip"
	"time"

	"github.com/synack-go/synack/inet"
	"github.com/synack-go/synack/tcp"
	"github.com/synack-go/synack/wire"
)

// The network layer as the stack runs it: package inet's Layer, which
// reassembles fragments (of every protocol), builds the ICMP errors the
// stack sends and knows the stack's addresses. Its state changes under
// Stack.ipMu; IsLocal and BadSource only read its configuration.

// initNetwork makes the stack's network layer (NewStack).
func (s *Stack) initNetwork() {
	s.ip = inet.New(inet.Config{Addrs: s.addrs, MTU: s.mtu, TTL: ipTTL})
	// The fragment ID counters start from the stack's secret key, so a
	// seeded Options.Rand repeats them.
	var seed [32]byte
	for i := range 8 {
		v := uint32(s.portHash.ISN(netip.AddrPortFrom(netip.IPv6Unspecified(), uint16(i)), netip.AddrPort{}, 0))
		seed[4*i], seed[4*i+1], seed[4*i+2], seed[4*i+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
	}
	s.fragIDs = inet.NewFragmentIDs(seed)
	s.udpPortNext = uint32(s.portHash.ISN(netip.AddrPort{}, netip.AddrPort{}, 0))
}

// isLocal reports whether a is one of the stack's addresses.
func (s *Stack) isLocal(a netip.Addr) bool { return s.ip.IsLocal(a) }

// badSource reports a source address that names no single host: multicast,
// broadcast (our subnets' directed broadcasts included), unspecified or
// loopback (RFC 1122 §3.2.1.3).
func (s *Stack) badSource(a netip.Addr) bool { return s.ip.BadSource(a) }

// reassemble takes a fragment that wire.ParseIP described in ip. When it
// completes its datagram, reassemble returns the whole packet, parsed into
// ip; otherwise nil (held, or dropped and counted in inet.Stats). The
// packet is a copy the caller owns: reassembled datagrams are rare, and the
// reassembler's buffer is shared. The timer goroutine expires what does
// not complete in time (expireFragments).
func (s *Stack) reassemble(pkt []byte, ip *wire.IPPacket) []byte {
	s.ipMu.Lock()
	r := s.ip.Reassembler()
	before := fragDrops(r)
	whole := r.Add(pkt, ip, s.now())
	if whole != nil {
		whole = append([]byte(nil), whole...)
	}
	s.ctr.fragment.Add(fragDrops(r) - before)
	deadline := r.Deadline()
	s.ipMu.Unlock()
	if deadline != inet.NoDeadline {
		s.timers.wakeBy(deadline)
	}
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

// expireFragments drops the datagrams whose reassembly timed out by now,
// sending the sources of those whose first fragment came an ICMP Time
// Exceeded (inet.Layer.Expire) in tx, and returns when it must run next
// (tcp.NoDeadline if nothing is held). The timer goroutine runs it.
func (s *Stack) expireFragments(now time.Duration, tx *txBatch) time.Duration {
	s.ipMu.Lock()
	defer s.ipMu.Unlock()
	r := s.ip.Reassembler()
	if r.Pending() == 0 {
		return tcp.NoDeadline
	}
	if r.Deadline() <= now {
		before := fragDrops(r)
		s.ip.Expire(now, ipOutput{tx})
		s.ctr.fragment.Add(fragDrops(r) - before)
	}
	if d := r.Deadline(); d != inet.NoDeadline {
		return d
	}
	return tcp.NoDeadline
}

// ipOutput lets the network layer write packets into a transmit batch
// (inet.Output).
type ipOutput struct{ tx *txBatch }

func (o ipOutput) Buffer() []byte { return o.tx.next() }

func (o ipOutput) Send(n int) {
	o.tx.commit(n)
	o.tx.s.ctr.icmpOut.Add(1)
}

// fragmentID returns the Identification for a datagram from src to dst of
// protocol proto that must be fragmented: a per-destination counter keyed
// by the stack's secret (inet.FragmentIDs).
func (s *Stack) fragmentID(src, dst netip.Addr, proto uint8) uint32 {
	h := uint32(s.portHash.ISN(netip.AddrPortFrom(dst, 0), netip.AddrPortFrom(src, uint16(proto)), 0))
	s.ipMu.Lock()
	id := s.fragIDs.Next(h)
	s.ipMu.Unlock()
	return id
}

// icmpUnreachable answers pkt (ip describes it) with an ICMP destination
// unreachable error for why in tx, from the address pkt was sent to, if
// the rules and the rate limit allow one (inet.Layer.ICMPError).
func (s *Stack) icmpUnreachable(pkt []byte, ip *wire.IPPacket, why inet.Unreachable, tx *txBatch) {
	buf := tx.next()
	s.ipMu.Lock()
	n := s.ip.ICMPError(buf, pkt, ip, why, s.now())
	s.ipMu.Unlock()
	if n > 0 {
		tx.commit(n)
		s.ctr.icmpOut.Add(1)
	}
}
