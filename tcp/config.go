package tcp

import (
	"time"

	"github.com/synack-go/synack/tcp/cc"
)

// Config holds the tunables of a connection. The zero value of every field
// means the documented default. A Config may be shared by many TCBs; it must
// not be modified after the first TCB uses it.
type Config struct {
	// MSS is the largest segment payload we accept, advertised in our SYN:
	// the link MTU less IP and TCP headers. Zero means 1460.
	MSS uint16
	// SendBuf and RecvBuf are the sizes of the send and receive buffers in
	// bytes. Zero means 1 MiB at first, grown by autotuning (sndbuf.go, up
	// to 4 MiB; rcvbuf.go, up to MaxRecvBuf); a size set here is fixed, as
	// SO_SNDBUF and SO_RCVBUF in Linux. The receive buffer bounds the
	// advertised window and the out-of-order queue. Either costs memory
	// only for the bytes it holds.
	SendBuf, RecvBuf int
	// NoDelay disables Nagle's algorithm (RFC 896). Go's net package dials
	// and accepts with no-delay on; the stack sets it the same way.
	NoDelay bool
	// KeepAliveIdle is how long a connection is idle before the first
	// keepalive probe (RFC 9293 §3.8.4). Zero disables keepalive.
	KeepAliveIdle time.Duration
	// KeepAliveInterval is the time between unanswered probes. Zero means
	// 15 s.
	KeepAliveInterval time.Duration
	// KeepAliveCount is how many unanswered probes end the connection with
	// ETIMEDOUT. Zero means 9.
	KeepAliveCount int
	// TimeWait is how long TIME_WAIT lasts (2*MSL). Zero means 60 s.
	TimeWait time.Duration
	// SynRetries is how many times a SYN is retransmitted before the connect
	// fails with ETIMEDOUT. Zero means 6 (about 127 s, as Linux).
	SynRetries int
	// SynAckRetries is how many times a SYN-ACK is retransmitted before a
	// half-open passive connection is dropped. Zero means 5 (about 63 s,
	// as Linux's tcp_synack_retries).
	SynAckRetries int
	// DataRetryTimeout is how long data may go unacknowledged, retransmitted
	// with backoff, or a peer's closed window stay silent to our probes,
	// before the connection fails with ETIMEDOUT (TCB.SetUserTimeout
	// changes it for one connection). Zero means about 15 minutes (Linux's
	// tcp_retries2 = 15).
	DataRetryTimeout time.Duration
	// OrphanRetries bounds a connection the user has closed (an orphan)
	// whose data or FIN cannot get through: it is aborted after this many
	// retransmission timeouts, or this many zero-window probes however the
	// peer answers them. Zero means 8 (Linux's tcp_orphan_retries).
	OrphanRetries int
	// DelayedAck is the longest an ACK is delayed (RFC 9293 §3.8.6.3 allows
	// up to 0.5 s). Zero means 40 ms. Negative disables delayed ACKs.
	DelayedAck time.Duration
	// MaxRecvBuf is the largest receive autotuning grows the buffer, Linux's
	// tcp_rmem[2]: the window scale we offer covers it, ⌊log2⌋ − 15 as
	// Linux computes it. Zero means 6 MiB (a shift of 7).
	MaxRecvBuf int
	// DisableSACK, DisableTimestamps and DisableWindowScale turn off the
	// negotiation of RFC 2018 and RFC 7323 options.
	DisableSACK, DisableTimestamps, DisableWindowScale bool
	// CongestionControl names the congestion control of each connection:
	// "reno", "cubic", "bbr" (synack's loss-tolerant BBRv3) or "bbr-draft"
	// (BBRv3 as draft-ietf-ccwg-bbr writes it); CongestionControlNames
	// lists them. Empty means CUBIC, as Linux. TCB.SetCongestion chooses
	// per connection.
	CongestionControl string
	// NoPacing turns pacing off for NewReno and CUBIC: each ACK lets out
	// what the window allows at once, as Linux does without the fq qdisc.
	// By default they pace like Linux's internal pacing (200% of cwnd per
	// RTT in slow start, 120% after; tcp/pacing.go). BBR paces regardless.
	NoPacing bool
	// NewCC, if set, makes the congestion controller of each connection
	// instead, for a controller with options no name gives (for instance
	// cc.NewBBR with a BBRConfig of one's own).
	NewCC func(mss uint32) cc.Controller
	// ReplyLimiter, when set, caps the replies to unacceptable segments
	// that all the TCBs sharing it send per second (RFC 5961 §7); each TCB
	// also sends at most one every 500 ms. Nil means only the per-TCB
	// limit. The stack shares one among its connections.
	ReplyLimiter *ReplyLimiter
	// Buffers recycles send and receive buffers between connections. Nil
	// means each TCB allocates its own.
	Buffers *BufferPool
	// Memory, when set, is the budget every buffer is charged to: the
	// stack's connections share one (MemoryBudget). Nil means no limit.
	Memory *MemoryBudget
}

func (c *Config) mss() uint32 {
	if c.MSS == 0 {
		return 1460
	}
	return uint32(c.MSS)
}

func clampBuf(n int) int {
	switch {
	case n == 0:
		return defaultBufSize
	case n < minBufSize:
		return minBufSize
	case n > maxBufSize:
		return maxBufSize
	}
	return n
}

// TimeWaitDuration returns how long TIME_WAIT lasts: TimeWait, or its
// default.
func (c *Config) TimeWaitDuration() time.Duration { return c.timeWait() }

func (c *Config) timeWait() time.Duration {
	if c.TimeWait <= 0 {
		return 2 * msl
	}
	return c.TimeWait
}

func (c *Config) synRetries() int {
	if c.SynRetries <= 0 {
		return defaultSynRetries
	}
	return c.SynRetries
}

func (c *Config) synAckRetries() int {
	if c.SynAckRetries <= 0 {
		return defaultSynAckRetries
	}
	return c.SynAckRetries
}

func (c *Config) orphanRetries() int {
	if c.OrphanRetries <= 0 {
		return defaultOrphanRetries
	}
	return c.OrphanRetries
}

func (c *Config) dataRetryTimeout() time.Duration {
	if c.DataRetryTimeout <= 0 {
		return defaultDataRetryTime
	}
	return c.DataRetryTimeout
}

func (c *Config) delayedAck() time.Duration {
	switch {
	case c.DelayedAck < 0:
		return 0
	case c.DelayedAck == 0:
		return defaultDelayedAck
	}
	return c.DelayedAck
}

// synackBBR is what "bbr" means to a TCB: BBRv3 (draft-ietf-ccwg-bbr)
// without its short-term model, backing off loss only when a round loses
// more than 20% (cc.BBRConfig.LossTolerant). The users of a userspace stack
// (VPN clients, tun2socks, overlays) live on Wi-Fi and mobile paths with
// 0.5–3% random loss, which the draft's model reads as congestion: on a
// 20 ms, 200 Mbit/s path with a one-BDP queue it delivers 169, 158 and 16
// Mbit/s at 0.1, 1 and 3% loss, against 186, 184 and 180 for this one and
// Linux's BBRv1's 183, 183 and 177 (BenchmarkLossyPath; docs/design.md).
// Its ProbeBW_UP ends once a round has queued the probe's quarter BDP, as
// Linux's BBRv1 and QUICHE's BBRv2 end theirs (QueueBoundedProbe): with
// the loss threshold at 20%, loss no longer ends UP, and three rounds at
// 1.25 overflowed a one-BDP queue. "bbr-draft" (ccname.go) is the draft's.
// seed (the ISN) varies the randomized probing between connections.
func synackBBR(seed uint64) cc.BBRConfig {
	return cc.BBRConfig{Seed: seed, LossThresh: 0.2, LossTolerant: true, QueueBoundedProbe: true}
}
