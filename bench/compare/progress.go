package main

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// progress shows how far a comparison is: a bar redrawn in place on a
// terminal, one line per run otherwise (CI logs).
type progress struct {
	w     io.Writer
	tty   bool
	total int
	done  int
}

func newProgress(f *os.File, total int) *progress {
	fi, err := f.Stat()
	return &progress{w: f, total: total, tty: err == nil && fi.Mode()&os.ModeCharDevice != 0}
}

// start announces the run about to begin.
func (p *progress) start(what string) {
	if p.tty {
		const width = 30
		fill := width * p.done / max(p.total, 1)
		line := fmt.Sprintf("[%s%s] %d/%d %s", strings.Repeat("#", fill), strings.Repeat(".", width-fill), p.done, p.total, what)
		fmt.Fprintf(p.w, "\r\033[K%s", line)
	}
}

// finish records the end of a run and its outcome.
func (p *progress) finish(what, outcome string) {
	p.done++
	if !p.tty {
		fmt.Fprintf(p.w, "[%d/%d] %s: %s\n", p.done, p.total, what, outcome)
	} else if strings.HasPrefix(outcome, "FAILED") {
		fmt.Fprintf(p.w, "\r\033[K%s: %s\n", what, outcome)
	}
}

// end clears the bar.
func (p *progress) end() {
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
