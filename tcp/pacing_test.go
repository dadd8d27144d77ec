package tcp

import (
	"math"
	"testing"
	"time"
)

func TestPacerOff(t *testing.T) {
	var p pacer
	if p.allow(0) != math.MaxUint32 || p.next() != 0 {
		t.Fatal("a pacer without a rate holds the connection")
	}
	p.onSent(0, 1e6)
	if p.allow(0) != math.MaxUint32 {
		t.Fatal("a pacer without a rate counted a send")
	}
}

// One quantum goes back to back, then segments leave at the pacing rate.
func TestPacerQuantumThenRate(t *testing.T) {
	var p pacer
	const seg = 1000
	p.setRate(1_000_000, 3*seg) // 1 segment per ms, 3-segment quantum
	now := 10 * time.Second     // long idle: one quantum of credit
	sent := 0
	for p.allow(now) > 0 {
		p.onSent(now, seg)
		sent++
	}
	if sent != 3 {
		t.Fatalf("burst after idle: %d segments, want the 3 of a quantum", sent)
	}
	next := p.next()
	if next <= now || next > now+time.Millisecond {
		t.Fatalf("next release %v after %v", next-now, now)
	}
	// From here on, one segment per millisecond on average.
	start := now
	for range 1000 {
		now = max(now, p.next())
		if p.allow(now) == 0 {
			t.Fatalf("allow(next()) = 0 at %v", now)
		}
		p.onSent(now, seg)
	}
	if el := now - start; el < 995*time.Millisecond || el > 1001*time.Millisecond {
		t.Fatalf("1000 segments at 1 per ms took %v", el)
	}
}

// A segment longer than the credit may go; its debt delays the next.
func TestPacerDebt(t *testing.T) {
	var p pacer
	p.setRate(1_000_000, 2000)
	p.onSent(0, 1000)
	p.onSent(0, 1000)
	now := p.next()
	p.onSent(now, 64000) // 64 ms worth
	if got := p.next() - now; got != 64*time.Millisecond {
		t.Fatalf("debt of a 64 KB send: next in %v, want 64ms", got)
	}
	if p.allow(now+63*time.Millisecond) != 0 {
		t.Fatal("released before the debt was repaid")
	}
}

func TestPacerAllocs(t *testing.T) {
	var p pacer
	p.setRate(25e6, 64<<10)
	now := time.Duration(0)
	if n := testing.AllocsPerRun(1000, func() {
		now += time.Microsecond
		if p.allow(now) > 0 {
			p.onSent(now, 1448)
		}
		_ = p.next()
	}); n != 0 {
		t.Fatalf("%v allocs per send", n)
	}
}
