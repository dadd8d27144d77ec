// Command compare benchmarks synack, gVisor's netstack and the Linux
// kernel side by side: every contender on every workload of
// bench/workload, interleaved (A B C A B C ...) for several rounds, each
// run in a process of its own. It prints one table (median, min and max
// per contender; the ratio synack/contender taken round by round, since
// on a shared machine same-run ratios mean more than absolute figures),
// and writes the runs and the table as JSON and as an SVG chart.
//
//	go run ./bench/compare            # the full comparison (an hour or so)
//	go run ./bench/compare -quick     # a small one for CI (under 2 minutes)
//	go run ./bench/compare -only mem-bulk -rounds 5
//
// It exits non-zero only when a contender fails to complete a workload or
// a transfer arrives corrupted, never because of a speed figure.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/synack-go/synack/bench/workload"
	"github.com/synack-go/synack/internal/netns"
)

// report is what the JSON file holds.
type report struct {
	Date     string  `json:"date"`
	Machine  machine `json:"machine"`
	Quick    bool    `json:"quick"`
	Rounds   int     `json:"rounds"`
	Failures int     `json:"failures"`
	Rows     []row   `json:"table,omitempty"`
	Runs     []run   `json:"runs,omitempty"`
}

func main() {
	if err := compare(); err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

func compare() error {
	quick := flag.Bool("quick", false, "small sizes and durations: a check that every contender completes every workload")
	rounds := flag.Int("rounds", 3, "rounds: each runs every contender once on every case")
	only := flag.String("only", "", "run only the cases matching this regular expression (e.g. 'mem-bulk|mem-rr')")
	contenders := flag.String("contenders", "", "comma-separated contenders to run (default: all of each case's)")
	jsonPath := flag.String("json", "", "where to write the JSON (default bench/results/compare.json, quick.json with -quick)")
	svgPath := flag.String("svg", "", "where to write the SVG chart (default beside the JSON)")
	timeout := flag.Duration("timeout", 0, "longest one run may take (default 15m, 1m with -quick)")
	replot := flag.String("replot", "", "run nothing: print the table of this JSON report again and redraw its chart (to -svg)")
	flag.Parse()
	if *replot != "" {
		return replotReport(*replot, *svgPath)
	}
	if *rounds < 1 {
		return errors.New("-rounds must be at least 1")
	}
	root, err := findRoot()
	if err != nil {
		return err
	}
	if *jsonPath == "" {
		name := "compare.json"
		if *quick {
			name = "quick.json"
		}
		*jsonPath = filepath.Join(root, "bench", "results", name)
	}
	if *svgPath == "" {
		*svgPath = strings.TrimSuffix(*jsonPath, ".json") + ".svg"
	}
	if *timeout == 0 {
		*timeout = 15 * time.Minute
		if *quick {
			*timeout = time.Minute
		}
	}
	cases, err := selectCases(plan(*quick), *only, *contenders)
	if err != nil {
		return err
	}

	bins, err := os.MkdirTemp("", "synack-compare-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(bins)
	fmt.Fprintln(os.Stderr, "building synack, the kernel peer, the gVisor peer and the WireGuard peers ...")
	if err := build(root, bins); err != nil {
		return err
	}
	if netns.Available() == nil {
		netns.Sweep(workload.NetnsPrefix)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	total := 0
	for _, c := range cases {
		total += len(c.peers) * *rounds
	}
	prog := newProgress(os.Stderr, total)
	rep := report{Date: time.Now().UTC().Format("2006-01-02 15:04 UTC"), Machine: describeMachine(root),
		Quick: *quick, Rounds: *rounds}
	start := time.Now()
	// Case by case, so that a case's rounds run close together in time;
	// within a round every contender once, in the same order.
	for _, c := range cases {
		for round := 1; round <= *rounds; round++ {
			for _, name := range c.peers {
				if ctx.Err() != nil {
					return errors.New("interrupted")
				}
				what := fmt.Sprintf("%s · %s · round %d", c.label(), name, round)
				prog.start(what)
				r := execute(ctx, bins, peerFor(c, name), c, round, *timeout)
				rep.Runs = append(rep.Runs, r)
				prog.finish(what, outcome(&r))
			}
		}
	}
	prog.end()
	for _, r := range rep.Runs {
		if r.failed() {
			rep.Failures++
		}
	}
	rep.Rows = summarize(cases, rep.Runs)
	fmt.Printf("synack vs gVisor vs kernel · %s · %d cores, %s · %d rounds · %v\n",
		rep.Date, rep.Machine.Cores, rep.Machine.CPU, rep.Rounds, time.Since(start).Round(time.Second))
	if err := writeTable(os.Stdout, rep.Rows); err != nil {
		return err
	}
	if err := writeOutputs(&rep, *jsonPath, *svgPath); err != nil {
		return err
	}
	fmt.Printf("wrote %s and %s\n", *jsonPath, *svgPath)
	if rep.Failures > 0 {
		for _, r := range rep.Runs {
			if r.failed() {
				fmt.Fprintf(os.Stderr, "FAILED: %s / %s round %d: %s\n", r.Case, r.Contender, r.Round, r.Error)
			}
		}
		return fmt.Errorf("%d run(s) failed", rep.Failures)
	}
	return nil
}

// replotReport prints the table of a saved report and redraws its chart,
// by default beside it.
func replotReport(jsonPath, svgPath string) error {
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		return err
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		return fmt.Errorf("%s: %w", jsonPath, err)
	}
	if svgPath == "" {
		svgPath = strings.TrimSuffix(jsonPath, ".json") + ".svg"
	}
	if err := writeTable(os.Stdout, rep.Rows); err != nil {
		return err
	}
	if err := writeSVGFile(svgPath, &rep); err != nil {
		return err
	}
	fmt.Printf("wrote %s\n", svgPath)
	return nil
}

// writeSVGFile draws rep's chart into the file at path.
func writeSVGFile(path string, rep *report) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := writeSVG(f, rep.Rows, rep.Machine, rep.Date, rep.Rounds); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// selectCases applies -only and -contenders to the plan.
func selectCases(cs []benchCase, only, contenders string) ([]benchCase, error) {
	var re *regexp.Regexp
	if only != "" {
		var err error
		if re, err = regexp.Compile(only); err != nil {
			return nil, fmt.Errorf("-only: %w", err)
		}
	}
	var want []string
	if contenders != "" {
		want = strings.Split(contenders, ",")
		if err := checkPeers(want); err != nil {
			return nil, err
		}
	}
	var out []benchCase
	for _, c := range cs {
		if re != nil && !re.MatchString(c.label()) {
			continue
		}
		if want != nil {
			c.peers = slices.DeleteFunc(slices.Clone(c.peers), func(p string) bool { return !slices.Contains(want, p) })
		}
		if len(c.peers) > 0 {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no case left to run")
	}
	return out, nil
}

// outcome is a run's one-word verdict with its headline figure.
func outcome(r *run) string {
	switch {
	case r.failed():
		return "FAILED: " + r.Error
	case r.Result.Skipped != "":
		return "skipped"
	}
	for _, m := range r.Result.Metrics {
		if m.Headline {
			return fmt.Sprintf("ok, %s %s %s (%.1fs)", m.Name, workload.FormatValue(m.Value), m.Unit, r.Seconds)
		}
	}
	return "ok"
}

// marshalReport encodes rep as JSON with one table row and one run per
// line: compact, and a committed result still diffs line by line.
func marshalReport(rep *report) ([]byte, error) {
	head := *rep
	head.Rows, head.Runs = nil, nil
	b, err := json.Marshal(head)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	out.Write(b[:len(b)-1]) // without the closing brace
	list := func(name string, n int, elem func(i int) any) error {
		fmt.Fprintf(&out, ",\n%q: [", name)
		for i := range n {
			e, err := json.Marshal(elem(i))
			if err != nil {
				return err
			}
			if i > 0 {
				out.WriteByte(',')
			}
			out.WriteString("\n ")
			out.Write(e)
		}
		out.WriteString("\n]")
		return nil
	}
	if err := list("table", len(rep.Rows), func(i int) any { return rep.Rows[i] }); err != nil {
		return nil, err
	}
	if err := list("runs", len(rep.Runs), func(i int) any { return rep.Runs[i] }); err != nil {
		return nil, err
	}
	out.WriteString("\n}\n")
	return out.Bytes(), nil
}

// writeOutputs writes the JSON report and the chart.
func writeOutputs(rep *report, jsonPath, svgPath string) error {
	for _, p := range []string{jsonPath, svgPath} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
	}
	b, err := marshalReport(rep)
	if err != nil {
		return err
	}
	if err := os.WriteFile(jsonPath, b, 0o644); err != nil {
		return err
	}
	return writeSVGFile(svgPath, rep)
}
