package main

// End-to-end tests: synack on a TUN device inside a network namespace the
// test makes, with the Linux kernel's TCP (its sockets, curl, ping) as the
// peer. They need root and skip without it; CI runs them as root. Each test
// has a namespace of its own, so they all run in parallel.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/synack-go/synack/internal/netns"
)

// The link inside every test's namespace: synack owns .2 and ::2, the
// kernel .1 and ::1. No other namespace sees these addresses.
const (
	devName   = "syn0"
	synAddr4  = "10.77.0.2"
	hostAddr4 = "10.77.0.1"
	synAddr6  = "fd77::2"
	hostAddr6 = "fd77::1"
)

// linkArgs are the serve and get flags for that link, both families.
var linkArgs = []string{
	"--tun", devName,
	"--addr", synAddr4 + "/24," + synAddr6 + "/64",
	"--host-addr", hostAddr4 + "/24," + hostAddr6 + "/64",
}

// reexecEnv makes the test binary run main instead of the tests, so a test
// can start `synack` as a real process.
const reexecEnv = "SYNACK_TEST_RUN_MAIN"

// bigFile is the 64 MiB file the transfers move, made once per test binary.
var bigFile struct {
	once sync.Once
	dir  string // holds big.bin
	sum  [sha256.Size]byte
	head [sha256.Size]byte // of the first headSize bytes
	err  error
}

const (
	bigSize  = 64 << 20
	headSize = 8 << 20 // what -short moves of it where a transfer is slow
)

func TestMain(m *testing.M) {
	if os.Getenv(reexecEnv) == "1" {
		main()
		os.Exit(0)
	}
	code := m.Run()
	if bigFile.dir != "" {
		os.RemoveAll(bigFile.dir)
	}
	if gibFile.dir != "" {
		os.RemoveAll(gibFile.dir)
	}
	os.Exit(code)
}

// big returns the directory holding big.bin (64 MiB, seeded random bytes)
// and its SHA-256.
func big(t *testing.T) (dir string, sum [sha256.Size]byte) {
	t.Helper()
	bigFile.once.Do(func() {
		dir, err := os.MkdirTemp("", "synack-e2e-")
		if err != nil {
			bigFile.err = err
			return
		}
		bigFile.dir = dir
		data := seeded(1, bigSize)
		bigFile.sum = sha256.Sum256(data)
		bigFile.head = sha256.Sum256(data[:headSize])
		bigFile.err = os.WriteFile(filepath.Join(dir, "big.bin"), data, 0o644)
	})
	if bigFile.err != nil {
		t.Fatal(bigFile.err)
	}
	return bigFile.dir, bigFile.sum
}

// seeded returns n bytes from a ChaCha8 generator seeded with seed.
func seeded(seed uint64, n int) []byte {
	var key [32]byte
	key[0] = byte(seed)
	key[1] = byte(seed >> 8)
	b := make([]byte, n)
	rand.NewChaCha8(key).Read(b)
	return b
}

// needTool skips the test when a program it runs is missing.
func needTool(t *testing.T, name, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("needs %s (Debian package %s)", name, pkg)
	}
}

// logBuffer is an io.Writer for a command's log that a test can wait on.
type logBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{} // closed and replaced on every write
}

func newLogBuffer() *logBuffer { return &logBuffer{changed: make(chan struct{})} }

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	close(l.changed)
	l.changed = make(chan struct{})
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// len returns how many bytes the log holds, a mark for waitFrom.
func (l *logBuffer) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Len()
}

// waitFor waits until the log holds a line for which match is true and
// returns it, or fails the test after the wait bound (never reached unless
// something hangs), or when stop is closed first.
func (l *logBuffer) waitFor(t *testing.T, what string, stop <-chan struct{}, match func(line string) bool) string {
	t.Helper()
	return l.waitFrom(t, 0, what, stop, match)
}

// waitFrom is waitFor looking only at what was written after the first
// from bytes.
func (l *logBuffer) waitFrom(t *testing.T, from int, what string, stop <-chan struct{}, match func(line string) bool) string {
	t.Helper()
	bound := time.After(2 * time.Minute)
	for {
		l.mu.Lock()
		text, changed := l.b.String()[from:], l.changed
		l.mu.Unlock()
		for line := range strings.Lines(text) {
			if match(line) {
				return strings.TrimSpace(line)
			}
		}
		select {
		case <-changed:
		case <-stop:
			t.Fatalf("stopped before %s; log:\n%s", what, text)
		case <-bound:
			t.Fatalf("gave up waiting for %s; log:\n%s", what, text)
		}
	}
}

// server is a `synack serve` running in this process.
type server struct {
	log, out *logBuffer // stderr and stdout
	done     chan struct{}
	err      error
}

// startServe runs serve with linkArgs and args inside ns until the test
// ends, and waits until it listens.
func startServe(t *testing.T, ns *netns.NS, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{log: newLogBuffer(), out: newLogBuffer(), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.err = ns.Do(func() error {
			return serve(ctx, append(append([]string(nil), linkArgs...), args...), s.out, s.log)
		})
	}()
	t.Cleanup(func() {
		cancel()
		<-s.done
		if s.err != nil {
			t.Errorf("serve: %v", s.err)
		}
	})
	s.log.waitFor(t, "serve to listen", s.done, func(l string) bool { return strings.Contains(l, " serving ") })
	return s
}

// kernelDial connects from a kernel socket inside ns.
func kernelDial(ns *netns.NS, addr string) (c *net.TCPConn, err error) {
	err = ns.Do(func() error {
		conn, err := net.DialTimeout("tcp", addr, 30*time.Second)
		if err == nil {
			c = conn.(*net.TCPConn)
		}
		return err
	})
	return c, err
}

// kernelListen listens on a kernel socket inside ns.
func kernelListen(t *testing.T, ns *netns.NS, addr string) net.Listener {
	t.Helper()
	var ln net.Listener
	if err := ns.Do(func() (err error) {
		ln, err = net.Listen("tcp", addr)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// hashWriter hashes and counts what is written to it.
type hashWriter struct {
	h interface {
		io.Writer
		Sum([]byte) []byte
	}
	n int64
}

func newHashWriter() *hashWriter { return &hashWriter{h: sha256.New()} }

func (w *hashWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return w.h.Write(p)
}

func (w *hashWriter) sum() (s [sha256.Size]byte) {
	copy(s[:], w.h.Sum(nil))
	return s
}

// curl downloads url with the kernel's curl inside ns and returns the
// body's hash and length.
func curl(t *testing.T, ns *netns.NS, url string) ([sha256.Size]byte, int64) {
	t.Helper()
	hw := newHashWriter()
	var stderr bytes.Buffer
	cmd := ns.Command("curl", "--silent", "--show-error", "--fail", "--max-time", "300", "--output", "-", url)
	cmd.Stdout, cmd.Stderr = hw, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("curl %s: %v: %s", url, err, stderr.String())
	}
	el := time.Since(start)
	t.Logf("curl %s: %d bytes in %v (%s)", url, hw.n, el.Round(time.Millisecond), byteRate(uint64(hw.n), el))
	return hw.sum(), hw.n
}

// hostPort joins an address and port, bracketing IPv6.
func hostPort(addr string, port int) string {
	return netip.AddrPortFrom(netip.MustParseAddr(addr), uint16(port)).String()
}

// urlHost is addr as a URL's host.
func urlHost(addr string) string {
	if strings.Contains(addr, ":") {
		return "[" + addr + "]"
	}
	return addr
}

// families runs fn once over IPv4 and once over IPv6, with synack's and the
// kernel's address of that family.
func families(t *testing.T, fn func(t *testing.T, syn, host string)) {
	for _, f := range []struct{ name, syn, host string }{
		{"IPv4", synAddr4, hostAddr4},
		{"IPv6", synAddr6, hostAddr6},
	} {
		t.Run(f.name, func(t *testing.T) { fn(t, f.syn, f.host) })
	}
}
