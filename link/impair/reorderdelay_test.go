package impair

import (
	"slices"
	"testing"
	"time"
)

// A packet picked by Reorder with a ReorderDelay comes out that much late,
// and the Model's deadline says so.
func TestReorderDelayLetsLaterPacketsOvertake(t *testing.T) {
	m := NewModel(Config{Reorder: 1, ReorderDelay: 5 * ms, Delay: 10 * ms})
	m.Send(numbered(0, 20), 0)
	if d := m.Deadline(); d != 15*ms {
		t.Fatalf("Deadline = %v, want 15ms: Delay plus ReorderDelay", d)
	}
	// Reorder 1 delays every packet by the same 5 ms: none waits for
	// another, so they keep their spacing (the next test has overtaking).
	got := run(t, NewModel(Config{Reorder: 1, ReorderDelay: 5 * ms, Delay: 10 * ms}),
		[]time.Duration{0, 3 * ms}, [][]byte{numbered(0, 20), numbered(1, 20)})
	if len(got) != 2 || number(got[0].pkt) != 0 || got[0].at != 15*ms || number(got[1].pkt) != 1 || got[1].at != 18*ms {
		t.Fatalf("got %v at %v, %v; want 0 at 15ms, 1 at 18ms", numbers(got), got[0].at, got[len(got)-1].at)
	}
	if s := m.Stats(); s.Reordered != 1 {
		t.Fatalf("Reordered = %d, want 1", s.Reordered)
	}
}

// The workload: 1% of packets 5 ms late, nothing lost, on a
// 200 Mbit/s bottleneck with 10 ms of delay. Every packet arrives, either
// on time or exactly ReorderDelay late; a late one is overtaken by
// everything the link delivered in those 5 ms, and no on-time packet is
// held back by it. The late packets are the seed's: equal seeds pick the
// same ones.
func TestReorderDelayOnePercent(t *testing.T) {
	const n, size = 20000, 1500
	const tx = 60 * time.Microsecond // 1500 bytes at 200 Mbit/s
	cfg := Config{Reorder: 0.01, ReorderDelay: 5 * ms, Delay: 10 * ms, RateBitsPerSec: 200e6, Seed: 7}
	late := func(cfg Config) []int {
		at, pkts := evenly(n, tx, size)
		m := NewModel(cfg)
		got := run(t, m, at, pkts)
		if len(got) != n {
			t.Fatalf("delivered %d of %d packets", len(got), n)
		}
		pos := make([]int, n) // where each packet came out
		for i, a := range got {
			pos[number(a.pkt)] = i
		}
		var lates []int
		prevOnTime := -1
		for i, a := range got {
			k := number(a.pkt)
			onTime := at[k] + tx + cfg.Delay
			switch a.at {
			case onTime:
				if k < prevOnTime {
					t.Fatalf("on-time packet %d after on-time packet %d", k, prevOnTime)
				}
				prevOnTime = k
			case onTime + cfg.ReorderDelay:
				lates = append(lates, k)
				// Every on-time packet due before it came out first.
				for j := k + 1; j < n && at[j]+tx+cfg.Delay < a.at; j++ {
					if pos[j] > i && got[pos[j]].at == at[j]+tx+cfg.Delay {
						t.Fatalf("late packet %d came out before on-time packet %d", k, j)
					}
				}
			default:
				t.Fatalf("packet %d arrived at %v: neither on time (%v) nor %v late", k, a.at, onTime, cfg.ReorderDelay)
			}
		}
		if s := m.Stats(); s.Reordered != uint64(len(lates)) || s.Lost+s.QueueDrops != 0 {
			t.Fatalf("stats %+v for %d late packets", s, len(lates))
		}
		slices.Sort(lates)
		return lates
	}
	a := late(cfg)
	if len(a) < n/100*7/10 || len(a) > n/100*13/10 {
		t.Fatalf("%d of %d packets late, want about 1%%", len(a), n)
	}
	if b := late(cfg); !slices.Equal(a, b) {
		t.Fatal("the same seed delayed other packets")
	}
	cfg.Seed++
	if b := late(cfg); slices.Equal(a, b) {
		t.Fatal("another seed delayed the same packets")
	}
}
