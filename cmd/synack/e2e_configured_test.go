package main

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/synack-go/synack/internal/netns"
)

// TestConfiguredDevice: --configured uses a TUN device that exists and is
// configured already, as `ip tuntap add NAME mode tun user USER` makes one
// for a user without root: it sets no address, no MTU and no link state.
// The kernel reaches the synack server through it.
func TestConfiguredDevice(t *testing.T) {
	ns := netns.New(t)
	for _, args := range [][]string{
		{"ip", "tuntap", "add", devName, "mode", "tun", "user", "65534"},
		{"ip", "addr", "add", hostAddr4 + "/24", "dev", devName},
		{"ip", "link", "set", devName, "up"},
	} {
		if _, err := ns.Run(args[0], args[1:]...); err != nil {
			t.Fatal(err)
		}
	}
	var f tunFlags
	f.dev, f.configured = devName, true
	f.addrs.Set(synAddr4 + "/24")
	var st *tunStack
	if err := ns.Do(func() (err error) { st, err = openTunStack(&f, "test", nil); return err }); err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ln := synListen(t, st, ":7")
	go func() {
		if c, err := ln.Accept(); err == nil {
			io.Copy(c, c)
			c.Close()
		}
	}()
	var c net.Conn
	if err := ns.Do(func() (err error) { c, err = net.DialTimeout("tcp4", synAddr4+":7", 10*time.Second); return err }); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte("through a device I did not configure"))
	c.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "through a device I did not configure" {
		t.Fatalf("echo %q, %v", got, err)
	}
	// The device is still the one made above: synack did not change it.
	if out, err := ns.Run("ip", "addr", "show", devName); err != nil || !strings.Contains(out, hostAddr4+"/24") {
		t.Errorf("device changed: %s %v", out, err)
	}
}
