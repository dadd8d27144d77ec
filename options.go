package synack

import (
	"io"
	"net/netip"
	"time"

	"github.com/synack-go/synack/tcp"
	"github.com/synack-go/synack/trace"
)

// Options configures a Stack. The zero value of every field means the
// documented default; NewStack checks the options once and never modifies
// them.
type Options struct {
	// Addrs are the stack's own addresses with their prefixes, IPv4 or
	// IPv6. Packets to other addresses are dropped and counted. At least one
	// is required.
	Addrs []netip.Prefix
	// Name labels the stack in traces. Empty is allowed.
	Name string
	// Tracer receives every segment, state change, timer, drop and
	// congestion event. Nil turns tracing off at no cost.
	Tracer trace.Tracer
	// Rand is the source of the secret keys (ISNs, SYN cookies, ephemeral
	// ports). Nil means crypto/rand.
	Rand io.Reader
	// SynBacklog bounds each listener's queue of half-open connections (SYN
	// received, SYN-ACK sent); beyond it, SYN cookies answer. Zero means 256.
	SynBacklog int
	// KeepAlive is the idle time before keepalive probes on dialled and
	// accepted connections. Zero means 15 s (Go's default); negative turns
	// keepalive off.
	KeepAlive time.Duration
	// TCP holds the tunables of every connection. Its MSS, when zero, comes
	// from the link MTU. NoDelay is always on at first, as in package net;
	// Conn.SetNoDelay changes it.
	TCP tcp.Config
}

const (
	defaultSynBacklog = 256
	defaultBacklog    = 128
	defaultKeepAlive  = 15 * time.Second
	ipTTL             = 64 // RFC 1700's recommended default, as Linux
)
