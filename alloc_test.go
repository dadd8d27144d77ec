package synack

import (
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/synack-go/synack/link/pipe"
)

// In steady state, moving data allocates nothing in this package: not the
// demux, the emitters, the timers nor the wakeups. Checked with the heap
// profiler at full rate over 64 KiB Writes (about 45 segments and their
// ACKs each) and 1-byte round trips. The process-wide count is logged: it
// includes rare allocations elsewhere (a sync.Pool miss in tcp.BufferPool,
// link/pipe's queue growing to a new depth).
func TestSteadyStateAllocs(t *testing.T) {
	for _, cfg := range []pipe.Config{{}, {Offload: true}} {
		name := "plain"
		if cfg.Offload {
			name = "offload" // TSO packets joined, batched ACKs
		}
		t.Run(name, func(t *testing.T) { steadyStateAllocs(t, cfg) })
	}
}

func steadyStateAllocs(t *testing.T, cfg pipe.Config) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	defer wallBound(t, time.Minute)()
	client, server := wallPair(t, cfg)
	c, s := connected(t, client, server, "10.0.0.2:80")
	go io.Copy(io.Discard, s)
	buf := make([]byte, 64<<10)
	for range 1024 { // 64 MiB: buffers, batches, queues reach full depth
		c.Write(buf)
	}
	const runs = 500
	steady(t, "per 64 KiB Write", runs, func() { c.Write(buf) })

	c2, s2 := connected(t, client, server, "10.0.0.2:81")
	go func() {
		var one [1]byte
		for {
			if _, err := s2.Read(one[:]); err != nil {
				return
			}
			s2.Write(one[:])
		}
	}()
	var one [1]byte
	rt := func() {
		c2.Write(one[:])
		c2.Read(one[:])
	}
	for range 100 {
		rt()
	}
	steady(t, "per round trip", 4*runs, rt)
}

// steady fails the test if f allocates in this package in steady state.
// On a loaded machine a queue can still reach a new depth during the
// measurement (the writer's queue, the batch pool: a handful of
// allocations, once), so a failed measurement is repeated twice; an
// allocation per segment or per call fails all three.
func steady(t *testing.T, what string, runs int, f func()) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		total, ours := allocsPerRun(runs, f)
		t.Logf("%s: %.4f allocations in all, %v here", what, total, ours)
		if sum(ours)*100 <= int64(runs) {
			return
		}
		if attempt == 3 {
			t.Errorf("package synack allocates in steady state: %v in %d runs", ours, runs)
			return
		}
	}
}

// sum adds up the counts of allocsPerRun. A stray allocation or two is the
// runtime's (its timer heap or a cache refilled after the profiler's GCs),
// so the test allows one per hundred runs: a per-segment allocation would
// be thousands.
func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// allocsPerRun runs f runs times with the heap profiler recording every
// allocation. It returns the mean number of allocations per run, process
// wide, and the functions of this package that allocated (with counts).
func allocsPerRun(runs int, f func()) (float64, map[string]int64) {
	old := runtime.MemProfileRate
	runtime.MemProfileRate = 1
	defer func() { runtime.MemProfileRate = old }()
	before := heapSites()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&m1)
	after := heapSites()
	ours := map[string]int64{}
	for site, n := range after {
		if d := n - before[site]; d > 0 && strings.HasPrefix(site, "github.com/synack-go/synack.") {
			ours[site] = d
		}
	}
	return float64(m1.Mallocs-m0.Mallocs) / float64(runs), ours
}

// heapSites returns the heap profile's allocation counts by allocating
// function: the first frame outside the runtime, and not in a test file.
// The runtime's own sudog allocations (a goroutine blocking on a channel
// after a GC emptied the runtime's caches) are left out.
func heapSites() map[string]int64 {
	runtime.GC() // the profile is published by GC cycles: two make it current
	runtime.GC()
	var recs []runtime.MemProfileRecord
	n, _ := runtime.MemProfile(nil, true)
	for {
		recs = make([]runtime.MemProfileRecord, n+50)
		var ok bool
		if n, ok = runtime.MemProfile(recs, true); ok {
			recs = recs[:n]
			break
		}
	}
	sites := map[string]int64{}
	for _, r := range recs {
		frames := runtime.CallersFrames(r.Stack())
		for {
			fr, more := frames.Next()
			if fr.Function == "runtime.acquireSudog" || strings.HasSuffix(fr.File, "_test.go") {
				break
			}
			if !strings.HasPrefix(fr.Function, "runtime.") || !more {
				sites[fr.Function] += r.AllocObjects
				break
			}
		}
	}
	return sites
}
