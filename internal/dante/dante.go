// Package dante runs Dante's SOCKS5 server, danted (Debian package
// dante-server), for tests: inside a network namespace the test made, on
// 127.0.0.1:1080, with no authentication, CONNECT and UDP ASSOCIATE
// allowed, killed by its pid when the test ends.
package dante

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/synack-go/synack/internal/netns"
)

// Addr is where the server listens.
const Addr = "127.0.0.1:1080"

// conf is the smallest configuration that serves CONNECT and UDP ASSOCIATE
// without authentication on loopback, going out from the address or
// interface external.
const conf = `logoutput: stderr
internal: 127.0.0.1 port = 1080
external: %EXTERNAL%
socksmethod: none
clientmethod: none
user.privileged: root
user.unprivileged: nobody
client pass {
	from: 0.0.0.0/0 to: 0.0.0.0/0
}
socks pass {
	from: 0.0.0.0/0 to: 0.0.0.0/0
	command: connect udpassociate udpreply
}
`

// Start runs danted inside ns, its outgoing side external (an address or an
// interface name), and waits until it serves. It skips the test without
// danted and fails it when danted does not start within a minute.
func Start(t testing.TB, ns *netns.NS, external string) {
	t.Helper()
	bin, err := exec.LookPath("danted")
	if err != nil {
		t.Skip("needs danted (Debian package dante-server)")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "danted.conf")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(conf, "%EXTERNAL%", external)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := ns.Command(bin, "-f", path, "-p", filepath.Join(dir, "danted.pid"))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	// It logs "running" on stderr once it serves; the log is kept for a
	// failure, and the pipe drained afterwards.
	running := make(chan string, 1)
	go func() {
		var log strings.Builder
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), " running") {
				running <- ""
				for sc.Scan() {
				}
				return
			}
		}
		running <- log.String()
	}()
	select {
	case l := <-running:
		if l != "" {
			t.Fatalf("danted stopped:\n%s", l)
		}
	case <-time.After(time.Minute):
		t.Fatal("danted did not start within a minute")
	}
}
