//go:build linux

package socks5

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/synack-go/synack/internal/netns"
)

// danteConf is the smallest configuration of Dante's danted (Debian package
// dante-server) that serves CONNECT and UDP ASSOCIATE without
// authentication on loopback.
const danteConf = `logoutput: stderr
internal: 127.0.0.1 port = 1080
external: 127.0.0.1
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

// startDante runs danted inside ns and waits until it serves; it is killed
// (by its pid) when the test ends.
func startDante(t *testing.T, ns *netns.NS) {
	t.Helper()
	bin, err := exec.LookPath("danted")
	if err != nil {
		t.Skip("needs danted (Debian package dante-server)")
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "danted.conf")
	if err := os.WriteFile(conf, []byte(danteConf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := ns.Command(bin, "-f", conf, "-p", filepath.Join(dir, "danted.pid"))
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
	running := make(chan struct{})
	var log bytes.Buffer
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), " running") {
				close(running)
				for sc.Scan() { // keep the pipe drained
				}
				return
			}
		}
	}()
	select {
	case <-running:
	case <-time.After(10 * time.Second):
		t.Fatalf("danted did not start")
	}
}

// TestDante runs the client against a real SOCKS5 server, Dante, inside a
// namespace: CONNECT with a half-close both ways, a refused CONNECT, and
// UDP ASSOCIATE.
func TestDante(t *testing.T) {
	ns := netns.New(t)
	startDante(t, ns)
	inNS := func(fn func() error) {
		t.Helper()
		if err := ns.Do(fn); err != nil {
			t.Fatal(err)
		}
	}
	d := &Dialer{
		Server: "127.0.0.1:1080",
		DialServer: func(ctx context.Context, network, address string) (c net.Conn, err error) {
			err = ns.Do(func() error {
				var nd net.Dialer
				c, err = nd.DialContext(ctx, network, address)
				return err
			})
			return c, err
		},
		ListenUDP: func(network string, laddr *net.UDPAddr) (c *net.UDPConn, err error) {
			err = ns.Do(func() error {
				c, err = net.ListenUDP(network, laddr)
				return err
			})
			return c, err
		},
	}
	var tcpEcho string
	var udpEcho netip.AddrPort
	inNS(func() error {
		tcpEcho = echoTCP(t)
		udpEcho = echoUDP(t, "udp4", "127.0.0.1:0")
		return nil
	})

	c, err := d.DialContext(ctx(t), "tcp", tcpEcho)
	if err != nil {
		t.Fatal(err)
	}
	checkEcho(t, c)
	c.Close()

	if _, err := d.DialContext(ctx(t), "tcp", "127.0.0.1:9"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("CONNECT to a closed port: %v, want ECONNREFUSED", err)
	}

	u, err := d.Associate(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	for i := range 5 {
		msg := bytes.Repeat([]byte{byte(i)}, 200*(i+1))
		if _, err := u.WriteTo(msg, udpEcho); err != nil {
			t.Fatal(err)
		}
		u.pc.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 2000)
		n, from, err := u.ReadFrom(buf)
		if err != nil || from != udpEcho || !bytes.Equal(buf[:n], msg) {
			t.Fatalf("datagram %d through Dante: %d bytes from %v, %v", i, n, from, err)
		}
	}
}
