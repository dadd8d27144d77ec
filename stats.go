package synack

import (
	"sync/atomic"

	"github.com/synack-go/synack/tcp"
)

// Stats are a stack's counters since NewStack. Drops are by reason.
type Stats struct {
	PacketsIn, PacketsOut uint64
	SegmentsIn            uint64 // TCP segments that passed the checksum
	SegmentsOut           uint64
	Retransmits           uint64 // segments retransmitted, all connections
	RSTsIn, RSTsOut       uint64
	ConnsOpened           uint64 // handshakes completed
	ActiveOpens           uint64 // Dial calls that sent a SYN
	PassiveOpens          uint64 // SYNs that made a half-open connection
	SynCookiesSent        uint64
	SynCookiesValid       uint64 // connections opened from a cookie
	AcceptQueueDrops      uint64 // completed handshakes dropped: accept queue full
	Drops                 Drops
}

// Drops counts discarded packets and segments by reason.
type Drops struct {
	Malformed  uint64 // IP or TCP header that does not parse
	Checksum   uint64 // bad TCP (or IPv4 header) checksum
	Fragment   uint64 // IP fragments (not reassembled)
	NotForUs   uint64 // destination is not one of Options.Addrs
	Protocol   uint64 // not TCP
	NoListener uint64 // no connection and no listener: answered with RST
	TooBig     uint64 // a segment that did not fit the link MTU
	LinkErrors uint64 // WriteBatch failures
	TCP        [tcp.NumDropReasons]uint64
}

// counters is Stats as atomics, owned by the stack.
type counters struct {
	packetsIn, packetsOut, segsIn, segsOut, retrans atomic.Uint64
	rstsIn, rstsOut, opened, active, passive        atomic.Uint64
	cookiesSent, cookiesValid, acceptDrops          atomic.Uint64
	malformed, checksum, fragment, notForUs, proto  atomic.Uint64
	noListener, tooBig, linkErrors                  atomic.Uint64
	tcpDrops                                        [tcp.NumDropReasons]atomic.Uint64
}

// Stats returns a snapshot of the stack's counters.
func (s *Stack) Stats() Stats {
	c := &s.ctr
	st := Stats{
		PacketsIn: c.packetsIn.Load(), PacketsOut: c.packetsOut.Load(),
		SegmentsIn: c.segsIn.Load(), SegmentsOut: c.segsOut.Load(), Retransmits: c.retrans.Load(),
		RSTsIn: c.rstsIn.Load(), RSTsOut: c.rstsOut.Load(),
		ConnsOpened: c.opened.Load(), ActiveOpens: c.active.Load(), PassiveOpens: c.passive.Load(),
		SynCookiesSent: c.cookiesSent.Load(), SynCookiesValid: c.cookiesValid.Load(),
		AcceptQueueDrops: c.acceptDrops.Load(),
		Drops: Drops{
			Malformed: c.malformed.Load(), Checksum: c.checksum.Load(), Fragment: c.fragment.Load(),
			NotForUs: c.notForUs.Load(), Protocol: c.proto.Load(), NoListener: c.noListener.Load(),
			TooBig: c.tooBig.Load(), LinkErrors: c.linkErrors.Load(),
		},
	}
	for i := range st.Drops.TCP {
		st.Drops.TCP[i] = c.tcpDrops[i].Load()
	}
	return st
}
