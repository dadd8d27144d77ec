package main

// `synack proxy` end to end, as root, all traffic inside three namespaces
// each test makes: the clients' (its default routes lead into the proxy's
// TUN device), the proxy's (the process runs there and dials from there)
// and the server's, behind a veth pair from the proxy's. The clients are
// the kernel's sockets, curl and a UDP resolver-like exchange; the servers
// too. Nothing here reaches another address.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/synack-go/synack/internal/dante"
	"github.com/synack-go/synack/internal/netns"
)

// The proxy's topology: the clients reach the servers' addresses through
// the TUN device; 10.99.0.3 and fd99::3 are on the servers' link but no
// host has them.
const (
	pxTunAddr4, pxTunHost4 = "198.18.0.2/15", "198.18.0.1/15"
	pxTunAddr6, pxTunHost6 = "fd18::2/64", "fd18::1/64"
	pxOut4, pxSrv4         = "10.99.0.1", "10.99.0.2"
	pxOut6, pxSrv6         = "fd99::1", "fd99::2"
	pxNobody4, pxNobody6   = "10.99.0.3", "fd99::3"
)

// proxyNet is a running proxy and its three namespaces.
type proxyNet struct {
	clients, proxy, servers *netns.NS
	log                     *logBuffer // the proxy's stdout and stderr
	cmd                     *exec.Cmd
	exited                  chan struct{}
	waitErr                 error
}

// startProxy makes the namespaces, the servers' link, and runs `synack
// proxy` with args (--direct or --socks5) as a process in the proxy's
// namespace, its TUN device in the clients'; it waits until it proxies and
// routes the clients' traffic into it. Everything goes at the end of the
// test.
func startProxy(t *testing.T, args ...string) *proxyNet {
	t.Helper()
	needTool(t, "ping", "iputils-ping") // settles the servers' link below
	n := &proxyNet{clients: netns.New(t), proxy: netns.New(t), servers: netns.New(t), log: newLogBuffer(), exited: make(chan struct{})}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(n.proxy.IP("link", "add", "pxout", "type", "veth", "peer", "name", "pxsrv", "netns", n.servers.Name()))
	must(n.proxy.IP("addr", "add", pxOut4+"/24", "dev", "pxout"))
	must(n.proxy.IP("addr", "add", pxOut6+"/64", "dev", "pxout", "nodad"))
	must(n.proxy.IP("link", "set", "pxout", "up"))
	must(n.servers.IP("addr", "add", pxSrv4+"/24", "dev", "pxsrv"))
	must(n.servers.IP("addr", "add", pxSrv6+"/64", "dev", "pxsrv", "nodad"))
	must(n.servers.IP("link", "set", "pxsrv", "up"))
	// A fresh veth loses the first IPv6 neighbour solicitation, which a
	// first connection then waits a second for, directly or not: settle
	// the link first.
	for _, a := range []string{pxSrv4, pxSrv6} {
		if out, err := n.proxy.Run("ping", "-c", "1", "-W", "5", a); err != nil {
			t.Fatalf("the servers' link: %v: %s", err, out)
		}
	}
	if proxyHook != nil {
		proxyHook(n.proxy)
	}
	all := append([]string{"proxy", "--tun-netns", n.clients.Name(), "--tun", devName,
		"--addr", pxTunAddr4 + "," + pxTunAddr6, "--host-addr", pxTunHost4 + "," + pxTunHost6}, args...)
	n.cmd = n.proxy.Command(os.Args[0], all...)
	n.cmd.Env = append(os.Environ(), reexecEnv+"=1")
	n.cmd.Stdout, n.cmd.Stderr = n.log, n.log
	must(n.cmd.Start())
	go func() { n.waitErr = n.cmd.Wait(); close(n.exited) }()
	t.Cleanup(func() {
		n.cmd.Process.Kill() // only if the test did not stop it
		<-n.exited
		if t.Failed() {
			t.Logf("proxy log:\n%s", n.log)
		}
	})
	n.log.waitFor(t, "the proxy to start", n.exited, func(l string) bool { return strings.Contains(l, " proxying ") })
	must(n.clients.IP("route", "add", "default", "dev", devName))
	must(n.clients.IP("-6", "route", "add", "default", "dev", devName))
	return n
}

// stop sends SIGTERM and checks the proxy exits 0 with its device gone.
func (n *proxyNet) stop(t *testing.T) {
	t.Helper()
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-n.exited:
	case <-time.After(time.Minute):
		t.Fatal("the proxy did not stop within a minute of SIGTERM")
	}
	if n.waitErr != nil {
		t.Fatalf("proxy exited with %v", n.waitErr)
	}
	if _, err := n.clients.Run("ip", "link", "show", devName); err == nil {
		t.Fatalf("%s outlived the proxy", devName)
	}
}

// serveHTTP serves dir on the servers' :8080 and an echo service on :7.
func (n *proxyNet) serveHTTPAndEcho(t *testing.T, dir string) {
	t.Helper()
	srv := &http.Server{Handler: http.FileServer(http.Dir(dir))}
	go srv.Serve(kernelListen(t, n.servers, ":8080"))
	t.Cleanup(func() { srv.Close() })
	ln := kernelListen(t, n.servers, ":7")
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				io.Copy(c, c)
				c.(*net.TCPConn).CloseWrite()
				c.Close()
			}()
		}
	}()
}

// clientDial connects from the clients' namespace.
func (n *proxyNet) clientDial(addr string) (*net.TCPConn, error) { return kernelDial(n.clients, addr) }

// TestProxyCurl: curl in the clients' namespace downloads 64 MiB from a
// server behind the proxy, over IPv4 and IPv6 (8 MiB with -short), SHA-256
// equal; a port with no listener fails at once with "Connection refused";
// an address no host has fails with "No route to host", as it does
// dialled directly from the proxy's namespace. Then SIGTERM: the proxy
// logs a line per flow and stops.
func TestProxyCurl(t *testing.T) {
	t.Parallel()
	needTool(t, "curl", "curl")
	n := startProxy(t, "--direct")
	dir, want := big(t)
	n.serveHTTPAndEcho(t, dir)
	for _, srv := range []string{pxSrv4, pxSrv6} {
		n.curlBig(t, "http://"+urlHost(srv)+":8080/big.bin", want)
	}
	for _, srv := range []string{pxSrv4, pxSrv6} {
		start := time.Now()
		out, err := n.clients.Run("curl", "--silent", "--verbose", "--max-time", "20", "http://"+urlHost(srv)+":9/")
		if err == nil || !strings.Contains(out, "Connection refused") {
			t.Fatalf("curl to a closed port of %s: %v: %s", srv, err, out)
		}
		if el := time.Since(start); el > 5*time.Second {
			t.Errorf("the refusal took %v: want at once", el)
		}
	}
	for _, dst := range []string{pxNobody4, pxNobody6} {
		url := "http://" + urlHost(dst) + ":80/"
		direct, _ := n.proxy.Run("curl", "--silent", "--verbose", "--max-time", "20", url)
		out, err := n.clients.Run("curl", "--silent", "--verbose", "--max-time", "20", url)
		t.Logf("%s: direct: %s; through the proxy: %s", dst, curlFailure(direct), curlFailure(out))
		if err == nil || !strings.Contains(out, "No route to host") && !strings.Contains(out, "timed out") {
			t.Fatalf("curl to %s: %v: %s", dst, err, out)
		}
	}
	n.stop(t)
	log := n.log.String()
	if strings.Count(log, " refused (RST)") != 2 || strings.Count(log, "unreachable (ICMP host unreachable)") < 2 ||
		!strings.Contains(log, "stopped after") {
		t.Fatalf("log:\n%s", log)
	}
}

// size64k is what each echo client sends.
const size64k = 64 << 10

// curlFailure picks the line of curl's --verbose output that says why it
// failed.
func curlFailure(out string) string {
	for line := range strings.Lines(out) {
		if strings.Contains(line, "connect to") || strings.Contains(line, "timed out") {
			return strings.TrimSpace(line)
		}
	}
	return strings.TrimSpace(out)
}

// curlBig downloads big.bin with curl from the clients' namespace: all of
// it, or with -short its first 8 MiB; it checks the SHA-256.
func (n *proxyNet) curlBig(t *testing.T, url string, want [32]byte) {
	t.Helper()
	args := []string{"--silent", "--show-error", "--fail", "--max-time", "300", "--output", "-", "--write-out", "%{stderr}(connected in %{time_connect} s)"}
	size := int64(bigSize)
	if testing.Short() {
		args, size, want = append(args, "--range", fmt.Sprintf("0-%d", headSize-1)), headSize, bigFile.head
	}
	hw := newHashWriter()
	var stderr bytes.Buffer
	cmd := n.clients.Command("curl", append(args, url)...)
	cmd.Stdout, cmd.Stderr = hw, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("curl %s: %v: %s", url, err, stderr.String())
	}
	el := time.Since(start)
	t.Logf("curl %s through the proxy: %d bytes in %v (%s) %s", url, hw.n, el.Round(time.Millisecond), byteRate(uint64(hw.n), el), stderr.String())
	if hw.n != size || hw.sum() != want {
		t.Fatalf("got %d bytes with SHA-256 %x, want %d bytes", hw.n, hw.sum(), size)
	}
}

// TestProxyManyClients: 1,000 kernel clients at once (100 with -short)
// each send 64 KiB through the proxy to an echo server and read it back
// intact; the proxy logs every flow.
func TestProxyManyClients(t *testing.T) {
	t.Parallel()
	clients := 1000
	if testing.Short() {
		clients = 100
	}
	n := startProxy(t, "--direct")
	n.serveHTTPAndEcho(t, t.TempDir())
	if !echoClients(t, n.clients, hostPort(pxSrv4, 7), clients) {
		return
	}
	n.log.waitFor(t, "every flow's line", n.exited, func(string) bool {
		return strings.Count(n.log.String(), fmt.Sprintf(": up %d B, down %d B,", size64k, size64k)) == clients
	})
	n.stop(t)
}

// TestProxyHalfClose: a half-close crosses the proxy both ways: the client
// shuts its side and still reads the server's answer; the server shuts
// its side and still reads the client's. A reset crosses too. The proxy
// binds its outgoing sockets with --out-interface and --fwmark.
func TestProxyHalfClose(t *testing.T) {
	t.Parallel()
	// The outgoing sockets bound to the servers' link and marked, as
	// --out-interface and --fwmark ask (no rule uses the mark here).
	n := startProxy(t, "--direct", "--out-interface", "pxout", "--fwmark", "7")
	ln := kernelListen(t, n.servers, ":8081")
	type served struct {
		got []byte
		err error
	}
	results := make(chan served, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				tc := c.(*net.TCPConn)
				first := make([]byte, 1)
				if _, err := io.ReadFull(tc, first); err != nil {
					results <- served{err: err}
					return
				}
				switch first[0] {
				case 'c': // the client half-closes: read to EOF, then answer
					rest, err := io.ReadAll(tc)
					tc.Write([]byte("answer after your FIN"))
					results <- served{got: rest, err: err}
				case 's': // the server half-closes first, then reads to EOF
					tc.Write([]byte("my FIN follows"))
					tc.CloseWrite()
					rest, err := io.ReadAll(tc)
					results <- served{got: rest, err: err}
				case 'r': // the client resets: the server's read says so
					_, err := io.ReadAll(tc)
					results <- served{err: err}
				}
			}()
		}
	}()
	for _, srv := range []string{pxSrv4, pxSrv6} {
		c, err := n.clientDial(hostPort(srv, 8081))
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("c: request"))
		c.CloseWrite()
		if got, err := io.ReadAll(c); err != nil || string(got) != "answer after your FIN" {
			t.Fatalf("%s: client read %q, %v", srv, got, err)
		}
		if r := <-results; r.err != nil || string(r.got) != ": request" {
			t.Fatalf("%s: server read %q, %v", srv, r.got, r.err)
		}
		c.Close()

		c, err = n.clientDial(hostPort(srv, 8081))
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("s"))
		buf := make([]byte, 100)
		m, err := io.ReadAtLeast(c, buf, len("my FIN follows"))
		if err != nil || string(buf[:m]) != "my FIN follows" {
			t.Fatalf("%s: client read %q, %v", srv, buf[:m], err)
		}
		if _, err := c.Read(buf); err != io.EOF {
			t.Fatalf("%s: after the server's FIN, client Read = %v, want EOF", srv, err)
		}
		c.Write([]byte("still talking"))
		c.CloseWrite()
		if r := <-results; r.err != nil || string(r.got) != "still talking" {
			t.Fatalf("%s: server read %q, %v", srv, r.got, r.err)
		}
		c.Close()

		c, err = n.clientDial(hostPort(srv, 8081))
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("r"))
		time.Sleep(50 * time.Millisecond) // let "r" cross before the reset overtakes it
		c.SetLinger(0)
		c.Close()
		if r := <-results; !errors.Is(r.err, syscall.ECONNRESET) {
			t.Fatalf("%s: after the client's RST, the server read %v, want ECONNRESET", srv, r.err)
		}
	}
	n.stop(t)
}

// TestProxyUDP: a resolver-like exchange through the proxy, 10,000
// requests one after another (1,000 with -short), each answered, losses
// counted (none expected on these links, a few tolerated); a 4,000-byte
// datagram, fragmented on the way both ways, comes back whole; a closed
// port answers with ICMP port unreachable, which the client's connected
// socket reports as ECONNREFUSED.
func TestProxyUDP(t *testing.T) {
	t.Parallel()
	n := startProxy(t, "--direct")
	n.serveUDP(t)
	for _, srv := range []string{pxSrv4, pxSrv6} {
		n.resolverExchange(t, hostPort(srv, 53))
		n.bigDatagram(t, hostPort(srv, 53))
		n.closedUDPPort(t, hostPort(srv, 9999))
	}
	n.stop(t)
}

// serveUDP answers each datagram to the servers' :53 with "answer:" and
// the request.
func (n *proxyNet) serveUDP(t *testing.T) {
	t.Helper()
	var pc net.PacketConn
	if err := n.servers.Do(func() (err error) {
		pc, err = net.ListenPacket("udp", ":53")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 65536)
		for {
			m, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(append([]byte("answer:"), buf[:m]...), from)
		}
	}()
}

// clientUDP opens a UDP socket in the clients' namespace connected to addr.
func (n *proxyNet) clientUDP(t *testing.T, addr string) *net.UDPConn {
	t.Helper()
	var c net.Conn
	if err := n.clients.Do(func() (err error) {
		c, err = net.Dial("udp", addr)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.UDPConn)
}

func (n *proxyNet) resolverExchange(t *testing.T, addr string) {
	t.Helper()
	requests := 10000
	if testing.Short() {
		requests = 1000
	}
	c := n.clientUDP(t, addr)
	buf := make([]byte, 2048)
	lost := 0
	start := time.Now()
	for i := range requests {
		q := fmt.Appendf(nil, "query %d for example.com IN A", i)
		c.Write(q)
		c.SetReadDeadline(time.Now().Add(time.Second))
		for {
			m, err := c.Read(buf)
			if err != nil {
				lost++
				break
			}
			if string(buf[:m]) == "answer:"+string(q) {
				break
			} // a late answer to an earlier query: read on
		}
	}
	el := time.Since(start)
	t.Logf("%s: %d requests, %d lost, %v (%.0f µs a round trip)", addr, requests, lost, el.Round(time.Millisecond),
		float64(el.Microseconds())/float64(requests))
	if lost > requests/1000 {
		t.Fatalf("%s: %d of %d requests lost", addr, lost, requests)
	}
}

func (n *proxyNet) bigDatagram(t *testing.T, addr string) {
	t.Helper()
	c := n.clientUDP(t, addr)
	q := seeded(7, 4000)
	buf := make([]byte, 8192)
	for try := range 3 {
		c.Write(q)
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		m, err := c.Read(buf)
		if err == nil {
			if !bytes.Equal(buf[:m], append([]byte("answer:"), q...)) {
				t.Fatalf("%s: a %d-byte answer that is not the 4,000-byte request's", addr, m)
			}
			return
		}
		t.Logf("%s: try %d: %v", addr, try, err)
	}
	t.Fatalf("%s: no answer to a 4,000-byte datagram", addr)
}

func (n *proxyNet) closedUDPPort(t *testing.T, addr string) {
	t.Helper()
	c := n.clientUDP(t, addr)
	c.Write([]byte("anyone?"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Read(make([]byte, 100))
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("%s: Read = %v, want ECONNREFUSED from ICMP port unreachable", addr, err)
	}
}

// TestProxySOCKS5: the same download through Dante (danted, started by the
// test in the proxy's namespace): CONNECT for TCP, a refusal carried back
// as a RST, and UDP ASSOCIATE for the resolver-like exchange (IPv4: the
// configuration gives Dante an IPv4 side only).
func TestProxySOCKS5(t *testing.T) {
	t.Parallel()
	needTool(t, "curl", "curl")
	pn := startProxyWith(t, func(p *netns.NS) { dante.Start(t, p, "pxout") }, "--socks5", dante.Addr)
	dir, want := big(t)
	pn.serveHTTPAndEcho(t, dir)
	pn.serveUDP(t)
	pn.curlBig(t, "http://"+pxSrv4+":8080/big.bin", want)
	out, err := pn.clients.Run("curl", "--silent", "--verbose", "--max-time", "20", "http://"+pxSrv4+":9/")
	if err == nil || !strings.Contains(out, "Connection refused") {
		t.Fatalf("curl to a closed port through SOCKS5: %v: %s", err, out)
	}
	pn.resolverExchange(t, hostPort(pxSrv4, 53))
	pn.stop(t)
}

// startProxyWith is startProxy with a hook run in between: after the
// namespaces and the servers' link are made, before the proxy starts.
func startProxyWith(t *testing.T, before func(proxy *netns.NS), args ...string) *proxyNet {
	t.Helper()
	proxyHook = before
	defer func() { proxyHook = nil }()
	return startProxy(t, args...)
}

// proxyHook, when set, runs inside startProxy before the proxy starts.
var proxyHook func(proxy *netns.NS)

// TestProxyShutdown: SIGTERM while a flow is open closes it with a FIN
// each way: the client reads to EOF, not a reset; the proxy exits 0.
func TestProxyShutdown(t *testing.T) {
	t.Parallel()
	n := startProxy(t, "--direct")
	n.serveHTTPAndEcho(t, t.TempDir())
	c, err := n.clientDial(hostPort(pxSrv4, 7))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("ping"))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	go func() { n.stop(t); close(stopped) }()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Read(buf); err != io.EOF {
		t.Fatalf("an open flow at shutdown: Read = %v, want EOF", err)
	}
	<-stopped
	if !strings.Contains(n.log.String(), "closed at shutdown") {
		t.Fatalf("log:\n%s", n.log)
	}
}
