package netstack

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/synack-go/synack/wireguard/internal/dnstest"
)

// records are what the test DNS server answers.
var records = map[string][]netip.Addr{
	"both.test": {netip.MustParseAddr("10.9.0.2"), netip.MustParseAddr("fd09::2")},
	"v4.test":   {netip.MustParseAddr("10.9.0.2")},
}

// serveDNS runs a dnstest server on b's port 53, UDP and TCP.
func serveDNS(t *testing.T, b *Net) *dnstest.Server {
	srv := &dnstest.Server{Records: records}
	ln, err := b.ListenTCP(&net.TCPAddr{Port: 53})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go srv.ServeTCP(ln)
	pc, err := b.ListenUDP(&net.UDPAddr{Port: 53})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go srv.ServeUDP(pc)
	return srv
}

// TestLookupHost resolves names through WireGuard against a DNS server
// on the other end, over UDP.
func TestLookupHost(t *testing.T) {
	a, b := newPair(t, wireguard)
	serveDNS(t, b)
	for _, tc := range []struct {
		host string
		want []string
	}{
		{"both.test", []string{"fd09::2", "10.9.0.2"}}, // IPv6 first: A has an IPv6 address
		{"BOTH.test.", []string{"fd09::2", "10.9.0.2"}},
		{"v4.test", []string{"10.9.0.2"}},
		{"192.0.2.7", []string{"192.0.2.7"}},
		{"fe80::1%eth0", []string{"fe80::1"}},
	} {
		got, err := a.LookupHost(tc.host)
		if err != nil {
			t.Errorf("LookupHost(%q): %v", tc.host, err)
			continue
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("LookupHost(%q) = %q, want %q", tc.host, got, tc.want)
		}
	}
	for _, host := range []string{"nx.test", "", "bad..name", "-x.test", "a b"} {
		_, err := a.LookupHost(host)
		var de *net.DNSError
		if !errors.As(err, &de) || !de.IsNotFound {
			t.Errorf("LookupHost(%q): %v, want a *net.DNSError with IsNotFound", host, err)
		}
	}
	// The name resolves through the tunnel for DialContext too.
	ln, err := b.ListenTCP(&net.TCPAddr{Port: 80})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	c, err := a.Dial("tcp4", "both.test:80")
	if err != nil {
		t.Fatalf("Dial tcp4 both.test:80: %v", err)
	}
	if got := c.RemoteAddr().String(); got != "10.9.0.2:80" {
		t.Errorf("tcp4 dial reached %s, want 10.9.0.2:80", got)
	}
	c.Close()
}

// TestLookupHostTimeout: a DNS server that is not there makes a lookup
// with a deadline fail with a timeout, as *net.DNSError.
func TestLookupHostTimeout(t *testing.T) {
	a, _ := newPair(t, direct)
	a.dnsServers = []netip.Addr{netip.MustParseAddr("10.9.0.3")} // nobody
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := a.LookupContextHost(ctx, "both.test")
	var de *net.DNSError
	if !errors.As(err, &de) || !de.IsTimeout {
		t.Errorf("lookup against nobody: %v, want a *net.DNSError with IsTimeout", err)
	}
}

// fakeUDP is a datagramStack whose sockets reach a dnstest server in
// memory, so that the test decides what the UDP answers are.
type fakeUDP struct {
	srv *dnstest.Server
}

func (f fakeUDP) dialUDP(raddr netip.AddrPort) (net.Conn, error) {
	client, server := net.Pipe()
	go func() {
		defer server.Close()
		buf := make([]byte, 1500)
		for {
			n, err := server.Read(buf)
			if err != nil {
				return
			}
			f.srv.ServeUDP(&onePacket{Conn: server, in: buf[:n]})
		}
	}()
	return client, nil
}

// onePacket is a net.PacketConn over a net.Pipe end that hands ServeUDP
// one datagram, then ends it.
type onePacket struct {
	net.Conn
	in   []byte
	once sync.Once
}

func (p *onePacket) ReadFrom(b []byte) (int, net.Addr, error) {
	n := -1
	p.once.Do(func() { n = copy(b, p.in) })
	if n < 0 {
		return 0, nil, net.ErrClosed
	}
	return n, p.Conn.RemoteAddr(), nil
}

func (p *onePacket) WriteTo(b []byte, _ net.Addr) (int, error) { return p.Conn.Write(b) }

// TestLookupHostTruncated: a truncated UDP answer makes the resolver ask
// again over TCP, through the tunnel (RFC 7766 §5).
func TestLookupHostTruncated(t *testing.T) {
	a, b := newPair(t, direct)
	tcpSrv := serveDNS(t, b)
	udpSrv := &dnstest.Server{Records: records}
	a.udp = fakeUDP{udpSrv}
	got, err := a.LookupHost("v4.test")
	if err != nil || !slices.Equal(got, []string{"10.9.0.2"}) {
		t.Fatalf("LookupHost over UDP = %q, %v", got, err)
	}
	if udpSrv.UDPQueries.Load() == 0 || tcpSrv.TCPQueries.Load() != 0 {
		t.Errorf("%d UDP and %d TCP questions, want only UDP ones", udpSrv.UDPQueries.Load(), tcpSrv.TCPQueries.Load())
	}
	udpSrv.Truncate = true
	got, err = a.LookupHost("both.test")
	if err != nil || !slices.Equal(got, []string{"fd09::2", "10.9.0.2"}) {
		t.Fatalf("LookupHost after truncation = %q, %v", got, err)
	}
	if tcpSrv.TCPQueries.Load() != 2 {
		t.Errorf("%d questions over TCP after truncated UDP answers, want 2 (A and AAAA)", tcpSrv.TCPQueries.Load())
	}
}

func TestIsDomainName(t *testing.T) {
	for s, want := range map[string]bool{
		"example.com": true, "example.com.": true, "a-b.c_d.e": true, "x": true,
		"1.2.3.4": false, "": false, ".": false, "a..b": false, "-a.b": false,
		"a-.b": false, "a b": false, string(make([]byte, 64)) + ".com": false,
	} {
		if got := isDomainName(s); got != want {
			t.Errorf("isDomainName(%q) = %v, want %v", s, got, want)
		}
	}
}
