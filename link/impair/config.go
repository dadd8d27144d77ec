// Package impair makes a perfect link imperfect: it applies seeded loss,
// delay, jitter, reordering, duplication, corruption and a rate limit with a
// drop-tail queue to the packets passing through it, the way Linux's netem
// and tbf queueing disciplines do.
//
// The pieces, from the bottom up:
//   - [Model] is the sans-IO core: it decides each packet's fate on a clock it
//     is given, so a simulator can drive it on virtual time.
//   - [Path] runs a Model on the real clock with one goroutine and one timer,
//     handing due packets to a deliver function; link/pipe and TUN bridges
//     build on it.
//   - [Wrap] puts a Path in front of any [link.Endpoint]'s WriteBatch.
//
// Decisions come from a math/rand/v2 PCG generator seeded by [Config.Seed],
// so the same seed and the same packet order replay the same run.
package impair

import (
	"math"
	"time"
)

// Config says how to impair packets. The zero value impairs nothing. A Config
// is read once by [NewModel], [New] or [Wrap] and never modified.
//
// The stages run in the order of Linux netem followed by a bottleneck: a
// packet is first lost or kept, then perhaps duplicated; each copy then waits
// in the rate limiter's queue, travels for Delay plus jitter, may be
// corrupted, and may be held back so that the next packet overtakes it.
type Config struct {
	// Loss is the probability, in [0, 1], that a packet is dropped.
	// 0 loses nothing.
	Loss float64

	// Reorder is the probability, in [0, 1], that a packet is held back until
	// the packet after it has been delivered, so the two arrive swapped. A
	// held packet that no later packet overtakes is released after
	// Delay+Jitter (at least 10 ms) more. While one packet is held the next
	// is never held, so at most two packets swap at a time. 0 keeps order.
	// ReorderDelay changes how a reordered packet is held.
	Reorder float64

	// ReorderDelay, if positive, makes Reorder delay each packet it picks
	// by this much more than its due time, leaving the bottleneck in its
	// turn, instead of holding it for the next packet: whatever the link
	// delivers meanwhile overtakes it, however many packets that is, and
	// any number may be delayed at once ("1% of packets delayed by 5 ms").
	ReorderDelay time.Duration

	// Duplicate is the probability, in [0, 1], that a packet is delivered
	// twice. 0 duplicates nothing.
	Duplicate float64

	// Corrupt is the probability, in [0, 1], that one random bit of one
	// random byte of a packet copy is flipped, which every Internet checksum
	// detects. 0 corrupts nothing.
	Corrupt float64

	// Delay is the one-way propagation delay added to every packet.
	// 0 (or negative) adds none.
	Delay time.Duration

	// Jitter adds to each packet's Delay an extra amount drawn uniformly
	// from [0, Jitter]. Jitter never reorders packets: a packet whose draw
	// would overtake an earlier one waits for it. 0 adds none.
	Jitter time.Duration

	// RateBitsPerSec limits the link's bandwidth: packets are serialized one
	// after the other at this rate, counting every byte of the IP packet.
	// 0 (or negative) means unlimited.
	RateBitsPerSec int64

	// QueueBytes bounds the rate limiter's drop-tail queue: a packet arriving
	// when more than QueueBytes bytes (including itself) wait to be
	// serialized is dropped, except that a packet arriving at an idle link
	// always passes. 0 means DefaultQueueBytes; a negative value means the
	// queue never overflows. It has no effect without RateBitsPerSec.
	QueueBytes int

	// Seed seeds the generator behind every random decision. Equal seeds
	// with equal packet sequences make equal decisions.
	Seed int64
}

// DefaultQueueBytes is the rate limiter's queue when Config.QueueBytes is 0:
// 100 full-size packets of a 1500-byte MTU, like a modest router port.
const DefaultQueueBytes = 100 * 1500

// NoDeadline is what [Model.Deadline] returns when nothing is pending.
const NoDeadline = time.Duration(math.MaxInt64)

// minReorderHold is the least time a reordered packet waits for a later
// packet to overtake it before it is released anyway. Ours: long enough for
// a busy sender's next packet, short enough not to look like loss.
const minReorderHold = 10 * time.Millisecond

// maxDelay bounds Delay, Jitter and one packet's serialization time so that
// sums of them cannot overflow a time.Duration (it is about 36 years).
const maxDelay = time.Duration(1 << 60)

// normalized returns c with out-of-range values clamped to what they mean.
func (c Config) normalized() Config {
	c.Loss = clampProb(c.Loss)
	c.Reorder = clampProb(c.Reorder)
	c.Duplicate = clampProb(c.Duplicate)
	c.Corrupt = clampProb(c.Corrupt)
	c.Delay = min(max(c.Delay, 0), maxDelay)
	c.Jitter = min(max(c.Jitter, 0), maxDelay)
	c.ReorderDelay = min(max(c.ReorderDelay, 0), maxDelay)
	c.RateBitsPerSec = max(c.RateBitsPerSec, 0)
	if c.QueueBytes == 0 {
		c.QueueBytes = DefaultQueueBytes
	}
	return c
}

// clampProb maps p into [0, 1]; NaN counts as 0.
func clampProb(p float64) float64 {
	switch {
	case p > 0 && p <= 1:
		return p
	case p > 1:
		return 1
	default: // negative, zero or NaN
		return 0
	}
}

// perfect reports whether c impairs nothing at all.
func (c Config) perfect() bool {
	return c.Loss == 0 && c.Reorder == 0 && c.Duplicate == 0 && c.Corrupt == 0 && c.immediate()
}

// immediate reports whether every packet c keeps is due the moment it is
// sent: nothing delays, paces or holds packets, so no clock is needed.
func (c Config) immediate() bool {
	return c.Delay == 0 && c.Jitter == 0 && c.RateBitsPerSec == 0 && c.Reorder == 0
}
