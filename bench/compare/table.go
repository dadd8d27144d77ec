package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/synack-go/synack/bench/workload"
)

// writeTable prints the rows as one table: per case and headline metric,
// each contender's median, min and max over the rounds, and the median of
// the per-round ratios synack/contender (or the row's Ref's, marked in its
// own line). Whether a ratio above 1 is good depends on the metric: the
// "better" column says which way it points.
func writeTable(w io.Writer, rows []row) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "case\tmetric\tbetter\tcontender\t   median\t      min\t      max\tsynack/this")
	last := ""
	for _, r := range rows {
		label := r.Case
		if label == last {
			label = ""
		} else if last != "" {
			fmt.Fprintln(tw, "\t\t\t\t\t\t\t")
		}
		last = r.Case
		metric := strings.TrimSpace(r.Metric + " " + r.Unit)
		for i, st := range r.Stats {
			c, m, b := label, metric, string(r.Better)
			if i > 0 {
				c, m, b = "", "", ""
			}
			label = ""
			med, lo, hi, ratio := "-", "-", "-", ""
			switch {
			case st.Failed > 0 && len(st.Values) == 0:
				med = "FAILED"
			case len(st.Values) == 0 && st.Skipped != "":
				med = "skipped"
			case len(st.Values) > 0:
				med, lo, hi = workload.FormatValue(st.Median), workload.FormatValue(st.Min), workload.FormatValue(st.Max)
			}
			switch {
			case st.RatioMedian != 0:
				ratio = workload.FormatValue(st.RatioMedian) + "×"
			case r.Ref != "" && st.Contender == r.Ref:
				ratio = "(ratios' ref)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%9s\t%9s\t%9s\t%11s\n", c, m, b, st.Contender, med, lo, hi, ratio)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// Skips and failures, once each, under the table.
	seen := map[string]bool{}
	for _, r := range rows {
		for _, st := range r.Stats {
			var msg string
			switch {
			case st.Failed > 0:
				msg = fmt.Sprintf("%s / %s: %d round(s) FAILED", r.Case, st.Contender, st.Failed)
			case st.Skipped != "" && len(st.Values) == 0:
				msg = fmt.Sprintf("%s / %s: skipped: %s", r.Case, st.Contender, st.Skipped)
			}
			if msg != "" && !seen[msg] {
				seen[msg] = true
				fmt.Fprintln(w, msg)
			}
		}
	}
	return nil
}
