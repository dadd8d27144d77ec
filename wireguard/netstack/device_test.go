package netstack

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/tun"

	"github.com/synack-go/synack"
	"github.com/synack-go/synack/wire"
)

// echoPacket is an ICMPv4 echo request from src to dst.
func echoPacket(src, dst netip.Addr, seq uint16) []byte {
	m := wire.ICMPMessage{Type: wire.ICMPv4EchoRequest, Ident: 5, SeqNum: seq, Body: []byte("ping")}
	pkt := make([]byte, 20+m.Len())
	wire.PutIPHeader(pkt, src, dst, wire.ProtoICMPv4, m.Len(), 64)
	m.EmitV4(pkt[20:])
	return pkt
}

// TestDeviceContract drives the tun.Device as wireguard-go does, with
// offsets: a request written in comes back as a reply read out, at the
// offset; the events, MTU, name and batch size; Close.
func TestDeviceContract(t *testing.T) {
	dev, n, err := CreateNetTUN([]netip.Addr{addrA4}, nil, testMTU)
	if err != nil {
		t.Fatal(err)
	}
	if ev := <-dev.Events(); ev != tun.EventUp {
		t.Errorf("first event %v, want EventUp", ev)
	}
	if mtu, _ := dev.MTU(); mtu != testMTU {
		t.Errorf("MTU %d, want %d", mtu, testMTU)
	}
	if dev.BatchSize() < 1 {
		t.Errorf("BatchSize %d", dev.BatchSize())
	}
	if name, err := dev.Name(); name == "" || err != nil {
		t.Errorf("Name() = %q, %v", name, err)
	}
	if dev.File() != nil {
		t.Error("File() is not nil")
	}

	const off = 16
	in := make([][]byte, 3)
	for i := range in {
		in[i] = append(make([]byte, off), echoPacket(addrB4, addrA4, uint16(i))...)
	}
	// An empty packet and one above the MTU are dropped, not fatal.
	in = append(in, make([]byte, off), make([]byte, off+testMTU+1))
	if n, err := dev.Write(in, off); err != nil || n != len(in) {
		t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(in))
	}
	bufs := make([][]byte, 8)
	for i := range bufs {
		bufs[i] = make([]byte, off+testMTU)
	}
	sizes := make([]int, len(bufs))
	got := 0
	for got < 3 {
		n, err := dev.Read(bufs[got:], sizes[got:], off)
		if err != nil {
			t.Fatal(err)
		}
		got += n
	}
	for i := range 3 {
		var ip wire.IPPacket
		if err := wire.ParseIP(bufs[i][off:off+sizes[i]], &ip); err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		var m wire.ICMPMessage
		if err := m.ParseV4(wire.ICMPv4(ip.Payload)); err != nil || m.Type != wire.ICMPv4EchoReply || m.SeqNum != uint16(i) {
			t.Errorf("reply %d: %+v, %v", i, m, err)
		}
		if !bytes.Equal(bufs[i][:off], make([]byte, off)) {
			t.Errorf("reply %d wrote into the headroom", i)
		}
	}
	if st := n.DeviceStats(); st.TooBig != 1 || st.FromTunnel != 3 || st.ToTunnel != 3 {
		t.Errorf("DeviceStats %+v, want 1 too big, 3 packets each way", st)
	}

	done := make(chan error, 1)
	go func() {
		_, err := dev.Read(bufs, sizes, off)
		done <- err
	}()
	if err := dev.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrClosed) {
			t.Errorf("Read after Close: %v, want os.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not wake a blocked Read")
	}
	if _, ok := <-dev.Events(); ok {
		t.Error("Events still open after Close")
	}
	if _, err := dev.Write(in[:1], off); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write after Close: %v, want os.ErrClosed", err)
	}
	if err := dev.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestCreateNetTUNErrors: no address, a bad one, an MTU synack cannot
// use.
func TestCreateNetTUNErrors(t *testing.T) {
	for _, tc := range []struct {
		addrs []netip.Addr
		mtu   int
	}{
		{nil, 1420},
		{[]netip.Addr{{}}, 1420},
		{[]netip.Addr{addrA4}, 500},
		{[]netip.Addr{addrA6}, 1200},
	} {
		if dev, _, err := CreateNetTUN(tc.addrs, nil, tc.mtu); err == nil {
			dev.Close()
			t.Errorf("CreateNetTUN(%v, mtu %d) succeeded", tc.addrs, tc.mtu)
		}
	}
}

// TestUDP sends datagrams both ways through WireGuard, from connected
// sockets of both families to an unconnected one.
func TestUDP(t *testing.T) {
	a, b := newPair(t, wireguard)
	srv, err := b.ListenUDP(&net.UDPAddr{Port: 7})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	go func() {
		buf := make([]byte, 2000)
		for {
			n, from, err := srv.ReadFrom(buf)
			if err != nil {
				return
			}
			srv.WriteTo(buf[:n], from)
		}
	}()
	for _, dst := range []string{"10.9.0.2:7", "[fd09::2]:7"} {
		c, err := a.Dial("udp", dst)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		msg := []byte("datagram to " + dst)
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 100)
		n, err := c.Read(buf)
		if err != nil || !bytes.Equal(buf[:n], msg) {
			t.Errorf("echo from %s: %q, %v", dst, buf[:n], err)
		}
		c.Close()
	}
}

// TestCloseWithoutReader: once nobody reads a device, the stack's writes
// fill its outbound queue and wait; Close must still return, although
// resetting an established connection has one more segment to write.
func TestCloseWithoutReader(t *testing.T) {
	// The echo replies fill the queue: without the stack's echo rate
	// limit (synack.Options.EchoRateLimit), which would answer a burst of
	// 50 and then 1000 a second.
	ta, na, err := CreateNetTUNWithOptions([]netip.Addr{addrA4}, nil, testMTU, synack.Options{EchoRateLimit: -1})
	if err != nil {
		t.Fatal(err)
	}
	tb, nb, err := CreateNetTUN([]netip.Addr{addrB4}, nil, testMTU)
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Close()
	stop := make(chan struct{})
	pumped := make(chan struct{})
	go func() { pump(tb, ta) }()
	go func() {
		// A's side stops at the first read after stop is closed.
		defer close(pumped)
		bufs, sizes := [][]byte{make([]byte, 65535)}, []int{0}
		for {
			n, err := ta.Read(bufs, sizes, 0)
			if err != nil {
				return
			}
			select {
			case <-stop:
				return
			default:
			}
			tb.Write([][]byte{bufs[0][:sizes[0]]}[:n], 0)
		}
	}()
	ln, err := na.ListenTCP(&net.TCPAddr{Port: 80})
	if err != nil {
		t.Fatal(err)
	}
	c, err := nb.Dial("tcp", "10.9.0.1:80")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	close(stop)
	d := ta.(*device)
	for i := range outboundPackets + 200 {
		ta.Write([][]byte{echoPacket(addrB4, addrA4, uint16(i))}, 0)
	}
	<-pumped
	deadline := time.Now().Add(20 * time.Second)
	for d.ep.out.stats().Pushed < outboundPackets {
		if time.Now().After(deadline) {
			t.Fatalf("the stack answered only %d echoes", d.ep.out.stats().Pushed)
		}
		time.Sleep(time.Millisecond)
	}
	closed := make(chan error, 1)
	go func() { closed <- ta.Close() }()
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		t.Fatal("Close hung with the outbound queue full and a connection to reset")
	}
}
