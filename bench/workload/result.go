package workload

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
)

// Better says which way a metric improves.
type Better string

// The two directions of Better.
const (
	Higher Better = "higher"
	Lower  Better = "lower"
)

// Metric is one measured figure of a run.
type Metric struct {
	Name   string  `json:"name"`   // "throughput", "p99", ...
	Unit   string  `json:"unit"`   // "Gbit/s", "µs", "B/conn", ...
	Value  float64 `json:"value"`  // in Unit
	Better Better  `json:"better"` // which way is good
	// Headline marks the figures bench/compare puts in its table; the
	// others go to the JSON only.
	Headline bool `json:"headline,omitempty"`
}

// Result is what one run of one workload by one contender measured.
type Result struct {
	Workload  string   `json:"workload"`  // "mem-bulk"
	Case      string   `json:"case"`      // the parameters that tell cases apart: "mtu=1500"
	Contender string   `json:"contender"` // "synack", "gvisor", "kernel", ...
	Metrics   []Metric `json:"metrics"`
	// Bytes is the payload the workload moved and verified, if it moves
	// a stream.
	Bytes int64 `json:"bytes,omitempty"`
	// Note says what a reader of the figure must know (the link used, a
	// cap reached, a fallback taken).
	Note string `json:"note,omitempty"`
	// Skipped, if set, says why the workload did not run (it needs root,
	// a TUN device, ...): not a failure.
	Skipped string `json:"skipped,omitempty"`
}

// Metric returns the metric named name, and whether there is one.
func (r *Result) Metric(name string) (Metric, bool) {
	for _, m := range r.Metrics {
		if m.Name == name {
			return m, true
		}
	}
	return Metric{}, false
}

func (r *Result) add(name, unit string, v float64, better Better, headline bool) {
	r.Metrics = append(r.Metrics, Metric{Name: name, Unit: unit, Value: round4(v), Better: better, Headline: headline})
}

// round4 keeps four significant digits: more than any run repeats, and the
// JSON stays small.
func round4(v float64) float64 {
	if v == 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return v
	}
	scale := math.Pow(10, 3-math.Floor(math.Log10(math.Abs(v))))
	return math.Round(v*scale) / scale
}

// addNote appends s to r's Note.
func (r *Result) addNote(s string) {
	if r.Note != "" {
		s = r.Note + "; " + s
	}
	r.Note = s
}

// WriteText prints r for a person: one line per metric.
func (r *Result) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s (%s)\n", r.Workload, r.Case, r.Contender)
	if r.Skipped != "" {
		fmt.Fprintf(&b, "  skipped: %s\n", r.Skipped)
	}
	for _, m := range r.Metrics {
		fmt.Fprintf(&b, "  %-16s %12s %s\n", m.Name, FormatValue(m.Value), m.Unit)
	}
	if r.Bytes > 0 {
		fmt.Fprintf(&b, "  %-16s %12d bytes\n", "verified", r.Bytes)
	}
	if r.Note != "" {
		fmt.Fprintf(&b, "  note: %s\n", r.Note)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON prints r as one line of JSON, the form bench/compare reads.
func (r *Result) WriteJSON(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// FormatValue prints v with three significant digits or so: 0.0123, 1.23,
// 12.3, 123, 12345.
func FormatValue(v float64) string {
	a := v
	if a < 0 {
		a = -a
	}
	switch {
	case a == 0:
		return "0"
	case a < 0.01:
		return fmt.Sprintf("%.2g", v)
	case a < 1:
		return fmt.Sprintf("%.3f", v)
	case a < 10:
		return fmt.Sprintf("%.2f", v)
	case a < 100:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.0f", v)
	}
}
