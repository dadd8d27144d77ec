package synack

import (
	"sync/atomic"

	"github.com/synack-go/synack/inet"
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
	TimeWait              uint64 // connections in TIME_WAIT now (not a counter)
	TimeWaitOverflow      uint64 // connections closed without TIME_WAIT: Options.MaxTimeWait reached
	ICMPIn                uint64 // ICMPv4 and ICMPv6 messages to our addresses, dropped ones included
	ICMPOut               uint64 // ICMP messages sent: echo replies, and errors (port unreachable, a forwarder's refusals, reassembly time exceeded)
	EchoRequests          uint64 // echo requests answered (ping, ping -6)
	ICMPErrors            uint64 // ICMP errors applied to a connection: soft, hard or a smaller path MTU
	PMTUReductions        uint64 // connections whose send MSS a smaller path MTU lowered (RFC 1191, RFC 8201)
	// RepliesLimited counts replies to unacceptable segments (out of
	// window, failing PAWS, acknowledging unsent data; RFC 5961 challenge
	// ACKs) that the rate limits held back: Options.InvalidReplyLimit and
	// one per connection per 500 ms.
	RepliesLimited uint64
	// Orphans is the number of connections closed by their user and still
	// finishing now (not a counter); OrphansReset counts Closes that reset
	// the connection because there were Options.MaxOrphans already, and
	// orphans holding data reset at the memory limit; and
	// OrphansTimedOut the orphans that gave up: retries, zero-window
	// probes or keepalives exhausted (TCP.OrphanRetries).
	Orphans, OrphansReset, OrphansTimedOut uint64
	// RefusedMemory and RefusedConnLimit count SYNs (and SYN-cookie
	// ACKs) answered with a RST: the memory budget under pressure;
	// Options.MaxConns or MaxConnsPerListener reached.
	RefusedMemory, RefusedConnLimit uint64
	// Memory is the buffer budget's state (Options.MemoryLimit): bytes
	// held now, pressure events, refusals, out-of-order bytes pruned.
	Memory tcp.MemoryStats
	Drops  Drops
	// UDP counts datagrams, the UDP forwarder's flows and fragmented
	// sends.
	UDP UDPStats
	// Network is the network layer's work: reassembly (fragments of every
	// protocol) and the ICMP errors the stack sent or held back.
	Network inet.Stats
	// Forwarded counts the TCP forwarder's requests and how each was
	// decided (ForwardTCP).
	Forwarded TCPForwardStats
}

// Drops counts discarded packets and segments by reason.
type Drops struct {
	Malformed  uint64 // IP or TCP header that does not parse
	Checksum   uint64 // bad TCP or IPv4 header checksum
	Fragment   uint64 // IP fragments reassembly dropped (by reason in Network.Reassembly)
	NotForUs   uint64 // destination is not one of Options.Addrs, and no forwarder takes any address
	Protocol   uint64 // neither TCP nor the ICMP of the packet's IP version
	NoListener uint64 // SYN to a port nobody listens on: answered with RST
	NoConn     uint64 // other segment for no connection: answered with RST (unless it is one, or the rate limit holds it back)
	BadSource  uint64 // TCP from a broadcast, multicast, unspecified or (on a link) loopback source, or to itself (LAND)
	BadFlags   uint64 // SYN with RST or FIN: meaningless in every state
	RSTLimited uint64 // RSTs to strays held back by Options.InvalidReplyLimit
	TooBig     uint64 // outgoing echo reply larger than the link MTU (TCP segments never are: the MSS is bounded by it)
	LinkErrors uint64 // WriteBatch failures
	// TCP counts the segments connections discarded, indexed by
	// tcp.DropReason: out of window, PAWS, bad ACK, bad RST, ...
	TCP [tcp.NumDropReasons]uint64
	// ICMP counts the ICMP messages the stack did not act on.
	ICMP ICMPDrops
}

// ICMPDrops counts the ICMP messages a stack did not act on, by reason. Each
// is also counted in Stats.ICMPIn.
type ICMPDrops struct {
	Malformed uint64 // shorter than its header, or an error whose quoted packet does not parse or is of the other IP version
	Checksum  uint64 // bad ICMP checksum
	BadSource uint64 // from a multicast, broadcast, loopback or unspecified address (RFC 1122 §3.2.1.3)
	// Ignored counts the messages that mean nothing to the stack: echo
	// replies, source quench (RFC 6633), redirects, neighbor discovery,
	// unknown types and codes, errors about packets that are neither TCP
	// nor UDP, soft errors for UDP sockets.
	Ignored     uint64
	NoConn      uint64 // errors about a packet of no flow of ours
	OutOfWindow uint64 // errors whose quoted sequence number is not in flight (RFC 5927 §4.1)
	RateLimited uint64 // echo requests not answered: over Options.EchoRateLimit
}

// counters is Stats as atomics, owned by the stack.
type counters struct {
	packetsIn, packetsOut, segsIn, segsOut, retrans        atomic.Uint64
	rstsIn, rstsOut, active, passive, established          atomic.Uint64
	cookiesSent, cookiesValid, acceptDrops, timeWaitReused atomic.Uint64
	malformed, checksum, fragment, notForUs, protocol      atomic.Uint64
	noListener, noConn, tooBig, linkErrors                 atomic.Uint64
	tcpDrops                                               [tcp.NumDropReasons]atomic.Uint64
	icmpIn, icmpOut, echoes, icmpErrors, pmtuReductions    atomic.Uint64
	icmpDrops                                              [inet.NumICMPDrops]atomic.Uint64
	icmpEchoLimited                                        atomic.Uint64
	orphansReset, orphansTimedOut                          atomic.Uint64
	badSource, badFlags, rstsLimited                       atomic.Uint64
	refusedMemory, refusedConnLimit, timeWaitOverflow      atomic.Uint64
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
		TimeWait: uint64(max(s.tw.n.Load(), 0)), TimeWaitOverflow: c.timeWaitOverflow.Load(),
		ICMPIn: c.icmpIn.Load(), ICMPOut: c.icmpOut.Load(), EchoRequests: c.echoes.Load(),
		ICMPErrors: c.icmpErrors.Load(), PMTUReductions: c.pmtuReductions.Load(),
		RepliesLimited: s.replies.Limited(),
		Orphans:        uint64(max(s.orphans.Load(), 0)),
		OrphansReset:   c.orphansReset.Load(), OrphansTimedOut: c.orphansTimedOut.Load(),
		RefusedMemory: c.refusedMemory.Load(), RefusedConnLimit: c.refusedConnLimit.Load(),
		Memory: s.mem.Stats(),
		Drops: Drops{
			Malformed: c.malformed.Load(), Checksum: c.checksum.Load(), Fragment: c.fragment.Load(),
			NotForUs: c.notForUs.Load(), Protocol: c.protocol.Load(),
			NoListener: c.noListener.Load(), NoConn: c.noConn.Load(),
			BadSource: c.badSource.Load(), BadFlags: c.badFlags.Load(), RSTLimited: c.rstsLimited.Load(),
			TooBig: c.tooBig.Load(), LinkErrors: c.linkErrors.Load(),
			ICMP: ICMPDrops{
				Malformed: c.icmpDrops[inet.ICMPMalformed].Load(), Checksum: c.icmpDrops[inet.ICMPChecksum].Load(),
				BadSource: c.icmpDrops[inet.ICMPBadSource].Load(), Ignored: c.icmpDrops[inet.ICMPIgnored].Load(),
				NoConn: c.icmpDrops[inet.ICMPNoFlow].Load(), OutOfWindow: c.icmpDrops[inet.ICMPOutOfWindow].Load(),
				RateLimited: c.icmpEchoLimited.Load(),
			},
		},
	}
	for i := range st.Drops.TCP {
		st.Drops.TCP[i] = c.tcpDrops[i].Load()
	}
	st.UDP = s.udpStats()
	s.ipMu.Lock()
	st.Network = s.ip.Stats()
	s.ipMu.Unlock()
	st.Forwarded = s.tcpForwardStats()
	return st
}
