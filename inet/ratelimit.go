package inet

import "time"

// TokenBucket limits a kind of event to a rate with bursts: RFC 4443
// §2.4(f)'s token bucket, which RFC 1812 §4.3.2.8 also suggests for ICMPv4.
// The bucket holds up to burst tokens, gains one every interval and each
// allowed event takes one. The zero value allows every event. It reads no
// clock and is not safe for concurrent use.
type TokenBucket struct {
	interval time.Duration
	burst    int
	tokens   int
	last     time.Duration // when tokens was last brought up to date
}

// NewTokenBucket returns a full bucket allowing perSecond events a second
// on average and burst at once. perSecond <= 0 allows every event.
func NewTokenBucket(perSecond, burst int) TokenBucket {
	if perSecond <= 0 {
		return TokenBucket{}
	}
	burst = max(burst, 1)
	return TokenBucket{interval: time.Second / time.Duration(perSecond), burst: burst, tokens: burst}
}

// Allow reports whether an event at time now may happen, and takes a token
// if so. Times must not go backwards.
func (b *TokenBucket) Allow(now time.Duration) bool {
	if b.interval == 0 {
		return true
	}
	if add := (now - b.last) / b.interval; add > 0 {
		if b.tokens+int(min(add, time.Duration(b.burst))) >= b.burst {
			b.tokens, b.last = b.burst, now
		} else {
			b.tokens += int(add)
			b.last += add * b.interval
		}
	}
	if b.tokens == 0 {
		return false
	}
	b.tokens--
	return true
}
