package main

import (
	"encoding/json"
	"testing"

	"github.com/synack-go/synack/bench/workload"
)

func result(v float64) *workload.Result {
	return &workload.Result{Workload: "mem-rr", Metrics: []workload.Metric{
		{Name: "round trips", Unit: "k/s", Value: v, Better: workload.Higher, Headline: true}}}
}

// TestSummarizeRatiosPerRound checks that ratios pair the rounds: synack's
// value of round r over the other contender's of the same round.
func TestSummarizeRatiosPerRound(t *testing.T) {
	c := benchCase{workload: "mem-rr", peers: []string{"synack", "gvisor"}}
	runs := []run{
		{Round: 1, Case: "mem-rr", Contender: "synack", Result: result(100)},
		{Round: 1, Case: "mem-rr", Contender: "gvisor", Result: result(50)},
		{Round: 2, Case: "mem-rr", Contender: "synack", Result: result(60)},
		{Round: 2, Case: "mem-rr", Contender: "gvisor", Result: result(60)},
		{Round: 3, Case: "mem-rr", Contender: "synack", Result: result(90)},
		{Round: 3, Case: "mem-rr", Contender: "gvisor", Error: "exit status 1"},
	}
	rows := summarize([]benchCase{c}, runs)
	if len(rows) != 1 || len(rows[0].Stats) != 2 {
		t.Fatalf("rows = %+v", rows)
	}
	s, g := rows[0].Stats[0], rows[0].Stats[1]
	if s.Median != 90 || s.Min != 60 || s.Max != 100 {
		t.Errorf("synack median/min/max = %v/%v/%v, want 90/60/100", s.Median, s.Min, s.Max)
	}
	if len(g.Ratios) != 2 || g.Ratios[0] != 2 || g.Ratios[1] != 1 || g.RatioMedian != 1.5 {
		t.Errorf("gvisor ratios %v median %v, want [2 1] 1.5", g.Ratios, g.RatioMedian)
	}
	if g.Failed != 1 {
		t.Errorf("gvisor failed rounds = %d, want 1", g.Failed)
	}
	rep := report{Rounds: 3, Rows: rows, Runs: runs}
	b, err := marshalReport(&rep)
	if err != nil {
		t.Fatal(err)
	}
	var back report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if len(back.Runs) != len(runs) || len(back.Rows) != 1 || back.Rounds != 3 {
		t.Errorf("round trip lost data: %+v", back)
	}
}

// TestSummarizeRef: on the emulated paths the ratios are synack-bbr's.
func TestSummarizeRef(t *testing.T) {
	c := benchCase{name: "loss=1%", workload: "lossy-goodput", peers: []string{"synack-cubic", "synack-bbr", "kernel-bbr"}}
	runs := []run{
		{Round: 1, Case: c.label(), Contender: "synack-cubic", Result: result(10)},
		{Round: 1, Case: c.label(), Contender: "synack-bbr", Result: result(180)},
		{Round: 1, Case: c.label(), Contender: "kernel-bbr", Result: result(200)},
	}
	rows := summarize([]benchCase{c}, runs)
	if len(rows) != 1 || rows[0].Ref != "synack-bbr" {
		t.Fatalf("rows = %+v, want one with Ref synack-bbr", rows)
	}
	st := rows[0].Stats
	if st[0].RatioMedian != 18 || st[1].RatioMedian != 0 || st[2].RatioMedian != 0.9 {
		t.Errorf("ratios %v %v %v, want 18, none (the ref), 0.9", st[0].RatioMedian, st[1].RatioMedian, st[2].RatioMedian)
	}
}
