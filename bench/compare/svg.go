package main

import (
	"cmp"
	"fmt"
	"html"
	"io"
	"strings"

	"github.com/synack-go/synack/bench/workload"
)

// chart layout, in SVG user units (pixels).
const (
	chartWidth = 960
	labelWidth = 130 // contender names
	barMax     = 520 // the longest bar; its label still fits
	barHeight  = 14
	barGap     = 4
	groupHead  = 22 // a case's title line
	groupGap   = 10
	topMargin  = 80
)

// colour of each contender's bars.
func colour(contender string) string {
	switch {
	case contender == "synack", strings.HasPrefix(contender, "synack-"):
		return "#d9480f"
	case strings.HasPrefix(contender, "gvisor"):
		return "#1971c2"
	case contender == "kernel":
		return "#343a40"
	case contender == "kernel-bbr":
		return "#2f9e44"
	default:
		return "#868e96"
	}
}

// writeSVG draws the first headline metric of every case that has
// figures: one bar per contender (its median), a whisker from min to max,
// the value, and synack's per-round median ratio against it. The header
// says when and on what machine the figures were taken.
func writeSVG(w io.Writer, rows []row, m machine, date string, rounds int) error {
	var groups []row
	seen := map[string]bool{}
	for _, r := range rows {
		if seen[r.Case] || !hasValues(r) {
			continue
		}
		seen[r.Case] = true
		groups = append(groups, r)
	}
	height := topMargin
	for _, g := range groups {
		height += groupHead + len(g.Stats)*(barHeight+barGap) + groupGap
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		chartWidth, height, chartWidth, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="22" font-size="16" font-weight="bold">synack, gVisor netstack and the Linux kernel: same workloads, same run</text>`+"\n")
	sub := []string{
		fmt.Sprintf("%s · %d cores, %s · Linux %s · %s · gVisor %s", date, m.Cores, m.CPU, m.Kernel, m.Go, m.GVisor),
		fmt.Sprintf("bars: median of %d interleaved rounds, whiskers: min–max; ratios: synack/contender, median of the per-round ratios", rounds),
	}
	for i, line := range sub {
		fmt.Fprintf(&b, `<text x="10" y="%d" fill="#495057">%s</text>`+"\n", 42+16*i, html.EscapeString(line))
	}
	y := topMargin
	for _, g := range groups {
		scale := 0.0
		for _, st := range g.Stats {
			scale = max(scale, st.Max)
		}
		title := fmt.Sprintf("%s — %s %s (%s is better)", g.Case, g.Metric, g.Unit, g.Better)
		fmt.Fprintf(&b, `<text x="10" y="%d" font-weight="bold">%s</text>`+"\n", y+14, html.EscapeString(title))
		y += groupHead
		for _, st := range g.Stats {
			mid := y + barHeight/2
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" dominant-baseline="middle">%s</text>`+"\n",
				labelWidth-8, mid, html.EscapeString(st.Contender))
			text := "skipped"
			if st.Failed > 0 && len(st.Values) == 0 {
				text = "FAILED"
			}
			end := labelWidth
			if len(st.Values) > 0 && scale > 0 {
				px := func(v float64) int { return labelWidth + int(v/scale*barMax) }
				end = px(st.Median)
				fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"/>`+"\n",
					labelWidth, y, max(end-labelWidth, 1), barHeight, colour(st.Contender))
				fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#000" stroke-width="1"/>`+"\n",
					px(st.Min), px(st.Max), mid, mid)
				end = max(end, px(st.Max))
				text = workload.FormatValue(st.Median) + " " + g.Unit
				if st.RatioMedian != 0 {
					text += fmt.Sprintf("   %s/%s %s×", cmp.Or(g.Ref, reference), st.Contender, workload.FormatValue(st.RatioMedian))
				}
			}
			fmt.Fprintf(&b, `<text x="%d" y="%d" dominant-baseline="middle" fill="#212529">%s</text>`+"\n",
				end+6, mid, html.EscapeString(text))
			y += barHeight + barGap
		}
		y += groupGap
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func hasValues(r row) bool {
	for _, st := range r.Stats {
		if len(st.Values) > 0 {
			return true
		}
	}
	return false
}
