package workload

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestPinCPUs runs this test binary again as a workload would run with
// -cpus 1: pinCPUs executes it a third time on CPU 0 alone, and that
// process reports the CPUs it may run on and the Ps it was given.
func TestPinCPUs(t *testing.T) {
	if os.Getenv("SYNACK_PIN_CHILD") != "" {
		if err := pinCPUs(1); err != nil {
			t.Fatal(err)
		}
		var set unix.CPUSet
		if err := unix.SchedGetaffinity(0, &set); err != nil {
			t.Fatal(err)
		}
		t.Logf("pinned: cpus=%d", set.Count())
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestPinCPUs$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "SYNACK_PIN_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !strings.Contains(string(out), "pinned: cpus=1") {
		t.Fatalf("the pinned process did not report one CPU: %s", out)
	}
}

func TestCaseNamesCPUs(t *testing.T) {
	if got := caseOf("mem-rr", &params{cpus: 1}); got != "cpus=1" {
		t.Fatalf("caseOf(mem-rr, -cpus 1) = %q, want cpus=1", got)
	}
	if got := caseOf("mem-rr", &params{}); got != "" {
		t.Fatalf("caseOf(mem-rr) = %q, want empty", got)
	}
}
