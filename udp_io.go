package synack

import (
	"net/netip"
	"syscall"

	"github.com/synack-go/synack/inet"
	"github.com/synack-go/synack/wire"
)

// inputUDP hands a UDP datagram (pkt, as ip describes it; any
// destination) to the one owner the lookup finds: the connected or
// forwarded socket of its 4-tuple, a socket bound to the destination or
// the wildcard, or the UDP forwarder; a datagram to a closed local port
// is answered with ICMP port unreachable (RFC 1122 §4.1.3.1). Every
// discard is counted in Stats.UDP. checked says the link vouches for the
// checksum (link.Meta).
func (s *Stack) inputUDP(pkt []byte, ip *wire.IPPacket, checked bool, tx *txBatch) {
	c := &s.udpCtr
	b := wire.UDP(ip.Payload)
	if b.Check() != nil {
		c.malformed.Add(1)
		s.traceDrop(netip.AddrPortFrom(ip.Dst, 0), netip.AddrPortFrom(ip.Src, 0), "udp-malformed")
		return
	}
	// Bytes after the UDP length are not the datagram's (as Linux trims).
	b = b[:b.Length()]
	local, remote := netip.AddrPortFrom(ip.Dst, b.DstPort()), netip.AddrPortFrom(ip.Src, b.SrcPort())
	if !checked && !b.VerifyChecksum(ip.Src, ip.Dst) {
		c.checksum.Add(1)
		s.traceDrop(local, remote, "udp-bad-checksum")
		return
	}
	if s.badSource(ip.Src) && !ip.Src.IsUnspecified() {
		// RFC 1122 §3.2.1.3: a multicast or broadcast source names no
		// host. (0.0.0.0 is let through: DHCP clients send from it.)
		c.malformed.Add(1)
		s.traceDrop(local, remote, "udp-bad-source")
		return
	}
	if ip.Dst.IsMulticast() || ip.Dst.Is4() && s.badSource(ip.Dst) && !ip.Dst.IsLoopback() {
		// No multicast group is joined, and broadcasts are not for a
		// forwarder to relay.
		c.notForUs.Add(1)
		s.traceDrop(local, remote, "not-for-us")
		return
	}
	key := flowKey{local, remote}
	now := s.now()
	if u := s.flows.getUDP(key); u != nil {
		u.deliver(remote, local, b.Payload(), now)
		return
	}
	isLocal := s.isLocal(ip.Dst)
	e, m := s.bound(wire.ProtoUDP, key, isLocal)
	switch m {
	case inet.NoMatch:
		if !isLocal {
			c.notForUs.Add(1)
			s.traceDrop(local, remote, "not-for-us")
			return
		}
		c.noPort.Add(1)
		s.traceDrop(local, remote, "udp-no-port")
		s.icmpUnreachable(pkt, ip, inet.UnreachPort, tx)
	case inet.MatchForwarder:
		e.uf.newFlow(local, remote, b.Payload(), now)
	default:
		e.u.deliver(remote, local, b.Payload(), now)
	}
}

// udpICMPError hands an ICMP error quoting one of our UDP datagrams (from
// key.local to key.remote) to the connected socket that sent it. As Linux
// without IP_RECVERR, only hard errors count (port or protocol
// unreachable, prohibited, ...), and only for connected sockets: an
// unconnected socket cannot tell which of its peers the error is about.
// Soft errors and a smaller path MTU are counted as ignored.
func (s *Stack) udpICMPError(key flowKey, hard bool, errno syscall.Errno) {
	u := s.flows.getUDP(key)
	switch {
	case u == nil:
		s.dropICMP(inet.ICMPNoFlow, key.local, key.remote)
	case !hard:
		s.dropICMP(inet.ICMPIgnored, key.local, key.remote)
	default:
		u.icmpError(errno)
		s.udpCtr.icmpErrors.Add(1)
		s.ctr.icmpErrors.Add(1)
	}
}

// udpScratch holds a datagram larger than the MTU while it is cut into
// fragments, and the fragments.
type udpScratch struct {
	pkt   []byte
	slab  []byte
	frags [][]byte
	sizes []int
}

// sendUDP sends p as one UDP datagram from src to dst: in one packet when
// it fits the MTU (with Don't Fragment, as Linux sends UDP with path MTU
// discovery on), else in fragments. It fails with EMSGSIZE for more than
// the 16-bit length fields allow.
func (s *Stack) sendUDP(src, dst netip.AddrPort, p []byte) error {
	hl := wire.IPHeaderLen(dst.Addr())
	ulen := wire.UDPHeaderLen + len(p)
	if ulen > 65535 || (hl == 20 && hl+ulen > 65535) {
		return syscall.EMSGSIZE
	}
	d := wire.UDPDatagram{SrcPort: src.Port(), DstPort: dst.Port(), Payload: p}
	if hl+ulen <= s.mtu {
		tx := s.batches.get()
		buf := tx.next()
		wire.PutIPHeader(buf, src.Addr(), dst.Addr(), wire.ProtoUDP, ulen, ipTTL)
		d.Emit(buf[hl:], src.Addr(), dst.Addr())
		tx.commit(hl + ulen)
		s.batches.put(tx)
		s.udpCtr.out.Add(1)
		return nil
	}
	sc, _ := s.udpScratch.Get().(*udpScratch)
	if sc == nil {
		sc = &udpScratch{pkt: make([]byte, 40+65535)}
	}
	defer s.udpScratch.Put(sc)
	pkt := sc.pkt[:hl+ulen]
	wire.PutIPHeader(pkt, src.Addr(), dst.Addr(), wire.ProtoUDP, ulen, ipTTL)
	d.Emit(pkt[hl:], src.Addr(), dst.Addr())
	n := inet.FragmentCount(pkt, s.mtu)
	if n == 0 {
		return syscall.EMSGSIZE
	}
	if len(sc.frags) < n {
		sc.slab = make([]byte, n*s.mtu)
		sc.frags, sc.sizes = make([][]byte, n), make([]int, n)
	}
	frags := sc.frags[:n]
	for i := range frags {
		frags[i] = sc.slab[i*s.mtu : (i+1)*s.mtu]
	}
	id := s.fragmentID(src.Addr(), dst.Addr(), wire.ProtoUDP)
	if _, err := inet.Fragment(pkt, s.mtu, id, frags, sc.sizes); err != nil {
		return syscall.EMSGSIZE
	}
	for i := range frags {
		frags[i] = frags[i][:sc.sizes[i]]
	}
	if err := s.ep.WriteBatch(frags); err != nil {
		s.ctr.linkErrors.Add(1)
	}
	s.ctr.packetsOut.Add(uint64(n))
	s.udpCtr.out.Add(1)
	s.udpCtr.fragmentedOut.Add(1)
	s.udpCtr.fragmentsOut.Add(uint64(n))
	return nil
}
