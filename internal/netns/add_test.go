//go:build linux

package netns

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestAddEnterDelete makes a namespace, checks that Enter runs inside it and
// leaves the caller outside, and that Delete removes it.
func TestAddEnterDelete(t *testing.T) {
	if err := Available(); err != nil {
		t.Skip(err)
	}
	ns, err := Add("synack-test-")
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Delete()
	self, err := os.Readlink("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	var inside string
	if err := Enter(ns.Path(), func() (err error) {
		inside, err = os.Readlink("/proc/thread-self/ns/net")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if inside == self {
		t.Errorf("Enter ran in the caller's namespace %s", self)
	}
	Sweep("synack-test-") // the namespace's maker (this process) runs: Sweep keeps it
	if !listed(t, ns.Name()) {
		t.Fatalf("%s missing after Sweep", ns.Name())
	}
	if err := ns.Delete(); err != nil {
		t.Fatal(err)
	}
	if listed(t, ns.Name()) {
		t.Errorf("%s still listed after Delete", ns.Name())
	}
}

func listed(t *testing.T, name string) bool {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == name {
			return true
		}
	}
	return false
}
