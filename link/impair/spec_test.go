package impair

import (
	"strings"
	"testing"
	"time"
)

func TestParseSpec(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want Config
	}{
		{"", Config{}},
		{"  ", Config{}},
		{"loss=2%,delay=5ms,rate=200mbit", Config{Loss: 0.02, Delay: 5 * ms, RateBitsPerSec: 200e6}},
		{"loss=0.02", Config{Loss: 0.02}},
		{"LOSS = 0.5% , Jitter=1ms", Config{Loss: 0.005, Jitter: ms}},
		{"reorder=10%,duplicate=1%,corrupt=0.1%", Config{Reorder: 0.1, Duplicate: 0.01, Corrupt: 0.001}},
		{"reorder=1%,reorder-delay=5ms", Config{Reorder: 0.01, ReorderDelay: 5 * ms}},
		{"loss=100%", Config{Loss: 1}},
		{"loss=0", Config{}},
		{"delay=1.5s,jitter=0", Config{Delay: 1500 * ms}},
		{"rate=1.5g", Config{RateBitsPerSec: 1.5e9}},
		{"rate=64kbit", Config{RateBitsPerSec: 64000}},
		{"rate=1000000", Config{RateBitsPerSec: 1e6}},
		{"rate=10Mbit,queue=256k", Config{RateBitsPerSec: 1e7, QueueBytes: 256 << 10}},
		{"queue=500000", Config{QueueBytes: 500000}},
		{"queue=1m", Config{QueueBytes: 1 << 20}},
		{"queue=unlimited", Config{QueueBytes: -1}},
		{"seed=-42", Config{Seed: -42}},
	} {
		got, err := ParseSpec(tc.spec)
		if err != nil {
			t.Errorf("ParseSpec(%q): %v", tc.spec, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParseSpec(%q) = %+v, want %+v", tc.spec, got, tc.want)
		}
	}
}

func TestParseSpecErrors(t *testing.T) {
	for _, tc := range []struct {
		spec, want string // want: a substring of the error
	}{
		{"loss", `"loss" is not key=value`},
		{"loss=", `"loss=" is not key=value`},
		{"loss=1%,", `"" is not key=value`},
		{"=3", "not key=value"},
		{"lose=1%", `unknown field "lose"`},
		{"loss=1%,loss=2%", "loss given twice"},
		{"loss=abc", "loss=abc: want a percentage"},
		{"loss=150%", "out of range"},
		{"loss=-1%", "out of range"},
		{"loss=1.5", "out of range"},
		{"loss=NaN", "want a percentage"},
		{"delay=5", "delay=5: want a duration"},
		{"delay=-5ms", "negative"},
		{"jitter=forever", "want a duration"},
		{"rate=fast", "want bits per second"},
		{"rate=10mbps", "want bits per second"},
		{"rate=0", "out of range"},
		{"rate=-1mbit", "out of range"},
		{"queue=0", "out of range"},
		{"queue=big", "want bytes"},
		{"queue=1.5k", "want bytes"},
		{"seed=x", "seed=x: want a decimal integer"},
	} {
		_, err := ParseSpec(tc.spec)
		if err == nil {
			t.Errorf("ParseSpec(%q) accepted it", tc.spec)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "impair: ") {
			t.Errorf("ParseSpec(%q) = %q, want it to say %q", tc.spec, err, tc.want)
		}
	}
}

func TestSpecRoundTrip(t *testing.T) {
	for _, c := range []Config{
		{},
		{Loss: 0.02, Delay: 5 * ms, RateBitsPerSec: 200e6},
		{Loss: 0.07, Reorder: 1.0 / 3, Duplicate: 1, Corrupt: 1e-9},
		{Reorder: 0.01, ReorderDelay: 5 * ms, Delay: 10 * ms},
		{Jitter: 1500 * time.Microsecond, RateBitsPerSec: 1234567, QueueBytes: 99, Seed: 7},
		{RateBitsPerSec: 3e9, QueueBytes: -1, Seed: -1},
	} {
		s := c.String()
		back, err := ParseSpec(s)
		if err != nil || back != c {
			t.Errorf("%+v -> %q -> %+v, %v", c, s, back, err)
		}
	}
	if s := (Config{Loss: 0.02, Delay: 5 * ms, RateBitsPerSec: 200e6}).String(); s != "loss=2%,delay=5ms,rate=200mbit" {
		t.Errorf("String = %q", s)
	}
}

func FuzzParseSpec(f *testing.F) {
	f.Add("loss=2%,delay=5ms,rate=200mbit")
	f.Add("queue=unlimited,seed=3,jitter=1ms")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseSpec(s)
		if err != nil {
			return
		}
		back, err := ParseSpec(c.String())
		if err != nil || back != c {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", s, c, c.String(), back, err)
		}
	})
}
