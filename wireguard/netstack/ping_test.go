package netstack

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// echoRequest marshals an echo request as upstream's ping example does,
// with x/net/icmp (which leaves the ICMPv6 checksum to the socket).
func echoRequest(t *testing.T, v6 bool, id, seq int, data []byte) []byte {
	t.Helper()
	var typ icmp.Type = ipv4.ICMPTypeEcho
	if v6 {
		typ = ipv6.ICMPTypeEchoRequest
	}
	b, err := (&icmp.Message{Type: typ, Body: &icmp.Echo{ID: id, Seq: seq, Data: data}}).Marshal(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readEcho reads one reply from c and returns its body.
func readEcho(t *testing.T, c *PingConn, v6 bool) (*icmp.Echo, net.Addr) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 1500)
	n, from, err := c.ReadFrom(buf)
	if err != nil {
		t.Fatalf("reading the echo reply: %v", err)
	}
	proto := 1
	if v6 {
		proto = 58
	}
	m, err := icmp.ParseMessage(proto, buf[:n])
	if err != nil {
		t.Fatal(err)
	}
	e, ok := m.Body.(*icmp.Echo)
	if !ok {
		t.Fatalf("reply is %v, not an echo reply", m.Type)
	}
	return e, from
}

// TestPing pings the other end's stack, which answers, through
// wireguard-go, on both families, with a dialled and an unconnected
// socket.
func TestPing(t *testing.T) {
	a, _ := newPair(t, wireguard)
	for _, dst := range []netip.Addr{addrB4, addrB6} {
		v6 := dst.Is6()
		c, err := a.DialPingAddr(netip.Addr{}, dst)
		if err != nil {
			t.Fatal(err)
		}
		data := []byte("gopher burrow " + dst.String())
		if _, err := c.Write(echoRequest(t, v6, 1234, 7, data)); err != nil {
			t.Fatal(err)
		}
		e, from := readEcho(t, c, v6)
		if e.Seq != 7 || !bytes.Equal(e.Data, data) {
			t.Errorf("reply seq %d data %q, want 7 %q", e.Seq, e.Data, data)
		}
		if from.(*PingAddr).Addr() != dst {
			t.Errorf("reply from %v, want %v", from, dst)
		}
		c.Close()

		l, err := a.ListenPing(PingAddrFromAddr(map[bool]netip.Addr{false: addrA4, true: addrA6}[v6]))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.WriteTo(echoRequest(t, v6, 1, 8, data), &net.IPAddr{IP: dst.AsSlice()}); err != nil {
			t.Fatal(err)
		}
		if e, _ := readEcho(t, l, v6); e.Seq != 8 {
			t.Errorf("unconnected socket: reply seq %d, want 8", e.Seq)
		}
		l.Close()
	}
	if got := a.DeviceStats().PingReplies; got != 4 {
		t.Errorf("DeviceStats().PingReplies = %d, want 4", got)
	}
}

// TestDialPing is upstream's ping example: Dial("ping4", host).
func TestDialPing(t *testing.T) {
	a, _ := newPair(t, direct)
	c, err := a.Dial("ping4", "10.9.0.2")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(echoRequest(t, false, 99, 1, []byte("hi"))); err != nil {
		t.Fatal(err)
	}
	if e, _ := readEcho(t, c.(*PingConn), false); e.Seq != 1 {
		t.Errorf("reply seq %d, want 1", e.Seq)
	}
	if got := c.LocalAddr().Network(); got != "ping4" {
		t.Errorf("LocalAddr().Network() = %q, want ping4", got)
	}
}

// TestPingErrors: a silent destination gives a deadline error; a closed
// socket gives net.ErrClosed to a waiting reader; bad writes fail.
func TestPingErrors(t *testing.T) {
	a, _ := newPair(t, direct)
	c, err := a.DialPingAddr(netip.Addr{}, netip.MustParseAddr("10.9.0.3"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(echoRequest(t, false, 1, 1, nil)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := c.Read(make([]byte, 100)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read with no reply: %v, want os.ErrDeadlineExceeded", err)
	}
	if _, err := c.Write([]byte{0, 0, 0, 0, 0, 0, 0, 0}); err == nil {
		t.Error("writing an echo reply (type 0) succeeded")
	}
	if _, err := c.WriteTo(echoRequest(t, true, 1, 1, nil), PingAddrFromAddr(addrB6)); err == nil {
		t.Error("writing to an IPv6 address on an IPv4 socket succeeded")
	}
	c.SetReadDeadline(time.Time{})
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 100))
		done <- err
	}()
	c.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("read on a closed socket: %v, want net.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not wake a blocked Read")
	}
	if _, err := a.DialPingAddr(netip.Addr{}, netip.Addr{}); err == nil {
		t.Error("DialPingAddr with no address succeeded")
	}
	if _, err := a.DialPingAddr(netip.MustParseAddr("10.9.0.7"), addrB4); err == nil {
		t.Error("DialPingAddr from an address not ours succeeded")
	}
}
