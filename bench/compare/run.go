package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/synack-go/synack/bench/workload"
)

// build compiles the contender binaries into dir: synack's command, the
// kernel peer (both in synack's module), the gVisor peer (its own module,
// built in its own directory so that its go.mod applies), and the two
// WireGuard peers: synack's netstack (the wireguard module) and
// wireguard-go's gVisor netstack (bench/peers/wggvisor).
func build(root, dir string) error {
	steps := []struct {
		dir, out, pkg string
	}{
		{root, "synack", "./cmd/synack"},
		{root, "kernel", "./bench/peers/kernel"},
		{filepath.Join(root, "bench", "peers", "gvisor"), "gvisor", "."},
		{filepath.Join(root, "wireguard"), "wg-synack", "./internal/benchpeer"},
		{filepath.Join(root, "bench", "peers", "wggvisor"), "wg-gvisor", "."},
	}
	for _, s := range steps {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, s.out), s.pkg)
		cmd.Dir = s.dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s (in %s): %v\n%s", s.pkg, s.dir, err, out)
		}
	}
	return nil
}

// run is one process: one contender on one case in one round.
type run struct {
	Round     int              `json:"round"`
	Case      string           `json:"case"` // benchCase.label()
	Contender string           `json:"contender"`
	Result    *workload.Result `json:"result,omitempty"`
	Error     string           `json:"error,omitempty"` // the run failed: exit status, stderr's last lines
	Seconds   float64          `json:"seconds"`         // wall time of the process
}

// failed reports whether the run failed (a skip is not a failure).
func (r *run) failed() bool { return r.Error != "" }

// execute runs contender p on case c in its own process and reads the one
// JSON result it prints. A non-zero exit, no result, or a timeout is a
// failure.
func execute(ctx context.Context, bins string, p peer, c benchCase, round int, timeout time.Duration) run {
	r := run{Round: round, Case: c.label(), Contender: p.name}
	args := append(append(append(append([]string{}, p.pre...), c.workload), c.args...), p.post...)
	args = append(args, "-json", "-seed", fmt.Sprint(round))
	outer := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(bins, p.bin), args...)
	// Interrupt first, so that the kernel peer removes its namespaces.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r.Seconds = time.Since(start).Seconds()
	switch {
	case outer.Err() != nil:
		err = errors.New("interrupted")
	case ctx.Err() != nil:
		err = fmt.Errorf("timed out after %v", timeout)
	}
	if err != nil {
		r.Error = fmt.Sprintf("%s %s: %v: %s", p.bin, strings.Join(args, " "), err, tail(stderr.String(), 5))
		return r
	}
	var res workload.Result
	sc := bufio.NewScanner(&stdout)
	found := false
	for sc.Scan() {
		if json.Unmarshal(sc.Bytes(), &res) == nil && res.Workload != "" {
			found = true
		}
	}
	if !found {
		r.Error = fmt.Sprintf("%s %s: no result printed: %s", p.bin, strings.Join(args, " "), tail(stdout.String()+stderr.String(), 5))
		return r
	}
	r.Result = &res
	return r
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// findRoot returns the directory of synack's go.mod, searching up from the
// working directory.
func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(b, []byte("module github.com/synack-go/synack\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run compare inside the synack repository (no go.mod of github.com/synack-go/synack above the working directory)")
		}
		dir = parent
	}
}
