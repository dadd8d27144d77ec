package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/synack-go/synack/internal/netns"
)

// TestCurlDownload: the kernel's curl fetches 64 MiB from `synack serve
// --http` over IPv4 and over IPv6, and the bytes hash the same.
func TestCurlDownload(t *testing.T) {
	t.Parallel()
	needTool(t, "curl", "curl")
	ns := netns.New(t)
	dir, want := big(t)
	srv := startServe(t, ns, "--http", dir)
	families(t, func(t *testing.T, syn, _ string) {
		sum, n := curl(t, ns, "http://"+urlHost(syn)+"/big.bin")
		if n != bigSize || sum != want {
			t.Fatalf("got %d bytes with SHA-256 %x, want %d bytes with %x", n, sum, bigSize, want)
		}
	})
	srv.log.waitFor(t, "two connection lines", srv.done, func(l string) bool {
		return strings.Count(srv.log.String(), " conn ") == 2
	})
}

// TestCurlDownloadImpaired: the same download through `serve --impair
// 'loss=2%,delay=5ms'`, which loses 2% of the packets each way and delays
// each by 5 ms. synack's loss-based congestion control (NewReno) makes this
// the slowest test, over a minute (the Mathis bound at 2% loss and a 10 ms
// RTT is about 9 Mbit/s); like every test here it runs in parallel with the
// others. -short fetches the first 8 MiB only.
func TestCurlDownloadImpaired(t *testing.T) {
	t.Parallel()
	needTool(t, "curl", "curl")
	ns := netns.New(t)
	dir, want := big(t)
	srv := startServe(t, ns, "--http", dir, "--impair", "loss=2%,delay=5ms,seed=1")
	args := []string{"--silent", "--show-error", "--fail", "--max-time", "600", "--output", "-"}
	size := int64(bigSize)
	if testing.Short() {
		args = append(args, "--range", fmt.Sprintf("0-%d", headSize-1))
		size, want = headSize, bigFile.head
	}
	hw := newHashWriter()
	cmd := ns.Command("curl", append(args, "http://"+synAddr4+"/big.bin")...)
	cmd.Stdout = hw
	out := newLogBuffer()
	cmd.Stderr = out
	if err := cmd.Run(); err != nil {
		t.Fatalf("curl: %v: %s", err, out)
	}
	if hw.n != size || hw.sum() != want {
		t.Fatalf("got %d bytes with SHA-256 %x, want %d bytes with %x", hw.n, hw.sum(), size, want)
	}
	line := srv.log.waitFor(t, "the connection line", srv.done, func(l string) bool { return strings.Contains(l, " conn ") })
	if strings.Contains(line, "retrans=0") {
		t.Errorf("no retransmission through 2%% loss: %s", line)
	}
	t.Log(line)
}

// addShapedDevice makes the TUN device ahead of serve or get, persistent,
// with the kernel's tbf qdisc limiting what the kernel sends into it to
// 100 Mbit/s; serve and get then attach to it.
func addShapedDevice(t *testing.T, ns *netns.NS) {
	t.Helper()
	needTool(t, "tc", "iproute2")
	if _, err := ns.Run("ip", "tuntap", "add", "dev", devName, "mode", "tun"); err != nil {
		t.Fatal(err)
	}
	if _, err := ns.Run("tc", "qdisc", "add", "dev", devName, "root", "tbf",
		"rate", "100mbit", "burst", "32kbit", "latency", "400ms"); err != nil {
		t.Fatal(err)
	}
}

// tbfStats returns what tc says of the device's root qdisc.
func tbfStats(t *testing.T, ns *netns.NS) string {
	out, err := ns.Run("tc", "-s", "qdisc", "show", "dev", devName)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(strings.Fields(out), " ")
}

// TestCurlDownloadTBF: the download with the kernel's tbf qdisc on the
// device. A root qdisc shapes what the kernel sends, here curl's ACKs:
// synack's data arrives unshaped, and its sending must cope with an ACK
// stream paced by a token bucket.
func TestCurlDownloadTBF(t *testing.T) {
	t.Parallel()
	needTool(t, "curl", "curl")
	ns := netns.New(t)
	addShapedDevice(t, ns)
	dir, want := big(t)
	startServe(t, ns, "--http", dir)
	families(t, func(t *testing.T, syn, _ string) {
		sum, n := curl(t, ns, "http://"+urlHost(syn)+"/big.bin")
		if n != bigSize || sum != want {
			t.Fatalf("got %d bytes with SHA-256 %x, want %d bytes with %x", n, sum, bigSize, want)
		}
	})
	if s := tbfStats(t, ns); !strings.Contains(s, "qdisc tbf") {
		t.Fatalf("tbf is gone: %s", s)
	} else {
		t.Log(s)
	}
}

// kernelHTTP serves dir over HTTP from a kernel socket on port 8080 of
// every address in ns, both families.
func kernelHTTP(t *testing.T, ns *netns.NS, dir string) {
	t.Helper()
	ln := kernelListen(t, ns, ":8080")
	srv := &http.Server{Handler: http.FileServer(http.Dir(dir))}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

// runGet runs `synack get` with linkArgs and args inside ns, returning the
// body's hash writer and the summary line.
func runGetIn(t *testing.T, ns *netns.NS, args ...string) (*hashWriter, string) {
	t.Helper()
	hw := newHashWriter()
	log := newLogBuffer()
	err := ns.Do(func() error {
		return get(context.Background(), append(append([]string(nil), linkArgs...), args...), hw, log)
	})
	if err != nil {
		t.Fatalf("get: %v; log:\n%s", err, log)
	}
	summary := strings.TrimSpace(log.String())
	t.Log(summary)
	return hw, summary
}

// TestGetFromKernel: `synack get` fetches 64 MiB from a Go net/http server
// on the kernel's sockets, over IPv4 and IPv6.
func TestGetFromKernel(t *testing.T) {
	t.Parallel()
	families(t, func(t *testing.T, _, host string) {
		ns := netns.New(t)
		dir, want := big(t)
		kernelHTTP(t, ns, dir)
		hw, summary := runGetIn(t, ns, fmt.Sprintf("http://%s:8080/big.bin", urlHost(host)))
		if hw.n != bigSize || hw.sum() != want {
			t.Fatalf("got %d bytes with SHA-256 %x, want %d bytes with %x", hw.n, hw.sum(), bigSize, want)
		}
		if !strings.HasPrefix(summary, fmt.Sprintf("%d bytes in ", bigSize)) || !strings.Contains(summary, "retransmissions") {
			t.Fatalf("summary %q", summary)
		}
	})
}

// TestGetThroughTBF: `synack get` from the kernel's server through the
// kernel's tbf at 100 Mbit/s, which here shapes the data: synack receives
// what a token bucket lets through, written to a file with -o.
func TestGetThroughTBF(t *testing.T) {
	t.Parallel()
	ns := netns.New(t)
	addShapedDevice(t, ns)
	dir, want := big(t)
	kernelHTTP(t, ns, dir)
	out := t.TempDir() + "/got.bin"
	runGetIn(t, ns, "http://"+hostAddr4+":8080/big.bin", "-o", out)
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	hw := newHashWriter()
	hw.Write(data)
	if hw.n != bigSize || hw.sum() != want {
		t.Fatalf("-o file has %d bytes with SHA-256 %x, want %d bytes with %x", hw.n, hw.sum(), bigSize, want)
	}
	t.Log(tbfStats(t, ns))
}

// TestServeProcess runs `synack serve` as a real process inside the
// namespace, fetches a file from it, and stops it with SIGINT: it exits 0,
// and its device is gone.
func TestServeProcess(t *testing.T) {
	t.Parallel()
	needTool(t, "curl", "curl")
	ns := netns.New(t)
	dir, want := big(t)
	cmd := ns.Command(os.Args[0], append([]string{"serve", "--http", dir, "--port", "8080"}, linkArgs...)...)
	cmd.Env = append(os.Environ(), reexecEnv+"=1")
	log := newLogBuffer()
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill() // only if the test failed before SIGINT
		<-exited
	})
	log.waitFor(t, "serve to listen", exited, func(l string) bool { return strings.Contains(l, " serving ") })
	if sum, n := curl(t, ns, "http://"+urlHost(synAddr6)+":8080/big.bin"); n != bigSize || sum != want {
		t.Fatalf("got %d bytes with SHA-256 %x", n, sum)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	<-exited
	if waitErr != nil {
		t.Fatalf("serve exited with %v; log:\n%s", waitErr, log)
	}
	if !strings.Contains(log.String(), "stopped after 1 connection\n") {
		t.Fatalf("log:\n%s", log)
	}
	if _, err := ns.Run("ip", "link", "show", devName); err == nil {
		t.Fatalf("%s outlived serve", devName)
	}
}
