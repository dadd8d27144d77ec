package impair

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseSpec parses the command line's impairment syntax: comma-separated
// key=value fields, each optional, none repeated, such as
// "loss=2%,delay=5ms,rate=200mbit". The empty string is the zero Config.
//
//	loss, reorder,     probabilities: a percentage ("2%", "0.5%") or a
//	duplicate, corrupt fraction in [0, 1] ("0.02")
//	delay, jitter,     durations as Go writes them ("5ms", "1.5s", "0")
//	reorder-delay      (Config.ReorderDelay: how late reordered packets are)
//	rate               bits per second, with an optional k, m or g prefix
//	                   (powers of 1000, as tc counts): "200mbit", "1.5g",
//	                   "64kbit", "1000000"
//	queue              the rate limiter's queue in bytes, with an optional
//	                   k or m suffix (powers of 1024: "500000", "256k"), or
//	                   "unlimited"
//	seed               the generator's seed, a decimal integer
//
// Errors name the field and say what was expected.
func ParseSpec(s string) (Config, error) {
	var c Config
	if strings.TrimSpace(s) == "" {
		return c, nil
	}
	seen := make(map[string]bool)
	for field := range strings.SplitSeq(s, ",") {
		key, val, ok := strings.Cut(field, "=")
		key = strings.ToLower(strings.TrimSpace(key))
		val = strings.TrimSpace(val)
		if !ok || key == "" || val == "" {
			return Config{}, fmt.Errorf("impair: %q is not key=value", strings.TrimSpace(field))
		}
		if seen[key] {
			return Config{}, fmt.Errorf("impair: %s given twice", key)
		}
		seen[key] = true
		var err error
		switch key {
		case "loss":
			c.Loss, err = parseProb(val)
		case "reorder":
			c.Reorder, err = parseProb(val)
		case "reorder-delay":
			c.ReorderDelay, err = parseDelay(val)
		case "duplicate":
			c.Duplicate, err = parseProb(val)
		case "corrupt":
			c.Corrupt, err = parseProb(val)
		case "delay":
			c.Delay, err = parseDelay(val)
		case "jitter":
			c.Jitter, err = parseDelay(val)
		case "rate":
			c.RateBitsPerSec, err = parseRate(val)
		case "queue":
			c.QueueBytes, err = parseQueue(val)
		case "seed":
			c.Seed, err = strconv.ParseInt(val, 10, 64)
			if err != nil {
				err = errors.New("want a decimal integer")
			}
		default:
			return Config{}, fmt.Errorf("impair: unknown field %q (want loss, reorder, reorder-delay, duplicate, corrupt, delay, jitter, rate, queue or seed)", key)
		}
		if err != nil {
			return Config{}, fmt.Errorf("impair: %s=%s: %w", key, val, err)
		}
	}
	return c, nil
}

// parseProb parses "2%" or "0.02" into a probability in [0, 1].
func parseProb(s string) (float64, error) {
	scale := 1.0
	if t, ok := strings.CutSuffix(s, "%"); ok {
		s, scale = strings.TrimSpace(t), 100
	}
	p, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(p) {
		return 0, errors.New("want a percentage (2%) or a fraction (0.02)")
	}
	p /= scale
	if p < 0 || p > 1 {
		return 0, errors.New("out of range: want 0% to 100%")
	}
	return p, nil
}

// parseDelay parses a non-negative Go duration; a bare 0 is allowed.
func parseDelay(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errors.New("want a duration such as 5ms")
	}
	if d < 0 {
		return 0, errors.New("negative duration")
	}
	if d > maxDelay {
		return 0, errors.New("duration too long")
	}
	return d, nil
}

// parseRate parses bits per second: a number, then optionally k, m or g
// (powers of 1000), then optionally "bit". "200mbit" is 2e8. tc's "bps"
// (bytes per second) is refused rather than guessed at.
func parseRate(s string) (int64, error) {
	num := strings.TrimSuffix(strings.ToLower(s), "bit")
	mult := 1.0
	if n := len(num); n > 0 {
		switch num[n-1] {
		case 'k':
			mult = 1e3
		case 'm':
			mult = 1e6
		case 'g':
			mult = 1e9
		}
		if mult != 1 {
			num = num[:n-1]
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, errors.New("want bits per second such as 200mbit, 1.5gbit or 64kbit")
	}
	v *= mult
	if v < 1 || v > math.MaxInt64/2 {
		return 0, errors.New("out of range: want at least 1 bit/s")
	}
	return int64(v), nil
}

// parseQueue parses a queue size in bytes, with an optional k or m suffix
// (powers of 1024), or "unlimited".
func parseQueue(s string) (int, error) {
	num := strings.ToLower(s)
	if num == "unlimited" {
		return -1, nil
	}
	num = strings.TrimSuffix(num, "b")
	mult := 1
	if n := len(num); n > 0 {
		switch num[n-1] {
		case 'k':
			mult = 1 << 10
		case 'm':
			mult = 1 << 20
		}
		if mult != 1 {
			num = num[:n-1]
		}
	}
	v, err := strconv.Atoi(strings.TrimSpace(num))
	if err != nil {
		return 0, errors.New("want bytes such as 500000 or 256k, or unlimited")
	}
	if v < 1 || v > math.MaxInt32/mult {
		return 0, errors.New("out of range: want at least 1 byte")
	}
	return v * mult, nil
}

// String returns c in the syntax ParseSpec reads, listing only the fields
// that differ from the zero Config; the zero Config is "".
func (c Config) String() string {
	var b strings.Builder
	add := func(key, val string) {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(key)
		b.WriteByte('=')
		b.WriteString(val)
	}
	prob := func(key string, p float64) {
		if p == 0 {
			return
		}
		// A percentage when it reads back exactly, else the fraction.
		pct := strconv.FormatFloat(p*100, 'g', -1, 64)
		if back, err := parseProb(pct + "%"); err == nil && back == p {
			add(key, pct+"%")
		} else {
			add(key, strconv.FormatFloat(p, 'g', -1, 64))
		}
	}
	prob("loss", c.Loss)
	prob("reorder", c.Reorder)
	prob("duplicate", c.Duplicate)
	prob("corrupt", c.Corrupt)
	if c.Delay != 0 {
		add("delay", c.Delay.String())
	}
	if c.Jitter != 0 {
		add("jitter", c.Jitter.String())
	}
	if c.ReorderDelay != 0 {
		add("reorder-delay", c.ReorderDelay.String())
	}
	if r := c.RateBitsPerSec; r != 0 {
		unit := "bit"
		for _, u := range []struct {
			prefix string
			n      int64
		}{{"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}} {
			if r%u.n == 0 {
				r /= u.n
				unit = u.prefix
				break
			}
		}
		add("rate", strconv.FormatInt(r, 10)+unit)
	}
	switch {
	case c.QueueBytes < 0:
		add("queue", "unlimited")
	case c.QueueBytes > 0:
		add("queue", strconv.Itoa(c.QueueBytes))
	}
	if c.Seed != 0 {
		add("seed", strconv.FormatInt(c.Seed, 10))
	}
	return b.String()
}
