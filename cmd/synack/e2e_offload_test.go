package main

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/synack-go/synack/internal/netns"
)

// The gigabyte transfers: curl fetching 1 GiB from `synack serve` and
// `synack get` fetching 1 GiB from the kernel's HTTP server, at MTU 1500,
// with the kernel's offloads (virtio-net headers: TSO both ways, checksums
// left to the kernel) and without, over IPv4 and with offloads over IPv6.
// They take a while on a loaded machine, so -short skips them; CI runs
// them.

// gibFile is the 1 GiB file, made once per test binary.
var gibFile struct {
	once sync.Once
	dir  string
	sum  [sha256.Size]byte
	err  error
}

const gibSize = 1 << 30

// gib returns the directory holding gib.bin (1 GiB of seeded random bytes,
// written in 16 MiB pieces) and its SHA-256.
func gib(t *testing.T) (dir string, sum [sha256.Size]byte) {
	t.Helper()
	if testing.Short() {
		t.Skip("moves 1 GiB; -short skips it")
	}
	gibFile.once.Do(func() {
		dir, err := os.MkdirTemp("", "synack-gib-")
		if err != nil {
			gibFile.err = err
			return
		}
		f, err := os.Create(filepath.Join(dir, "gib.bin"))
		if err != nil {
			os.RemoveAll(dir)
			gibFile.err = err
			return
		}
		h := sha256.New()
		for i := range gibSize / (16 << 20) {
			piece := seeded(uint64(100+i), 16<<20)
			h.Write(piece)
			if _, err := f.Write(piece); err != nil {
				gibFile.err = err
				break
			}
		}
		if err := f.Close(); gibFile.err == nil {
			gibFile.err = err
		}
		gibFile.dir, gibFile.sum = dir, [sha256.Size]byte(h.Sum(nil))
	})
	if gibFile.err != nil {
		t.Fatal(gibFile.err)
	}
	return gibFile.dir, gibFile.sum
}

// offloadCases are the link flags of the gigabyte transfers: offloads on
// (IPv4 and IPv6) and off (IPv4).
var offloadCases = []struct {
	name, syn, host, flag, note string
}{
	{"offload/IPv4", synAddr4, hostAddr4, "--offload=true", "offloads csum,tso4,tso6"},
	{"offload/IPv6", synAddr6, hostAddr6, "--offload=true", "offloads csum,tso4,tso6"},
	{"plain/IPv4", synAddr4, hostAddr4, "--offload=false", "no offloads"},
}

// TestCurlGiB: the kernel's curl fetches 1 GiB from `synack serve --http`;
// the bytes hash the same, and serve says which offloads it uses.
func TestCurlGiB(t *testing.T) {
	t.Parallel()
	needTool(t, "curl", "curl")
	dir, want := gib(t)
	for _, tc := range offloadCases {
		t.Run(tc.name, func(t *testing.T) {
			ns := netns.New(t)
			srv := startServe(t, ns, "--http", dir, tc.flag)
			if l := srv.log.String(); !strings.Contains(l, tc.note) {
				t.Fatalf("serve does not say %q: %s", tc.note, l)
			}
			sum, n := curl(t, ns, "http://"+urlHost(tc.syn)+"/gib.bin")
			if n != gibSize || sum != want {
				t.Fatalf("got %d bytes with SHA-256 %x, want %d bytes with %x", n, sum, gibSize, want)
			}
		})
	}
}

// TestGetGiB: `synack get` fetches 1 GiB from a Go net/http server on the
// kernel's sockets; the bytes hash the same.
func TestGetGiB(t *testing.T) {
	t.Parallel()
	dir, want := gib(t)
	for _, tc := range offloadCases {
		t.Run(tc.name, func(t *testing.T) {
			ns := netns.New(t)
			kernelHTTP(t, ns, dir)
			hw, summary := runGetIn(t, ns, fmt.Sprintf("http://%s:8080/gib.bin", urlHost(tc.host)), tc.flag)
			if hw.n != gibSize || hw.sum() != want {
				t.Fatalf("got %d bytes with SHA-256 %x, want %d bytes with %x", hw.n, hw.sum(), gibSize, want)
			}
			if !strings.Contains(summary, tc.note) {
				t.Fatalf("summary %q does not say %q", summary, tc.note)
			}
		})
	}
}

// TestCurlQueues: `synack serve --queues 2` on a multi-queue device serves
// four curls at once; the kernel steers each flow to a queue, each queue
// has its reader, and every download hashes the same.
func TestCurlQueues(t *testing.T) {
	t.Parallel()
	needTool(t, "curl", "curl")
	ns := netns.New(t)
	dir, want := big(t)
	srv := startServe(t, ns, "--http", dir, "--queues", "2")
	if l := srv.log.String(); !strings.Contains(l, "2 queues") {
		t.Fatalf("serve does not say it has 2 queues: %s", l)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hw := newHashWriter()
			cmd := ns.Command("curl", "--silent", "--show-error", "--fail", "--max-time", "300", "--output", "-",
				"http://"+synAddr4+"/big.bin")
			var stderr strings.Builder
			cmd.Stdout, cmd.Stderr = hw, &stderr
			if err := cmd.Run(); err != nil {
				t.Errorf("curl: %v: %s", err, stderr.String())
				return
			}
			if hw.n != bigSize || hw.sum() != want {
				t.Errorf("got %d bytes with SHA-256 %x", hw.n, hw.sum())
			}
		}()
	}
	wg.Wait()
}
