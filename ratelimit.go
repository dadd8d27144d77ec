package synack

import (
	"sync"
	"time"
)

// tokenBucket allows rate events a second on average and up to burst at
// once, on the stack's clock: Linux's icmp_msgs_per_sec and
// icmp_msgs_burst. It is safe for concurrent use.
type tokenBucket struct {
	rate, burst int64 // per second; the bucket's depth
	mu          sync.Mutex
	credit      int64
	last        time.Duration // when credit was last topped up
}

func newTokenBucket(rate, burst int) *tokenBucket {
	return &tokenBucket{rate: int64(max(rate, 1)), burst: int64(max(burst, 1)), credit: int64(max(burst, 1))}
}

// allow takes a token at now, if one is left.
func (b *tokenBucket) allow(now time.Duration) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if elapsed := now - b.last; elapsed > 0 {
		if add := int64(elapsed) * b.rate / int64(time.Second); add > 0 {
			b.credit += add
			b.last += time.Duration(add * int64(time.Second) / b.rate)
			if b.credit >= b.burst {
				b.credit, b.last = b.burst, now
			}
		}
	}
	if b.credit == 0 {
		return false
	}
	b.credit--
	return true
}
