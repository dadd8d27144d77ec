package synack

import (
	"sync/atomic"

	"github.com/synack-go/synack/tcp"
)

// Stats are a stack's counters since NewStack, summed over all its
// connections.
type Stats struct {
	PacketsIn, PacketsOut uint64 // IP packets read from and written to the link
	SegmentsIn            uint64 // TCP segments that passed the checksum and parsed
	SegmentsOut           uint64
	Retransmits           uint64 // segments retransmitted
	RSTsIn, RSTsOut       uint64
	ActiveOpens           uint64 // SYNs sent by Dial
	PassiveOpens          uint64 // SYNs that made a half-open connection
	ConnsEstablished      uint64 // handshakes completed, either way
	SynCookiesSent        uint64 // SYN-ACKs carrying a cookie (SYN queue full)
	SynCookiesValid       uint64 // connections opened by a valid cookie
	AcceptQueueDrops      uint64 // SYNs and handshake-ending ACKs dropped: accept queue full
	TimeWaitReused        uint64 // TIME_WAIT connections ended early by a new SYN (RFC 6191)
	Drops                 Drops
}

// Drops counts discarded packets and segments by reason.
type Drops struct {
	Malformed  uint64 // IP or TCP header that does not parse; bad source address
	Checksum   uint64 // bad TCP or IPv4 header checksum
	Fragment   uint64 // IP fragments (not reassembled)
	NotForUs   uint64 // destination is not one of Options.Addrs
	Protocol   uint64 // not TCP
	NoListener uint64 // SYN to a port nobody listens on: answered with RST
	NoConn     uint64 // other segment for no connection: answered with RST
	TooBig     uint64 // outgoing segment larger than the link MTU
	LinkErrors uint64 // WriteBatch failures
	// TCP counts the segments connections discarded, indexed by
	// tcp.DropReason: out of window, PAWS, bad ACK, bad RST, ...
	TCP [tcp.NumDropReasons]uint64
}

// counters is Stats as atomics, owned by the stack.
type counters struct {
	packetsIn, packetsOut, segsIn, segsOut, retrans        atomic.Uint64
	rstsIn, rstsOut, active, passive, established          atomic.Uint64
	cookiesSent, cookiesValid, acceptDrops, timeWaitReused atomic.Uint64
	malformed, checksum, fragment, notForUs, protocol      atomic.Uint64
	noListener, noConn, tooBig, linkErrors                 atomic.Uint64
	tcpDrops                                               [tcp.NumDropReasons]atomic.Uint64
}

// Stats returns a snapshot of the stack's counters. It is safe to call at
// any time, also after Close.
func (s *Stack) Stats() Stats {
	c := &s.ctr
	st := Stats{
		PacketsIn: c.packetsIn.Load(), PacketsOut: c.packetsOut.Load(),
		SegmentsIn: c.segsIn.Load(), SegmentsOut: c.segsOut.Load(), Retransmits: c.retrans.Load(),
		RSTsIn: c.rstsIn.Load(), RSTsOut: c.rstsOut.Load(),
		ActiveOpens: c.active.Load(), PassiveOpens: c.passive.Load(), ConnsEstablished: c.established.Load(),
		SynCookiesSent: c.cookiesSent.Load(), SynCookiesValid: c.cookiesValid.Load(),
		AcceptQueueDrops: c.acceptDrops.Load(), TimeWaitReused: c.timeWaitReused.Load(),
		Drops: Drops{
			Malformed: c.malformed.Load(), Checksum: c.checksum.Load(), Fragment: c.fragment.Load(),
			NotForUs: c.notForUs.Load(), Protocol: c.protocol.Load(),
			NoListener: c.noListener.Load(), NoConn: c.noConn.Load(),
			TooBig: c.tooBig.Load(), LinkErrors: c.linkErrors.Load(),
		},
	}
	for i := range st.Drops.TCP {
		st.Drops.TCP[i] = c.tcpDrops[i].Load()
	}
	return st
}
