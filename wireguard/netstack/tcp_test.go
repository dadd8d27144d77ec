package netstack

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"testing"
	"time"
)

// TestHTTPOverWireGuard is upstream's two examples in one test: a server
// on one netstack listening with ListenTCP(&net.TCPAddr{Port: 80}), a
// client on the other with http.Transport.DialContext = Net.DialContext,
// both ends behind real wireguard-go devices, over IPv4 and IPv6.
func TestHTTPOverWireGuard(t *testing.T) {
	a, b := newPair(t, wireguard)
	ln, err := b.ListenTCP(&net.TCPAddr{Port: 80})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s from userspace TCP", r.RemoteAddr)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	client := &http.Client{Transport: &http.Transport{DialContext: a.DialContext}, Timeout: 20 * time.Second}
	for _, tc := range []struct{ url, from string }{
		{"http://10.9.0.2/", "10.9.0.1:"},
		{"http://[fd09::2]/", "[fd09::1]:"},
	} {
		resp, err := client.Get(tc.url)
		if err != nil {
			t.Fatalf("GET %s: %v", tc.url, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if want := "hello " + tc.from; !bytes.HasPrefix(body, []byte(want)) {
			t.Errorf("GET %s = %q, want it to start with %q", tc.url, body, want)
		}
	}
}

// TestBulkBothWays sends 8 MiB each way at once over one connection
// through WireGuard and checks every byte's hash.
func TestBulkBothWays(t *testing.T) {
	a, b := newPair(t, wireguard)
	ln, err := b.ListenTCPAddrPort(netip.AddrPortFrom(addrB4, 5001))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const size = 8 << 20
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(rand.Uint32())
	}
	want := sha256.Sum256(data)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	type result struct {
		sum [32]byte
		err error
	}
	// exchange sends data and reads the peer's until its FIN; it
	// returns once both are done, so that the caller's Close cuts
	// nothing.
	exchange := func(c net.Conn, done chan<- result) {
		c.SetDeadline(time.Now().Add(60 * time.Second))
		wrote := make(chan error, 1)
		go func() {
			_, err := c.Write(data)
			if err == nil {
				err = c.(interface{ CloseWrite() error }).CloseWrite()
			}
			wrote <- err
		}()
		h := sha256.New()
		_, err := io.Copy(h, c)
		var r result
		copy(r.sum[:], h.Sum(nil))
		r.err = errors.Join(err, <-wrote)
		done <- r
	}
	server := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			server <- result{err: err}
			return
		}
		defer c.Close()
		exchange(c, server)
	}()
	c, err := a.DialContextTCPAddrPort(ctx, netip.AddrPortFrom(addrB4, 5001))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	client := make(chan result, 1)
	exchange(c, client)
	for _, r := range []result{<-client, <-server} {
		if r.err != nil {
			t.Fatal(r.err)
		}
		if r.sum != want {
			t.Fatal("received bytes differ from those sent")
		}
	}
}

// TestDialErrors checks that errors come as package net's: a closed port
// is ECONNREFUSED, a context deadline is reported as such, a closed
// device is net.ErrClosed.
func TestDialErrors(t *testing.T) {
	a, _ := newPair(t, direct)
	_, err := a.DialTCP(&net.TCPAddr{IP: net.ParseIP("10.9.0.2"), Port: 9})
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial to a closed port: %v, want ECONNREFUSED", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	// 10.9.0.3 is nobody: the SYN goes out and nothing answers.
	_, err = a.DialContext(ctx, "tcp", "10.9.0.3:80")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("dial to nobody with a deadline: %v, want context.DeadlineExceeded", err)
	}
	if _, err := a.Dial("sctp", "10.9.0.2:80"); err == nil {
		t.Error("dial on sctp succeeded")
	}
	if _, err := a.Dial("tcp6", "10.9.0.2:80"); err == nil {
		t.Error("tcp6 dial to an IPv4 address succeeded")
	}
	if _, err := a.Dial("tcp", "10.9.0.2:http"); err == nil {
		t.Error("dial to a named port succeeded")
	}
}

// TestListenTCP covers the listen forms upstream's callers use.
func TestListenTCP(t *testing.T) {
	a, b := newPair(t, direct)
	for _, tc := range []struct {
		addr *net.TCPAddr
		dial string
	}{
		{&net.TCPAddr{Port: 81}, "10.9.0.2:81"},
		{&net.TCPAddr{Port: 82}, "[fd09::2]:82"},
		{&net.TCPAddr{IP: net.ParseIP("10.9.0.2"), Port: 83}, "10.9.0.2:83"},
		{&net.TCPAddr{IP: net.ParseIP("fd09::2"), Port: 84}, "[fd09::2]:84"},
	} {
		ln, err := b.ListenTCP(tc.addr)
		if err != nil {
			t.Fatalf("ListenTCP(%v): %v", tc.addr, err)
		}
		go func() {
			c, err := ln.Accept()
			if err == nil {
				c.Write([]byte("x"))
				c.Close()
			}
		}()
		c, err := a.Dial("tcp", tc.dial)
		if err != nil {
			t.Fatalf("dial %s to a listener on %v: %v", tc.dial, tc.addr, err)
		}
		var one [1]byte
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(c, one[:]); err != nil {
			t.Errorf("read from %s: %v", tc.dial, err)
		}
		c.Close()
		ln.Close()
	}
	if _, err := b.ListenTCP(&net.TCPAddr{IP: net.ParseIP("10.9.0.1"), Port: 80}); !errors.Is(err, syscall.EADDRNOTAVAIL) {
		t.Errorf("listen on the other end's address: %v, want EADDRNOTAVAIL", err)
	}
	ln, err := b.ListenTCP(nil)
	if err != nil {
		t.Fatalf("ListenTCP(nil): %v", err)
	}
	if ap := ln.Addr().(*net.TCPAddr); ap.Port == 0 {
		t.Errorf("ListenTCP(nil) listens on %v: want a port picked", ap)
	}
	ln.Close()
}
