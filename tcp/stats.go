package tcp

import (
	"strconv"
	"time"
)

// DropReason says why a TCB discarded a segment.
type DropReason uint8

// The reasons a TCB discards an arriving segment.
const (
	DropOutOfWindow DropReason = iota // RFC 9293 §3.10.7.4 first check: unacceptable sequence
	DropPAWS                          // RFC 7323 §5: timestamp older than TS.Recent
	DropBadAck                        // ACK of unsent data or far behind (RFC 5961 §5.2)
	DropRST                           // RST that failed the RFC 5961 §3.2 checks
	DropSYN                           // SYN in a synchronized state (RFC 5961 §4.2)
	DropNoACK                         // segment without ACK in a synchronized state
	DropNoRoom                        // out-of-order data with no reassembly slot left
	DropAfterClose                    // data after the user closed the read side
	DropInvalid                       // contradictory flags or a segment wrong for the state
	DropNoMemory                      // data the memory budget had no room for (MemoryBudget)
	numDropReasons
)

var dropNames = [...]string{
	DropOutOfWindow: "out-of-window",
	DropPAWS:        "paws",
	DropBadAck:      "bad-ack",
	DropRST:         "bad-rst",
	DropSYN:         "syn-in-window",
	DropNoACK:       "no-ack",
	DropNoRoom:      "reassembly-full",
	DropAfterClose:  "data-after-close",
	DropInvalid:     "invalid",
	DropNoMemory:    "no-memory",
}

// String returns the reason's short name, as traces and counters print it.
func (r DropReason) String() string {
	if int(r) < len(dropNames) {
		return dropNames[r]
	}
	return "unknown"
}

// NumDropReasons is the number of DropReason values; Stats.Drops is indexed
// by them.
const NumDropReasons = int(numDropReasons)

// Stats describes one connection, like Linux's tcp_info (ss -ti): what
// the socket layer knows, and what the recovery unit and the congestion
// controller know (RecoveryStats, embedded). Sizes are bytes.
type Stats struct {
	State       State
	Established bool // the handshake completed at some point
	RTT         time.Duration
	RTTVar      time.Duration
	RTO         time.Duration
	MSS         uint32 // send MSS
	Cwnd        uint32 // bytes
	Ssthresh    uint32 // bytes
	SndWnd      uint32 // peer's window, bytes
	RcvWnd      uint32 // our window, bytes
	Unacked     uint32 // bytes sent and not yet acknowledged (tcpi_unacked, in bytes)
	Probes      uint32 // zero-window or keepalive probes unanswered (tcpi_probes)
	Backoff     uint32 // RTO doublings in effect: timeouts in a row (tcpi_backoff)
	SndBuf      uint32 // the send buffer's size now, as autotuning left it (SO_SNDBUF)
	RcvBuf      uint32 // the receive buffer's size now (SO_RCVBUF)
	// RcvRTT is the receiver's RTT estimate, from timestamps or the time a
	// window takes to arrive (tcpi_rcv_rtt); RcvSpace the bytes the user
	// read in one such RTT, the most measured (tcpi_rcv_space). Receive
	// autotuning works from both (rcvbuf.go); zero until measured.
	RcvRTT   time.Duration
	RcvSpace uint32

	RecoveryStats

	BytesSent     uint64 // payload bytes sent, retransmissions included
	BytesAcked    uint64 // payload bytes the peer acknowledged
	BytesReceived uint64 // payload bytes accepted in order
	BytesRead     uint64 // payload bytes the user read
	SegsOut       uint64
	SegsIn        uint64
	Retransmits   uint64 // segments retransmitted (RTO, fast retransmit, recovery)
	RTOs          uint64 // retransmission timeouts
	LossProbes    uint64 // tail loss probes sent (RFC 8985 §7)
	FastRecov     uint64 // fast recovery episodes
	SACKReneging  uint64 // ACKs that stopped at data the peer had SACKed: it dropped it (RFC 2018 §8)
	DupAcksIn     uint64
	ChallengeAcks uint64 // RFC 5961 challenge ACKs sent
	// RepliesLimited counts replies to unacceptable segments (ACKs for
	// out-of-window segments, challenge ACKs) held back by the rate limits.
	RepliesLimited uint64
	RSTsIn         uint64
	RSTsOut        uint64
	Drops          DropCounts
}

// DropCounts counts the segments a TCB dropped, indexed by DropReason:
// Drops[DropPAWS] is the number dropped by PAWS.
type DropCounts [NumDropReasons]uint64

// String lists the reasons with a count, by name: "out-of-window=3 paws=1",
// or "none".
func (d DropCounts) String() string {
	b := make([]byte, 0, 64)
	for r, n := range d {
		if n == 0 {
			continue
		}
		if len(b) > 0 {
			b = append(b, ' ')
		}
		b = append(b, DropReason(r).String()...)
		b = append(b, '=')
		b = strconv.AppendUint(b, n, 10)
	}
	if len(b) == 0 {
		return "none"
	}
	return string(b)
}

// counters are a TCB's statistics: those that every segment moves inline,
// the rest (timeouts, recoveries, drops, ...) in rare, made on first use,
// so that a quiet connection carries none of them.
type counters struct {
	BytesSent, BytesAcked, BytesReceived, BytesRead uint64
	SegsOut, SegsIn, Retransmits                    uint64
	rare                                            *rareCounters
}

type rareCounters struct {
	RTOs, LossProbes, FastRecov, SACKReneging, DupAcksIn uint64
	ChallengeAcks, RepliesLimited, RSTsIn, RSTsOut       uint64
	TLPRecoveries, DSACKsOut                             uint64
	Drops                                                [NumDropReasons]uint64

	// State most connections never need lives here too.
	dsack            seqRange // a duplicate to report in the next ACK (dsack.go)
	dsackOn          bool
	softErr          error         // the last ICMP soft error, reported on a timeout (icmp.go)
	lastInvalidReply time.Duration // the last reply to an unacceptable segment (ratelimit.go); 0: none
}

// rare returns the TCB's rare counters, making them on first use.
func (t *TCB) rare() *rareCounters {
	if t.stats.rare == nil {
		t.stats.rare = new(rareCounters)
	}
	return t.stats.rare
}

// Stats returns a snapshot of the connection's statistics.
func (t *TCB) Stats() Stats {
	c := &t.stats
	s := Stats{Established: t.wasEstablished, BytesSent: c.BytesSent, BytesAcked: c.BytesAcked,
		BytesReceived: c.BytesReceived, BytesRead: c.BytesRead, SegsOut: c.SegsOut, SegsIn: c.SegsIn,
		Retransmits: c.Retransmits}
	if r := c.rare; r != nil {
		s.RTOs, s.LossProbes, s.FastRecov, s.SACKReneging, s.DupAcksIn = r.RTOs, r.LossProbes, r.FastRecov, r.SACKReneging, r.DupAcksIn
		s.ChallengeAcks, s.RepliesLimited, s.RSTsIn, s.RSTsOut = r.ChallengeAcks, r.RepliesLimited, r.RSTsIn, r.RSTsOut
		s.Drops = r.Drops
	}
	s.State = t.state
	s.RTT = t.rtt.srtt
	s.RTTVar = t.rtt.rttvar
	s.RTO = t.rtt.rto
	s.MSS = t.snd.mss
	if t.negotiated() {
		s.Cwnd, s.Ssthresh, _, _ = t.SendRate()
	}
	s.SndWnd = t.snd.wnd
	s.RcvWnd = t.rcvWindow()
	if t.state.synchronized() {
		s.Unacked = uint32(t.snd.max.Sub(t.snd.una))
	}
	s.Probes = uint32(t.probes())
	s.Backoff = uint32(max(t.tmr.backoffs, 0))
	s.RcvBuf, s.SndBuf = uint32(t.rcv.buf.size), uint32(t.snd.buf.size)
	s.RcvRTT = t.rcv.tune.rtt
	if t.rcv.tune.measured {
		s.RcvSpace = uint32(min(t.rcv.tune.space, 1<<31))
	}
	s.RecoveryStats = t.RecoveryStats()
	return s
}

// probes is how many zero-window or keepalive probes went unanswered.
func (t *TCB) probes() int32 {
	switch {
	case t.tmr.kind == rexmitPersist:
		return t.tmr.backoffs
	case t.tmr.keepSent > 0:
		return t.tmr.keepSent
	}
	return 0
}

// Retransmits returns the number of segments retransmitted so far; cheaper
// than Stats for a runtime that sums it across connections.
func (t *TCB) Retransmits() uint64 { return t.stats.Retransmits }
