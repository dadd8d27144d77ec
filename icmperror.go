package synack

import (
	"net/netip"
	"syscall"

	"github.com/synack-go/synack/tcp"
	"github.com/synack-go/synack/wire"
)

// Path MTU floors: the smallest path MTU an ICMP message may make us use.
const (
	// minPathMTU4 is ours: RFC 1191 §3 only forbids going below 68 bytes,
	// but a path under 576 (the datagram every host accepts, RFC 1122
	// §3.3.3) is more likely a forged message (RFC 5927 §7) than a real
	// link; Linux keeps a similar floor (min_pmtu, 552).
	minPathMTU4 = 576
	// minPathMTU6 is the IPv6 minimum link MTU, below which RFC 8201 §4
	// forbids going.
	minPathMTU6 = 1280
)

// mtuPlateaus are RFC 1191 §7's "plateaus" (Table 7-1), highest first.
var mtuPlateaus = [...]uint32{65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68}

// icmpError hands the error message m, which asks for act (errno for the
// user), to the connection whose segment it quotes: RFC 1122 §4.2.3.9 "The
// necessary demultiplexing information can be found in the IP header
// contained within the ICMP message". The TCB checks the quoted sequence
// number and decides what the error does (tcp/icmp.go, tcp/pmtu.go).
func (s *Stack) icmpError(ip *wire.IPPacket, m *wire.ICMPMessage, act icmpAction, errno syscall.Errno, tx *txBatch) {
	var q wire.ICMPInvoking
	if err := q.Parse(m.Body); err != nil || q.Src.Is4() != ip.Src.Is4() {
		s.dropICMP(icmpMalformed, netip.AddrPortFrom(ip.Dst, 0), netip.AddrPortFrom(ip.Src, 0))
		return
	}
	key := flowKey{netip.AddrPortFrom(q.Src, q.SrcPort()), netip.AddrPortFrom(q.Dst, q.DstPort())}
	if q.Protocol == wire.ProtoUDP {
		s.udpICMPError(&q, act == icmpHard, errno) // udp_input.go
		return
	}
	if q.Protocol != wire.ProtoTCP {
		s.dropICMP(icmpIgnored, key.local, key.remote)
		return
	}
	c := s.lookup(key)
	if c == nil {
		s.dropICMP(icmpNoConn, key.local, key.remote)
		return
	}
	var mss uint32
	if act == icmpTooBig {
		mss = pathMSS(m.MTU, &q)
	}
	c.icmpError(q.TCPSeq(), act, errno, mss, tx)
}

// pathMSS turns the MTU a fragmentation-needed or packet-too-big message
// reports about the quoted packet q into the MSS tcp.TCB.LowerMTU takes:
// the path MTU less the IP and TCP headers (RFC 1191 §3.1).
func pathMSS(mtu uint32, q *wire.ICMPInvoking) uint32 {
	if q.Src.Is6() {
		return max(mtu, minPathMTU6) - 60
	}
	if mtu < 68 || mtu >= uint32(q.TotalLen) {
		// A router older than RFC 1191 reports 0; under 68 (RFC 791's
		// minimum) or not under the dropped packet's own length is no
		// better. RFC 1191 §5: take the highest plateau below that length.
		mtu = mtuPlateaus[len(mtuPlateaus)-1]
		for _, p := range mtuPlateaus {
			if p < uint32(q.TotalLen) {
				mtu = p
				break
			}
		}
	}
	return max(mtu, minPathMTU4) - 40
}

// icmpError applies an ICMP error quoting our segment with sequence number
// seq, if the TCB finds seq in flight (RFC 5927 §4.1), and sends what that
// makes due: the connection's end, or its data again in smaller segments.
func (c *Conn) icmpError(seq tcp.Seq, act icmpAction, errno syscall.Errno, mss uint32, tx *txBatch) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.s
	switch {
	case c.gone:
		s.dropICMP(icmpNoConn, c.key.local, c.key.remote)
		return
	case !c.tcb.AcceptsICMP(seq):
		s.dropICMP(icmpOutOfWindow, c.key.local, c.key.remote)
		return
	}
	now := s.now()
	switch act {
	case icmpSoft:
		c.tcb.SoftError(errno)
	case icmpHard:
		c.tcb.HardError(errno)
	case icmpTooBig:
		if c.tcb.LowerMTU(mss, now) {
			s.ctr.pmtuReductions.Add(1)
		}
	}
	s.ctr.icmpErrors.Add(1)
	c.pollLocked(now, tx)
}
