//go:build linux

package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/synack-go/synack/internal/netns"
)

// readmeBlocks returns the shell blocks of the README that follow a
// "<!-- readme-test: netns -->" line.
func readmeBlocks(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var blocks []string
	rest := string(b)
	for {
		i := strings.Index(rest, "<!-- readme-test: netns -->")
		if i < 0 {
			return blocks
		}
		rest = rest[i:]
		start := strings.Index(rest, "```sh\n")
		end := strings.Index(rest[start+6:], "\n```")
		if start < 0 || end < 0 {
			t.Fatal("README: a readme-test marker without a ```sh block after it")
		}
		blocks = append(blocks, rest[start+6:start+6+end+1])
		rest = rest[start+6+end:]
	}
}

// TestREADMEShellBlocks runs the README's TUN blocks, as a user would paste
// them, in a network namespace of their own, in a copy of the repository:
// the first builds synack, serves a 64 MiB file to curl, and fetches it
// back from a kernel HTTP server with synack get; the second runs synack
// proxy between namespaces it makes and removes.
func TestREADMEShellBlocks(t *testing.T) {
	blocks := readmeBlocks(t)
	if len(blocks) == 0 {
		t.Fatal("the README has no block marked for this test")
	}
	if testing.Short() {
		t.Skip("-short: the README's block builds synack and moves 64 MiB twice")
	}
	for _, tool := range [][2]string{{"bash", "bash"}, {"curl", "curl"}, {"python3", "python3"}, {"git", "git"}, {"go", "golang"}} {
		needTool(t, tool[0], tool[1])
	}
	ns := netns.New(t)
	repo := copyRepo(t)
	for i, block := range blocks {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns.Name(), "bash", "-euo", "pipefail", "-c", block)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=-buildvcs=false")
		// Its own process group, so that whatever it leaves running on a
		// failure (serve, the web server) is stopped with it.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if cmd.Process != nil {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
		cancel()
		t.Logf("block %d:\n%s", i+1, out.Bytes())
		if err != nil {
			t.Fatalf("block %d: %v", i+1, err)
		}
		wants := [][]string{
			{"67108864 bytes from synack", "big.bin arrived intact", "stopped after 1 connection"},
			{"67108864 bytes through synack proxy", "refused at once", "refused (RST)", "stopped after 1 TCP"},
		}
		if i >= len(wants) {
			t.Fatalf("block %d has nothing to check", i+1)
		}
		for _, want := range wants[i] {
			if !strings.Contains(out.String(), want) {
				t.Errorf("block %d printed no %q", i+1, want)
			}
		}
	}
}

// copyRepo copies the repository's tracked files into a temporary
// directory, where the README's commands may leave their files.
func copyRepo(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	list, err := exec.Command("git", "-C", root, "ls-files", "-z").Output()
	if err != nil {
		t.Skipf("git ls-files: %v: the test copies the repository's tracked files", err)
	}
	dst := t.TempDir()
	for _, name := range strings.Split(strings.TrimRight(string(list), "\x00"), "\x00") {
		b, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			if os.IsNotExist(err) {
				continue // deleted in the work tree
			}
			t.Fatal(err)
		}
		p := filepath.Join(dst, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}
