package socks5

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"
)

// testServer is a tiny SOCKS5 server on loopback, written for these tests
// from RFC 1928 and RFC 1929: CONNECT (or a refusal with a chosen reply
// code) and UDP ASSOCIATE.
type testServer struct {
	t          *testing.T
	ln         net.Listener
	user, pass string
	refuse     byte // CONNECT answers this reply code when not 0
	anyBound   bool // UDP ASSOCIATE answers 0.0.0.0 as the relay's address
	fragFirst  bool // the relay sends a FRAG=1 datagram before each real one
	assocs     chan net.Conn
}

func newTestServer(t *testing.T) *testServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{t: t, ln: ln, assocs: make(chan net.Conn, 4)}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *testServer) dialer() *Dialer {
	return &Dialer{Server: s.ln.Addr().String(), Timeout: 5 * time.Second}
}

func (s *testServer) serve(c net.Conn) {
	defer c.Close()
	var h [2]byte
	if _, err := io.ReadFull(c, h[:]); err != nil || h[0] != 5 {
		return
	}
	methods := make([]byte, h[1])
	if _, err := io.ReadFull(c, methods); err != nil {
		return
	}
	if s.user != "" {
		if !bytes.Contains(methods, []byte{2}) {
			c.Write([]byte{5, 0xff})
			return
		}
		c.Write([]byte{5, 2})
		var v [2]byte
		io.ReadFull(c, v[:])
		user := make([]byte, v[1])
		io.ReadFull(c, user)
		io.ReadFull(c, v[:1])
		pass := make([]byte, v[0])
		io.ReadFull(c, pass)
		if string(user) != s.user || string(pass) != s.pass {
			c.Write([]byte{1, 1})
			return
		}
		c.Write([]byte{1, 0})
	} else {
		c.Write([]byte{5, 0})
	}
	var req [4]byte
	if _, err := io.ReadFull(c, req[:]); err != nil {
		return
	}
	dst, err := readAddr(c, req[3])
	if err != nil {
		return
	}
	reply := func(code byte, bound netip.AddrPort) {
		c.Write(appendAddrPort([]byte{5, code, 0}, bound))
	}
	switch req[1] {
	case cmdConnect:
		if s.refuse != 0 {
			reply(s.refuse, netip.AddrPortFrom(netip.IPv4Unspecified(), 0))
			return
		}
		out, err := net.Dial("tcp", dst.String())
		if err != nil {
			reply(5, netip.AddrPortFrom(netip.IPv4Unspecified(), 0))
			return
		}
		defer out.Close()
		reply(0, out.LocalAddr().(*net.TCPAddr).AddrPort())
		done := make(chan struct{})
		go func() {
			io.Copy(out, c)
			out.(*net.TCPConn).CloseWrite()
			close(done)
		}()
		io.Copy(c, out)
		c.(*net.TCPConn).CloseWrite()
		<-done
	case cmdUDPAssociate:
		// On every address, so that it reaches IPv6 destinations too.
		relay, err := net.ListenUDP("udp", nil)
		if err != nil {
			return
		}
		defer relay.Close()
		bound := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), relay.LocalAddr().(*net.UDPAddr).AddrPort().Port())
		if s.anyBound {
			bound = netip.AddrPortFrom(netip.IPv4Unspecified(), bound.Port())
		}
		reply(0, bound)
		s.assocs <- c
		go s.relay(relay, dst)
		io.Copy(io.Discard, c) // the association lives as long as this connection
	}
}

// relay forwards between the client at client and everyone else.
func (s *testServer) relay(pc *net.UDPConn, client netip.AddrPort) {
	buf := make([]byte, 65536)
	for {
		n, from, err := pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		if from == client {
			dst, data, err := parseDatagram(buf[:n])
			if err != nil {
				continue
			}
			pc.WriteToUDPAddrPort(data, dst)
			continue
		}
		if s.fragFirst {
			pc.WriteToUDPAddrPort(append(appendAddrPort([]byte{0, 0, 1}, from), "fragment"...), client)
		}
		pc.WriteToUDPAddrPort(append(appendAddrPort([]byte{0, 0, 0}, from), buf[:n]...), client)
	}
}

// echoTCP returns the address of a TCP echo server that half-closes after
// the client does.
func echoTCP(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
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
	return ln.Addr().String()
}

// echoUDP returns the address of a UDP echo server.
func echoUDP(t *testing.T, network, addr string) netip.AddrPort {
	pc, err := net.ListenPacket(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:n], from)
		}
	}()
	return pc.LocalAddr().(*net.UDPAddr).AddrPort()
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// checkEcho writes through c, half-closes, and reads the echo to EOF: the
// half-close crosses the proxy both ways.
func checkEcho(t *testing.T, c net.Conn) {
	t.Helper()
	msg := bytes.Repeat([]byte("through the proxy "), 1000)
	go func() {
		c.Write(msg)
		c.(interface{ CloseWrite() error }).CloseWrite()
	}()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("echo: %d bytes, %v", len(got), err)
	}
}

func TestConnect(t *testing.T) {
	s := newTestServer(t)
	c, err := s.dialer().DialContext(ctx(t), "tcp", echoTCP(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	checkEcho(t, c)
}

func TestConnectUserPass(t *testing.T) {
	s := newTestServer(t)
	s.user, s.pass = "alice", "secret"
	d := s.dialer()
	if _, err := d.DialContext(ctx(t), "tcp", echoTCP(t)); !errors.Is(err, ErrAuth) {
		t.Fatalf("no credentials: %v, want ErrAuth", err)
	}
	d.Username, d.Password = "alice", "wrong"
	if _, err := d.DialContext(ctx(t), "tcp", echoTCP(t)); !errors.Is(err, ErrAuth) {
		t.Fatalf("wrong password: %v, want ErrAuth", err)
	}
	d.Password = "secret"
	c, err := d.DialContext(ctx(t), "tcp", echoTCP(t))
	if err != nil {
		t.Fatal(err)
	}
	checkEcho(t, c)
	c.Close()
}

// TestConnectRefusals: each reply code becomes the errno a direct
// connection would have given.
func TestConnectRefusals(t *testing.T) {
	s := newTestServer(t)
	for code, want := range map[byte]error{
		2: syscall.EACCES, 3: syscall.ENETUNREACH, 4: syscall.EHOSTUNREACH, 5: syscall.ECONNREFUSED,
		6: syscall.ETIMEDOUT, 7: syscall.EOPNOTSUPP, 8: syscall.EAFNOSUPPORT,
	} {
		s.refuse = code
		_, err := s.dialer().DialContext(ctx(t), "tcp", "192.0.2.1:80")
		var re *ReplyError
		var oe *net.OpError
		if !errors.Is(err, want) || !errors.As(err, &re) || re.Code != code || !errors.As(err, &oe) || oe.Op != "dial" {
			t.Errorf("reply %d: %v, want %v", code, err, want)
		}
	}
	s.refuse = 1
	if _, err := s.dialer().DialContext(ctx(t), "tcp", "192.0.2.1:80"); err == nil || errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("general failure: %v", err)
	}
}

func TestConnectErrors(t *testing.T) {
	if _, err := (&Dialer{Server: "127.0.0.1:1"}).DialContext(ctx(t), "tcp", "192.0.2.1:80"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("no server: %v", err)
	}
	if _, err := (&Dialer{Server: "127.0.0.1:1"}).DialContext(ctx(t), "udp", "192.0.2.1:80"); err == nil {
		t.Error("CONNECT for udp")
	}
	// A server that says nothing: the context ends the handshake.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			defer c.Close()
			io.Copy(io.Discard, c)
		}
	}()
	c, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := (&Dialer{Server: ln.Addr().String()}).DialContext(c, "tcp", "192.0.2.1:80"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("silent server: %v", err)
	}
	// Domain names go to the server as they are.
	b, err := appendAddr(nil, "example.org:443")
	if err != nil || !bytes.Equal(b, append(append([]byte{3, 11}, "example.org"...), 1, 187)) {
		t.Errorf("appendAddr: % x %v", b, err)
	}
}

// TestAssociate relays datagrams in both families' destinations through
// the test server, drops FRAG != 0, and ends with the control connection.
func TestAssociate(t *testing.T) {
	s := newTestServer(t)
	s.anyBound, s.fragFirst = true, true
	u, err := s.dialer().Associate(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if u.Relay().Addr() != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("relay %v", u.Relay())
	}
	dsts := []netip.AddrPort{echoUDP(t, "udp4", "127.0.0.1:0")}
	if ln, err := net.ListenPacket("udp6", "[::1]:0"); err == nil { // IPv6 loopback, if the host has it
		ln.Close()
		dsts = append(dsts, echoUDP(t, "udp6", "[::1]:0"))
	}
	for _, dst := range dsts {
		for i := range 3 {
			msg := bytes.Repeat([]byte{byte(i)}, 100*(i+1))
			if _, err := u.WriteTo(msg, dst); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 2000)
			n, from, err := u.ReadFrom(buf)
			if err != nil || from != dst || !bytes.Equal(buf[:n], msg) {
				t.Fatalf("via %v: %d bytes from %v, %v", dst, n, from, err)
			}
		}
	}
	// The server closes the control connection: the association ends.
	ctrl := <-s.assocs
	ctrl.Close()
	select {
	case <-u.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the association outlived its control connection")
	}
	if _, _, err := u.ReadFrom(make([]byte, 10)); err != io.EOF {
		t.Fatalf("ReadFrom after the end = %v, want io.EOF", err)
	}
}

func TestAssociateClose(t *testing.T) {
	s := newTestServer(t)
	u, err := s.dialer().Associate(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := u.ReadFrom(make([]byte, 10))
		done <- err
	}()
	u.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("ReadFrom after Close = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake a blocked read")
	}
}

func TestParseDatagram(t *testing.T) {
	good := appendAddrPort([]byte{0, 0, 0}, netip.MustParseAddrPort("[2001:db8::1]:53"))
	good = append(good, "data"...)
	if from, data, err := parseDatagram(good); err != nil || from.String() != "[2001:db8::1]:53" || string(data) != "data" {
		t.Fatalf("parse: %v %q %v", from, data, err)
	}
	for _, bad := range [][]byte{nil, {0, 0, 0}, {1, 0, 0, 1}, {0, 0, 0, 1, 1, 2}, {0, 0, 0, 3, 1, 'a', 0, 1}, {0, 0, 0, 9}} {
		if _, _, err := parseDatagram(bad); err == nil {
			t.Errorf("parsed % x", bad)
		}
	}
	frag := append([]byte{0, 0, 1, 1, 10, 0, 0, 1}, binary.BigEndian.AppendUint16(nil, 53)...)
	if _, _, err := parseDatagram(frag); !errors.Is(err, ErrFragmented) {
		t.Fatalf("FRAG 1: %v", err)
	}
}
