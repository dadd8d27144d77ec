package script_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/synack-go/synack/internal/netns"
	"github.com/synack-go/synack/script"
)

// scriptFiles returns the project's scripts, testdata/tcp/*.pkt.
func scriptFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "tcp", "*.pkt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts in testdata/tcp: %v", err)
	}
	return files
}

// TestScripts runs every script against synack on virtual time. A script
// passes, or fails exactly where its "// synack: known-difference" header
// says; a header whose failure went away is reported, so that it is
// removed once synack is fixed.
func TestScripts(t *testing.T) {
	for _, file := range scriptFiles(t) {
		name := strings.TrimSuffix(filepath.Base(file), ".pkt")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, err := script.ParseFile(file, nil)
			if err != nil {
				t.Fatal(err)
			}
			res := script.Run(s, script.NewSynackTarget(1), script.Options{Seed: 1})
			switch v, e := s.Judge(res); v {
			case script.Pass:
			case script.KnownDifference:
				t.Logf("known difference from Linux at line %d (%s %s): %s", e.Line, e.Kind, e.Issue, e.Why)
			case script.UnexpectedPass:
				t.Errorf("%s: passes, but its header (line %d) says synack fails at line %d: %s is fixed; remove the header", file, e.HeaderLine, e.Line, e.Issue)
			default:
				t.Errorf("%v", res.Err)
			}
		})
	}
}

// kernelTolerance is the timing slack of the kernel runs: real time on a
// shared machine needs more than packetdrill's 4 ms. It stays well below
// the 40 ms of a delayed ACK, which the scripts tell from an immediate one.
const kernelTolerance = "25000"

// kernelAttempts is how many times a kernel run may be tried.
const kernelAttempts = 4

// TestScriptsKernel runs every script against the Linux kernel, the
// reference: each must pass there. It needs root (a network namespace and
// a TUN device per script) and takes real time, so -short skips it.
func TestScriptsKernel(t *testing.T) {
	if why := script.KernelUnavailable(); why != "" {
		t.Skip(why)
	}
	if testing.Short() {
		t.Skip("real time: skipped with -short")
	}
	netns.Serialize(t) // the other packages' kernel-peer tests wait meanwhile
	tol := kernelTolerance
	if v := os.Getenv("SYNACK_SCRIPT_TOLERANCE_USECS"); v != "" {
		tol = v
	}
	sem := make(chan struct{}, 2) // real time: two at once (2 cores), however busy the machine
	for _, file := range scriptFiles(t) {
		name := strings.TrimSuffix(filepath.Base(file), ".pkt")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sem <- struct{}{}
			defer func() { <-sem }()
			s, err := script.ParseFile(file, nil)
			if err != nil {
				t.Fatal(err)
			}
			// Real time on a shared machine: a run the scheduler delayed
			// gets three more chances. A real difference fails every time.
			for attempt := 1; ; attempt++ {
				res := script.Run(s, script.NewKernelTarget(), script.Options{Overrides: script.Overrides{"tolerance_usecs": tol}})
				if res.Err == nil {
					return
				}
				if attempt == kernelAttempts {
					t.Fatalf("failed %d times; the last: %v", attempt, res.Err)
				}
				t.Logf("attempt %d: %v", attempt, res.Err)
			}
		})
	}
}
