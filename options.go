package synack

import (
	"io"
	"net/netip"
	"time"

	"github.com/synack-go/synack/tcp"
	"github.com/synack-go/synack/trace"
)

// Options configures a Stack. The zero value of every field but Addrs means
// the documented default; NewStack checks the options once and neither
// keeps nor modifies the caller's slices.
type Options struct {
	// Addrs are the stack's own addresses with their prefixes, IPv4 or
	// IPv6. Packets to other addresses are dropped and counted
	// (Stats.Drops.NotForUs), unless a forwarder takes any address
	// (ForwardTCP, ForwardUDP). Dial picks its source address among them: one
	// whose prefix contains the destination, else the first of the same
	// family. At least one is required.
	Addrs []netip.Prefix

	// Name labels the stack in trace events (trace.Event.Stack). Empty is
	// allowed.
	Name string

	// Tracer receives every segment in and out, state change, timer, drop
	// and congestion event, synchronously, often with a connection's lock
	// held: it must not call methods of this stack's Conns or Listeners.
	// On a link that delivers inline (link.Inliner: a perfect link/pipe)
	// the lock may be a connection's of the stack at the other end, whose
	// goroutine runs this stack's input: nor of that stack's.
	// Nil turns tracing off: the packet path then builds no event and
	// allocates nothing.
	Tracer trace.Tracer

	// Rand is the source of the stack's secrets: the RFC 6528 ISN key, the
	// SYN cookie key, the RFC 6056 port key and the timestamp offset. Nil
	// means crypto/rand.Reader. A seeded reader makes a stack's choices
	// repeatable.
	Rand io.Reader

	// Clock is the time the stack lives in: its timers, deadlines, Dial and
	// Accept waits and trace timestamps, and the scheduler of its
	// goroutines. Nil means the wall clock. A simulation (package sim)
	// gives its virtual clock here, with one of its links, so that the
	// stack runs on virtual time and replays from a seed.
	Clock Clock

	// SynBacklog bounds each listener's queue of half-open connections (SYN
	// received, SYN-ACK sent). When it is full, SYN cookies answer new SYNs
	// (RFC 4987 §3.6). Zero (or negative) means 128, like Linux's
	// tcp_max_syn_backlog on a small host.
	SynBacklog int

	// KeepAlive is the idle time before the first keepalive probe on
	// dialled and accepted connections, and the interval between probes
	// unless TCP.KeepAliveInterval says otherwise. Zero means 15 s, Go's
	// default; negative turns keepalive off. TCP.KeepAliveIdle is ignored.
	KeepAlive time.Duration

	// NoOffloads makes the stack ignore its link's offloads
	// (link.OffloadEndpoint): every packet it sends is then within the MTU
	// and carries its checksum. false: the stack uses what the link
	// offers: checksums left to the link, TSO packets of up to 64 KiB
	// (emit.go), the link's coalesced packets taken whole.
	NoOffloads bool

	// BatchACKs says whether the segments a read batch brings one
	// connection are answered together: in-order data and pure ACKs go
	// into the TCB one by one, but the connection is polled once, at the
	// end of the batch or after 64 KiB of in-order data (the stretch-ACK
	// limit), so one ACK answers them and the data they let out leaves in
	// one burst; out-of-order data is still answered at once. The zero
	// value, BatchACKsAuto, batches on links with offloads only.
	BatchACKs BatchACKMode

	// InvalidReplyLimit caps, stack-wide, the replies to unacceptable
	// segments sent per second: ACKs for out-of-window segments, segments
	// that fail PAWS or acknowledge data never sent, and RFC 5961 challenge
	// ACKs (§7). Each connection also sends at most one every 500 ms.
	// Suppressed replies are counted in Stats.RepliesLimited. RSTs to
	// segments of no connection have a budget of the same size, counted
	// in Stats.Drops.RSTLimited. Zero means
	// about 1000 (Linux's tcp_challenge_ack_limit; each second's exact
	// budget is secret, so that it reveals nothing about one connection);
	// negative leaves only the per-connection limit.
	InvalidReplyLimit int

	// EchoRateLimit bounds the echo replies (ping) the stack sends per
	// second, with bursts of up to 50: Linux's icmp_msgs_per_sec and
	// icmp_msgs_burst. Requests beyond it are dropped and counted in
	// Stats.Drops.ICMP.RateLimited. Zero means 1000; negative, no limit.
	EchoRateLimit int

	// MaxOrphans bounds the connections closed by their user that are
	// still finishing in the background (FIN_WAIT_1 to LAST_ACK: data or
	// a FIN not yet acknowledged), like Linux's tcp_max_orphans. A Close
	// beyond it resets the connection instead, counted in
	// Stats.OrphansReset. Each orphan also gives up after
	// TCP.OrphanRetries timeouts or zero-window probes. Zero means 65536;
	// negative resets every connection closed before it has finished.
	MaxOrphans int

	// MemoryLimit bounds the bytes of send and receive buffers the stack's
	// connections hold together, like Linux's tcp_mem (see
	// tcp.MemoryBudget). From three quarters of it on the stack is under
	// memory pressure until use falls below half: windows stop growing,
	// out-of-order data is refused and pruned (the peers send it again),
	// and new connections are refused with RST (Stats.RefusedMemory). At
	// the limit no buffer grows, but each still gets its first page, so
	// every connection keeps moving. Stats.Memory shows the use and the
	// pressure events. Zero means an eighth of what the process may use
	// (the smallest of GOMEMLIMIT, the cgroup's memory limit and the
	// host's memory), at least 16 MiB; negative means no limit.
	MemoryLimit int64

	// MaxConns bounds the connections in the stack's flow table (from
	// SYN_SENT and SYN_RECV to TIME_WAIT). A SYN beyond it is refused with
	// a RST (Stats.RefusedConnLimit) and a Dial fails with
	// syscall.ENOBUFS. Zero means 1,048,576.
	MaxConns int

	// MaxConnsPerListener bounds the connections each listener has open
	// (half-open, waiting for Accept, or accepted and not yet closed); a
	// SYN beyond it is refused with a RST (Stats.RefusedConnLimit). Zero
	// means MaxConns.
	MaxConnsPerListener int

	// MaxTimeWait bounds the connections kept in TIME_WAIT (each about 60
	// bytes in the stack's table, not a connection), like Linux's
	// tcp_max_tw_buckets. A connection that finds the table full closes
	// without TIME_WAIT, counted in Stats.TimeWaitOverflow. Zero means
	// 262,144.
	MaxTimeWait int

	// TCP holds the tunables of every connection; see tcp.Config for each
	// field's zero value (1 MiB buffers, 60 s TIME_WAIT, SACK, timestamps
	// and window scaling on, NewReno). The stack overrides three fields:
	// MSS, when zero or more than the link carries, comes from the link
	// MTU (MTU - 40 for IPv4, MTU - 60 for IPv6), which then bounds every
	// segment; NoDelay is always on at first, as in package net
	// (Conn.SetNoDelay changes it); Buffers, when nil, is one pool shared
	// by the stack's connections.
	TCP tcp.Config
}

const (
	defaultInvalidReplyLimit = 1000
	defaultSynBacklog        = 128
	defaultMaxOrphans        = 65536
	defaultEchoRate          = 1000
	defaultEchoBurst         = 50
	defaultMaxConns          = 1 << 20
	defaultMaxTimeWait       = 1 << 18
	defaultBacklog           = 128 // Listen's accept queue, and ListenAddrPort's for backlog <= 0
	defaultKeepAlive         = 15 * time.Second
	// ipTTL is the TTL (hop limit) of every packet we send: RFC 1700's
	// recommended default, as Linux uses.
	ipTTL = 64
)
