package main

import (
	"maps"
	"slices"

	"github.com/synack-go/synack/bench/workload"
)

// reference is the contender ratios are taken against, synack/other,
// unless the case names another (benchCase.ref).
const reference = "synack"

// stat summarizes one contender's figure for one metric of one case.
type stat struct {
	Contender string    `json:"contender"`
	Values    []float64 `json:"values"` // one per round that produced it, in round order
	Median    float64   `json:"median"`
	Min       float64   `json:"min"`
	Max       float64   `json:"max"`
	// Ratios are synack's (the row's Ref's) value over this contender's, round by round
	// (rounds where both produced one); RatioMedian is their median.
	// Both are empty for synack itself.
	Ratios      []float64 `json:"ratios,omitempty"`
	RatioMedian float64   `json:"ratio_median,omitempty"`
	Skipped     string    `json:"skipped,omitempty"`
	Failed      int       `json:"failed,omitempty"` // rounds that failed
	Note        string    `json:"note,omitempty"`
}

// row is one headline metric of one case, across contenders.
type row struct {
	Case   string          `json:"case"`
	Metric string          `json:"metric"`
	Unit   string          `json:"unit"`
	Better workload.Better `json:"better"`
	// Ref is the contender of the ratios when it is not synack.
	Ref   string `json:"ref,omitempty"`
	Stats []stat `json:"stats"`
}

// summarize turns the runs into rows: every headline metric of every case,
// with each contender's median, min, max and per-round ratios.
func summarize(cases []benchCase, runs []run) []row {
	var rows []row
	for _, c := range cases {
		label := c.label()
		mine := func(contender string) []run {
			var rs []run
			for _, r := range runs {
				if r.Case == label && r.Contender == contender {
					rs = append(rs, r)
				}
			}
			return rs
		}
		// The metrics: the headline ones of the first result of the case.
		var metrics []workload.Metric
		for _, r := range runs {
			if r.Case == label && r.Result != nil && r.Result.Skipped == "" {
				for _, m := range r.Result.Metrics {
					if m.Headline {
						metrics = append(metrics, m)
					}
				}
				break
			}
		}
		if len(metrics) == 0 {
			metrics = []workload.Metric{{Name: "-"}}
		}
		for _, m := range metrics {
			ref := c.ref()
			rw := row{Case: label, Metric: m.Name, Unit: m.Unit, Better: m.Better}
			if ref != reference {
				rw.Ref = ref
			}
			byRound := map[string]map[int]float64{}
			for _, p := range c.peers {
				st := stat{Contender: p}
				byRound[p] = map[int]float64{}
				for _, r := range mine(p) {
					switch {
					case r.failed():
						st.Failed++
					case r.Result.Skipped != "":
						st.Skipped = r.Result.Skipped
					default:
						st.Note = r.Result.Note
						if v, ok := r.Result.Metric(m.Name); ok {
							st.Values = append(st.Values, v.Value)
							byRound[p][r.Round] = v.Value
						}
					}
				}
				if len(st.Values) > 0 {
					st.Median, st.Min, st.Max = median(st.Values), slices.Min(st.Values), slices.Max(st.Values)
				}
				rw.Stats = append(rw.Stats, st)
			}
			for i := range rw.Stats {
				st := &rw.Stats[i]
				if st.Contender == ref {
					continue
				}
				rounds := slices.Sorted(maps.Keys(byRound[ref]))
				for _, round := range rounds {
					if v, ok := byRound[st.Contender][round]; ok && v != 0 {
						st.Ratios = append(st.Ratios, byRound[ref][round]/v)
					}
				}
				if len(st.Ratios) > 0 {
					st.RatioMedian = median(st.Ratios)
				}
			}
			rows = append(rows, rw)
		}
	}
	return rows
}

// median of vs (the mean of the middle two for an even count).
func median(vs []float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
