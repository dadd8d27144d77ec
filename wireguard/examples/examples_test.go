// Package examples holds the test of the example programs beside it.
package examples

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/synack-go/synack/internal/netns"
)

// TestExamples builds the three examples and runs them as their comments
// say: http_server, then http_client and ping_client against it, over
// UDP on the loopback interface (of a namespace of its own when the test
// may make one).
func TestExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("builds three programs: not with -short")
	}
	dir := t.TempDir()
	bins := map[string]string{}
	for _, name := range []string{"http_server", "http_client", "ping_client"} {
		bins[name] = filepath.Join(dir, name)
		if out, err := exec.Command("go", "build", "-o", bins[name], "./"+name).CombinedOutput(); err != nil {
			t.Fatalf("go build ./%s: %v\n%s", name, err, out)
		}
	}
	command := exec.Command
	if netns.Available() == nil {
		ns := netns.New(t)
		command = ns.Command
	}
	server := command(bins["http_server"])
	var serverOut strings.Builder
	server.Stdout, server.Stderr = &serverOut, &serverOut
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		server.Process.Kill()
		server.Wait()
		if t.Failed() {
			t.Logf("http_server's output:\n%s", serverOut.String())
		}
	}()
	for _, tc := range []struct{ name, want string }{
		{"http_client", "Hello from userspace TCP!"},
		{"ping_client", "Ping latency: "},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		cmd := command(bins[tc.name])
		out, err := exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...).CombinedOutput()
		cancel()
		if err != nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("%s: %v, output:\n%s", tc.name, err, out)
		}
	}
}
