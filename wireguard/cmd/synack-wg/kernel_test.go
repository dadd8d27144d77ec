package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/synack-go/synack/internal/netns"
	"github.com/synack-go/synack/wireguard/internal/dnstest"
	"github.com/synack-go/synack/wireguard/wgconf"
)

// The addresses of the kernel test: the veth joining the namespaces
// carries WireGuard's UDP; the tunnel runs inside it.
const (
	underlayA = "192.168.77.1"
	underlayB = "192.168.77.2"
	tunnelA   = "10.77.0.1"
	tunnelB   = "10.77.0.2"
	wgPortA   = "51820"
	bigSize   = 64 << 20
)

// buildBinaries builds wireguard-go (from the module this one requires)
// and synack-wg into dir.
func buildBinaries(t *testing.T, dir string) (wgGo, synackWG string) {
	t.Helper()
	wgGo, synackWG = filepath.Join(dir, "wireguard-go"), filepath.Join(dir, "synack-wg")
	for _, b := range []struct{ out, pkg string }{{wgGo, "golang.zx2c4.com/wireguard"}, {synackWG, "."}} {
		if out, err := exec.Command("go", "build", "-o", b.out, b.pkg).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", b.pkg, err, out)
		}
	}
	return wgGo, synackWG
}

// startProcess starts cmd with its output in a buffer, and stops it (by
// its pid, SIGTERM then SIGKILL) when the test ends.
func startProcess(t *testing.T, cmd *exec.Cmd) *syncBuffer {
	t.Helper()
	out := newSyncBuffer()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", cmd.Path, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("output of %s:\n%s", strings.Join(cmd.Args, " "), out.String())
		}
	})
	return out
}

// writeKey writes k in base64 to a file for `wg set ... private-key`.
func writeKey(t *testing.T, dir string, k wgconf.Key) string {
	path := filepath.Join(dir, "key-"+k.PublicKey().Hex()[:8])
	if err := os.WriteFile(path, []byte(k.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestKernelPeer is WireGuard between wireguard-go on a kernel TUN device
// in namespace A, configured with wg(8), and synack-wg in namespace B, a
// veth joining them. Through the tunnel: the kernel's curl downloads 64 MiB
// from synack-wg's HTTP server; synack-wg fetches 64 MiB from a kernel
// HTTP server in A, by a name its DNS server in A resolves; the kernel
// pings synack; and after synack-wg's key is rotated (SIGHUP) and A is
// told the new public key, a new handshake carries traffic again.
func TestKernelPeer(t *testing.T) {
	if err := netns.Available(); err != nil {
		t.Skip(err)
	}
	for _, tool := range []string{"wg", "curl", "ping"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (Debian packages wireguard-tools, curl, iputils-ping)", tool)
		}
	}
	if testing.Short() {
		t.Skip("moves 128 MiB through two WireGuard implementations: not with -short")
	}
	dir := t.TempDir()
	wgGo, synackWG := buildBinaries(t, dir)
	nsA, nsB := netns.New(t), netns.New(t)
	veth := fmt.Sprintf("wgv%d", os.Getpid()%100000)
	if err := nsA.IP("link", "add", veth+"a", "type", "veth", "peer", "name", veth+"b", "netns", nsB.Name()); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		ns   *netns.NS
		args []string
	}{
		{nsA, []string{"addr", "add", underlayA + "/24", "dev", veth + "a"}},
		{nsA, []string{"link", "set", veth + "a", "up"}},
		{nsB, []string{"addr", "add", underlayB + "/24", "dev", veth + "b"}},
		{nsB, []string{"link", "set", veth + "b", "up"}},
	} {
		if err := step.ns.IP(step.args...); err != nil {
			t.Fatal(err)
		}
	}

	// A: wireguard-go on a kernel TUN device, configured with wg.
	keyA, _ := wgconf.GenerateKey()
	keyB, _ := wgconf.GenerateKey()
	wgIf := fmt.Sprintf("wgs%d", os.Getpid()%100000)
	wgCmd := nsA.Command(wgGo, "-f", wgIf)
	wgCmd.Env = append(os.Environ(), "LOG_LEVEL=verbose")
	startProcess(t, wgCmd).waitFor(t, "UAPI listener started")
	if _, err := nsA.Run("wg", "set", wgIf, "private-key", writeKey(t, dir, keyA), "listen-port", wgPortA,
		"peer", keyB.PublicKey().String(), "allowed-ips", tunnelB+"/32"); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"addr", "add", tunnelA + "/24", "dev", wgIf},
		{"link", "set", wgIf, "up"},
	} {
		if err := nsA.IP(args...); err != nil {
			t.Fatal(err)
		}
	}

	// A: a DNS server and a kernel HTTP server on the tunnel address.
	big := make([]byte, bigSize)
	r := rand.NewChaCha8([32]byte{7})
	r.Read(big)
	bigSum := sha256.Sum256(big)
	www := filepath.Join(dir, "www")
	os.Mkdir(www, 0o755)
	if err := os.WriteFile(filepath.Join(www, "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	dns := &dnstest.Server{Records: map[string][]netip.Addr{"kernel-a.test": {netip.MustParseAddr(tunnelA)}}}
	var httpLn, dnsLn net.Listener
	var dnsPC net.PacketConn
	err := nsA.Do(func() error {
		var err error
		if httpLn, err = net.Listen("tcp", tunnelA+":8080"); err != nil {
			return err
		}
		if dnsLn, err = net.Listen("tcp", tunnelA+":53"); err != nil {
			return err
		}
		dnsPC, err = net.ListenPacket("udp", tunnelA+":53")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "big.bin", time.Time{}, bytes.NewReader(big))
	})}
	go srv.Serve(httpLn)
	go dns.ServeTCP(dnsLn)
	go dns.ServeUDP(dnsPC)
	t.Cleanup(func() { srv.Close(); dnsLn.Close(); dnsPC.Close() })

	// B: synack-wg serving www and fetching big.bin from A by name.
	cfgPath := filepath.Join(dir, "b.conf")
	writeB := func(k wgconf.Key) {
		cfg := fmt.Sprintf("[Interface]\nPrivateKey = %s\nAddress = %s/24\nDNS = %s\nMTU = 1420\n\n"+
			"[Peer]\nPublicKey = %s\nAllowedIPs = 10.77.0.0/24\nEndpoint = %s:%s\nPersistentKeepalive = 25\n",
			k, tunnelB, tunnelA, keyA.PublicKey(), underlayA, wgPortA)
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeB(keyB)
	fetched := filepath.Join(dir, "fetched.bin")
	cmd := nsB.Command(synackWG, "-c", cfgPath, "--http", www, "--get", "http://kernel-a.test:8080/big.bin", "-o", fetched)
	logB := startProcess(t, cmd)
	logB.waitFor(t, "serving http")

	t.Run("curl from the kernel", func(t *testing.T) {
		out := filepath.Join(dir, "curled.bin")
		if msg, err := nsA.Run("curl", "-sS", "--max-time", "120", "-o", out, "http://"+tunnelB+"/big.bin"); err != nil {
			t.Fatalf("%v: %s", err, msg)
		}
		got, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != bigSize || sha256.Sum256(got) != bigSum {
			t.Fatalf("curl got %d bytes, SHA-256 %x; want %d, %x", len(got), sha256.Sum256(got), bigSize, bigSum)
		}
		// synack-wg's log line for the connection counts the body and the
		// headers.
		logB.waitFor(t, "conn "+tunnelA+":")
		sent := false
		for _, m := range regexp.MustCompile(`out=(\d+)`).FindAllStringSubmatch(logB.String(), -1) {
			if n, _ := strconv.Atoi(m[1]); n > bigSize {
				sent = true
			}
		}
		if !sent {
			t.Errorf("no connection in synack-wg's log sent the body:\n%s", logB.String())
		}
	})

	t.Run("synack-wg fetches from the kernel", func(t *testing.T) {
		logB.waitFor(t, "get http://kernel-a.test:8080/big.bin: ")
		if want := fmt.Sprintf("%d bytes in", bigSize); !strings.Contains(logB.String(), want) {
			t.Fatalf("synack-wg's log lacks %q", want)
		}
		got, err := os.ReadFile(fetched)
		if err != nil {
			t.Fatal(err)
		}
		if sha256.Sum256(got) != bigSum {
			t.Fatalf("synack-wg fetched %d bytes with another SHA-256", len(got))
		}
		if dns.UDPQueries.Load() == 0 {
			t.Error("the DNS server in A was never asked over UDP")
		}
	})

	t.Run("ping from the kernel", func(t *testing.T) {
		out, err := nsA.Run("ping", "-c", "3", "-i", "0.2", "-W", "5", tunnelB)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "3 received") {
			t.Errorf("ping: %s", out)
		}
	})

	t.Run("handshake after a key rotation", func(t *testing.T) {
		keyB2, _ := wgconf.GenerateKey()
		if _, err := nsA.Run("wg", "set", wgIf, "peer", keyB.PublicKey().String(), "remove",
			"peer", keyB2.PublicKey().String(), "allowed-ips", tunnelB+"/32"); err != nil {
			t.Fatal(err)
		}
		writeB(keyB2)
		cmd.Process.Signal(syscall.SIGHUP)
		logB.waitFor(t, "reloaded")
		if msg, err := nsA.Run("curl", "-sS", "--max-time", "60", "-o", "/dev/null", "-r", "0-1048575", "http://"+tunnelB+"/big.bin"); err != nil {
			t.Fatalf("curl after the rotation: %v: %s", err, msg)
		}
		out, err := nsA.Run("wg", "show", wgIf, "latest-handshakes")
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(regexp.QuoteMeta(keyB2.PublicKey().String()) + `\s+(\d+)`).FindStringSubmatch(out)
		if m == nil || m[1] == "0" {
			t.Errorf("no handshake with the new key: %q", out)
		}
	})
}
