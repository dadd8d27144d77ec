//go:build linux

package socks5

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/synack-go/synack/internal/dante"
	"github.com/synack-go/synack/internal/netns"
)

// TestDante runs the client against a real SOCKS5 server, Dante, inside a
// namespace: CONNECT with a half-close both ways, a refused CONNECT, and
// UDP ASSOCIATE.
func TestDante(t *testing.T) {
	ns := netns.New(t)
	dante.Start(t, ns, "127.0.0.1")
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
