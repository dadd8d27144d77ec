package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"

	"github.com/synack-go/synack/wireguard/internal/dnstest"
	"github.com/synack-go/synack/wireguard/netstack"
	"github.com/synack-go/synack/wireguard/wgconf"
)

// syncBuffer is a bytes.Buffer safe for the logger and the test at once,
// which tells waiters about every write.
type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{} // capacity 1
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{changed: make(chan struct{}, 1)} }

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case s.changed <- struct{}{}:
	default:
	}
	return s.b.Write(p)
}

// waitFor waits until the buffer holds want, failing the test after 20 s.
func (s *syncBuffer) waitFor(t *testing.T, want string) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for !strings.Contains(s.String(), want) {
		select {
		case <-s.changed:
		case <-timeout:
			t.Fatalf("no %q in the log:\n%s", want, s.String())
		}
	}
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// peerA is the other end for these tests: a wireguard-go device with a
// synack netstack (10.9.0.1) on a loopback UDP port, in the test process.
type peerA struct {
	key  wgconf.Key
	port string
	dev  *device.Device
	net  *netstack.Net
}

func newPeerA(t *testing.T) *peerA {
	t.Helper()
	key, err := wgconf.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	tdev, tnet, err := netstack.CreateNetTUN([]netip.Addr{netip.MustParseAddr("10.9.0.1")}, nil, 1420)
	if err != nil {
		t.Fatal(err)
	}
	dev := device.NewDevice(tdev, conn.NewDefaultBind(), device.NewLogger(device.LogLevelSilent, ""))
	t.Cleanup(dev.Close)
	if err := dev.IpcSet(fmt.Sprintf("private_key=%s\nlisten_port=0\n", key.Hex())); err != nil {
		t.Fatal(err)
	}
	if err := dev.Up(); err != nil {
		t.Fatal(err)
	}
	return &peerA{key: key, port: listenPort(dev), dev: dev, net: tnet}
}

// allow makes pub A's only peer, with 10.9.0.2.
func (a *peerA) allow(t *testing.T, pub wgconf.Key) {
	t.Helper()
	if err := a.dev.IpcSet(fmt.Sprintf("replace_peers=true\npublic_key=%s\nallowed_ip=10.9.0.2/32\n", pub.Hex())); err != nil {
		t.Fatal(err)
	}
}

// writeConfig writes synack-wg's configuration (10.9.0.2, A as its peer,
// a keepalive so that A learns its endpoint at once).
func writeConfig(t *testing.T, path string, key wgconf.Key, a *peerA) {
	t.Helper()
	cfg := fmt.Sprintf(`# synack-wg test
[Interface]
PrivateKey = %s
Address = 10.9.0.2/24
DNS = 10.9.0.1, search.example
MTU = 1420
PostUp = ignored by synack-wg

[Peer]
PublicKey = %s
AllowedIPs = 10.9.0.0/24
Endpoint = 127.0.0.1:%s
PersistentKeepalive = 1
`, key, a.key.PublicKey(), a.port)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

// echoOnce dials synack-wg's echo service from A and checks one echo.
func echoOnce(t *testing.T, a *peerA, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := a.net.DialContext(ctx, "tcp", "10.9.0.2:7")
	if err != nil {
		t.Fatalf("dial synack-wg's echo service: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
		t.Fatalf("echo: %q, %v", got, err)
	}
}

// TestEchoAndRotation runs synack-wg --echo against a peer in the test,
// then rotates synack-wg's key with SIGHUP and a new configuration: the
// peer, told the new public key, reaches it again through a new
// handshake. Each connection gets its log line.
func TestEchoAndRotation(t *testing.T) {
	a := newPeerA(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "wg.conf")
	keyB, _ := wgconf.GenerateKey()
	writeConfig(t, cfgPath, keyB, a)
	a.allow(t, keyB.PublicKey())

	ctx, cancel := context.WithCancel(context.Background())
	hup := make(chan os.Signal, 1)
	stderr := newSyncBuffer()
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-c", cfgPath, "--echo"}, hup, io.Discard, stderr) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("synack-wg: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("synack-wg did not stop")
		}
	}()

	stderr.waitFor(t, "serving echo")
	echoOnce(t, a, "before the rotation")
	stderr.waitFor(t, "in=19 out=19")

	keyB2, _ := wgconf.GenerateKey()
	writeConfig(t, cfgPath, keyB2, a)
	a.allow(t, keyB2.PublicKey())
	hup <- syscall.SIGHUP
	stderr.waitFor(t, "reloaded")
	echoOnce(t, a, "after the rotation")
	stderr.waitFor(t, "in=18 out=18")

	log := stderr.String()
	for _, want := range []string{
		"wireguard up: public key " + keyB.PublicKey().String(),
		"serving echo on [10.9.0.2] port 7",
		"reloaded " + cfgPath + ": public key " + keyB2.PublicKey().String(),
		"conn 10.9.0.1:",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

// TestGet fetches a file from an HTTP server on the peer through the
// tunnel, resolving the server's name with the DNS server the
// configuration names, over UDP through the tunnel.
func TestGet(t *testing.T) {
	a := newPeerA(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "wg.conf")
	keyB, _ := wgconf.GenerateKey()
	writeConfig(t, cfgPath, keyB, a)
	a.allow(t, keyB.PublicKey())

	body := bytes.Repeat([]byte("synack over wireguard "), 50000)
	ln, err := a.net.ListenTCP(&net.TCPAddr{Port: 8080})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) })}
	go srv.Serve(ln)
	defer srv.Close()
	dnsLn, err := a.net.ListenTCP(&net.TCPAddr{Port: 53})
	if err != nil {
		t.Fatal(err)
	}
	defer dnsLn.Close()
	dnsPC, err := a.net.ListenUDP(&net.UDPAddr{Port: 53})
	if err != nil {
		t.Fatal(err)
	}
	defer dnsPC.Close()
	dns := &dnstest.Server{Records: map[string][]netip.Addr{"peer-a.test": {netip.MustParseAddr("10.9.0.1")}}}
	go dns.ServeTCP(dnsLn)
	go dns.ServeUDP(dnsPC)

	out := filepath.Join(dir, "body")
	stderr := newSyncBuffer()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err = run(ctx, []string{"-c", cfgPath, "--get", "http://peer-a.test:8080/file", "-o", out}, nil, io.Discard, stderr)
	if err != nil {
		t.Fatalf("synack-wg --get: %v\n%s", err, stderr.String())
	}
	got, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("fetched %d bytes (%v), want the %d served", len(got), err, len(body))
	}
	if want := fmt.Sprintf("%d bytes in", len(body)); !strings.Contains(stderr.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, stderr.String())
	}
	if want := fmt.Sprintf("sha256 %x", sha256.Sum256(body)); !strings.Contains(stderr.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, stderr.String())
	}
	if dns.UDPQueries.Load() == 0 {
		t.Error("the name was not resolved over UDP")
	}
}

func TestArgs(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-c", "x.conf"},
		{"-c", "x.conf", "--http", "/nonexistent", "--echo"},
		{"-c", "x.conf", "--echo", "--port", "70000"},
		{"-c", "x.conf", "--echo", "extra"},
	} {
		if _, err := parseArgs(args, io.Discard); err == nil {
			t.Errorf("parseArgs(%q) succeeded", args)
		}
	}
	err := run(context.Background(), []string{"-c", filepath.Join(t.TempDir(), "none.conf"), "--echo"}, nil, io.Discard, io.Discard)
	if err == nil {
		t.Error("a missing configuration file did not fail")
	}
}
