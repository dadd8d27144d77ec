package script

import (
	"fmt"
	"time"

	"github.com/synack-go/synack/trace"
)

// Verdict says how a run against synack compares with the script's
// "// synack:" headers (Expectation): Pass and KnownDifference are what a
// test suite accepts; UnexpectedPass means synack was fixed and the header
// must go; Fail is a failure no header explains.
type Verdict uint8

// The verdicts.
const (
	Pass            Verdict = iota // no header, and the run passed
	KnownDifference                // the run failed at the line a header names
	UnexpectedPass                 // a header says the run fails, and it passed
	Fail                           // the run failed, not where a header says
)

var verdictNames = [...]string{"PASS", "KNOWN DIFFERENCE", "UNEXPECTED PASS", "FAIL"}

func (v Verdict) String() string { return verdictNames[v] }

// Judge compares a run of s against synack with its headers. It returns
// the verdict and, for a known difference, the header that explains it.
func (s *Script) Judge(res *Result) (Verdict, *Expectation) {
	if len(s.Expect) == 0 {
		if res.Err == nil {
			return Pass, nil
		}
		return Fail, nil
	}
	if res.Err == nil {
		return UnexpectedPass, &s.Expect[0]
	}
	line := res.Line()
	for i := range s.Expect {
		if s.Expect[i].Line == line {
			return KnownDifference, &s.Expect[i]
		}
	}
	return Fail, nil
}

// String prints a header as a note for a report.
func (e *Expectation) String() string {
	return fmt.Sprintf("%s:%d %s %s: %s", "line", e.Line, e.Kind, e.Issue, e.Why)
}

// Events returns the run's packets as trace events, for ladder diagrams
// (trace.WriteSVG, trace.WriteHTML): both ends' states are inferred from
// the segments, as for a capture.
func (r *Result) Events() []trace.Event {
	var c trace.Capture
	base := time.Unix(0, 0)
	for _, p := range r.Packets {
		c.Add(base.Add(p.At), p.Data, len(p.Data)) // non-TCP packets are skipped
	}
	return c.Events()
}
