package synack

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/synack-go/synack/inet"
	"github.com/synack-go/synack/wire"
)

var (
	peer4 = netip.MustParseAddr("10.0.0.9")
	peer6 = netip.MustParseAddr("fd00::9")
)

// udpRaw builds an IP packet carrying a UDP datagram from src to dst.
func udpRaw(src, dst netip.AddrPort, payload []byte) []byte {
	d := wire.UDPDatagram{SrcPort: src.Port(), DstPort: dst.Port(), Payload: payload}
	hl := wire.IPHeaderLen(dst.Addr())
	pkt := make([]byte, hl+d.Len())
	wire.PutIPHeader(pkt, src.Addr(), dst.Addr(), wire.ProtoUDP, d.Len(), 64)
	d.Emit(pkt[hl:], src.Addr(), dst.Addr())
	return pkt
}

// TestUDPChecksumRules: over IPv4 a zero checksum means none and the
// datagram is taken; over IPv6 it is invalid (RFC 8200 §8.1); a wrong one
// is dropped and counted in both.
func TestUDPChecksumRules(t *testing.T) {
	s, peer := icmpStack(t, Options{})
	pc, err := s.ListenPacket("udp", ":53")
	if err != nil {
		t.Fatal(err)
	}
	c := pc.(*UDPConn)
	for _, tc := range []struct {
		from, to netip.AddrPort
		sum      uint16 // 0: none; 1: wrong; else keep
		taken    bool
	}{
		{netip.AddrPortFrom(peer4, 1), netip.AddrPortFrom(clientAddr.Addr(), 53), 0, true},
		{netip.AddrPortFrom(peer6, 1), netip.AddrPortFrom(clientAddr6.Addr(), 53), 0, false},
		{netip.AddrPortFrom(peer4, 1), netip.AddrPortFrom(clientAddr.Addr(), 53), 1, false},
		{netip.AddrPortFrom(peer6, 1), netip.AddrPortFrom(clientAddr6.Addr(), 53), 1, false},
		{netip.AddrPortFrom(peer6, 1), netip.AddrPortFrom(clientAddr6.Addr(), 53), 2, true},
	} {
		pkt := udpRaw(tc.from, tc.to, []byte("hello"))
		u := pkt[wire.IPHeaderLen(tc.to.Addr()):]
		switch tc.sum {
		case 0:
			binary.BigEndian.PutUint16(u[6:], 0)
		case 1:
			u[6] ^= 0x40
		}
		peer.send(pkt)
		c.SetReadDeadline(s.timeNow().Add(100 * time.Millisecond))
		_, from, err := c.ReadFromUDPAddrPort(make([]byte, 10))
		if tc.taken && (err != nil || from != tc.from) {
			t.Fatalf("%v checksum %d: %v from %v", tc.to, tc.sum, err, from)
		}
		if !tc.taken && !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("%v checksum %d taken: %v", tc.to, tc.sum, err)
		}
	}
	if st := s.Stats().UDP; st.Checksum != 3 || st.DatagramsIn != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// TestUDPPortUnreachableQuote checks the error a closed port gets: from the
// address the datagram went to, quoting the datagram whole (it is short).
func TestUDPPortUnreachableQuote(t *testing.T) {
	_, peer := icmpStack(t, Options{})
	for _, tc := range []struct {
		from, to netip.AddrPort
		typ      uint8
		code     uint8
	}{
		{netip.AddrPortFrom(peer4, 4000), netip.AddrPortFrom(clientAddr.Addr(), 9), wire.ICMPv4DestUnreachable, wire.ICMPv4PortUnreachable},
		{netip.AddrPortFrom(peer6, 4000), netip.AddrPortFrom(clientAddr6.Addr(), 9), wire.ICMPv6DestUnreachable, wire.ICMPv6PortUnreachable},
	} {
		pkt := udpRaw(tc.from, tc.to, []byte("is anyone there?"))
		peer.send(pkt)
		ip, m, ok := peer.recvICMP(time.Second)
		if !ok {
			t.Fatal("no ICMP error")
		}
		if ip.Src != tc.to.Addr() || ip.Dst != tc.from.Addr() || m.Type != tc.typ || m.Code != tc.code || !bytes.Equal(m.Body, pkt) {
			t.Fatalf("got %v -> %v type %d code %d body % x", ip.Src, ip.Dst, m.Type, m.Code, m.Body)
		}
	}
	// Nothing for a datagram to a broadcast, or from a multicast source.
	peer.send(udpRaw(netip.AddrPortFrom(peer4, 1), netip.MustParseAddrPort("10.0.0.255:9"), nil),
		udpRaw(netip.MustParseAddrPort("[ff02::1]:1"), netip.AddrPortFrom(clientAddr6.Addr(), 9), nil))
	if _, _, ok := peer.recvICMP(50 * time.Millisecond); ok {
		t.Fatal("an ICMP error about a broadcast or from a multicast source")
	}
}

// TestUDPPortUnreachableRateLimited: a flood of datagrams to closed ports
// gets at most the bucket's burst of errors at once.
func TestUDPPortUnreachableRateLimited(t *testing.T) {
	s, peer := icmpStack(t, Options{})
	var pkts [][]byte
	for i := range 200 {
		pkts = append(pkts, udpRaw(netip.AddrPortFrom(peer4, uint16(1000+i)), netip.AddrPortFrom(clientAddr.Addr(), 9), nil))
	}
	peer.send(pkts...)
	n := 0
	for {
		if _, _, ok := peer.recvICMP(200 * time.Millisecond); !ok {
			break
		}
		n++
	}
	// On virtual time the flood arrives at one instant: the burst answers,
	// nothing more.
	if n != inet.DefaultICMPBurst {
		t.Fatalf("%d errors for 200 datagrams at once, want the burst of %d", n, inet.DefaultICMPBurst)
	}
	st := s.Stats()
	if st.UDP.NoPort != 200 || st.Network.ICMPErrors != uint64(n) || st.Network.ICMPRateLimited != uint64(200-n) {
		t.Fatalf("stats %+v", st)
	}
}

// TestUDPReassemblyRaw: fragments sent out of order are put back; an
// overlapping set is dropped whole (RFC 5722).
func TestUDPReassemblyRaw(t *testing.T) {
	s, peer := icmpStack(t, Options{})
	pc, _ := s.ListenPacket("udp", ":53")
	c := pc.(*UDPConn)
	payload := make([]byte, 3000)
	for i := range payload {
		payload[i] = byte(i)
	}
	for _, from := range []netip.AddrPort{netip.AddrPortFrom(peer4, 7), netip.AddrPortFrom(peer6, 7)} {
		local := clientAddr.Addr()
		if from.Addr().Is6() {
			local = clientAddr6.Addr()
		}
		pkt := udpRaw(from, netip.AddrPortFrom(local, 53), payload)
		frags := make([][]byte, inet.FragmentCount(pkt, 1280))
		for i := range frags {
			frags[i] = make([]byte, 1280)
		}
		sizes := make([]int, len(frags))
		inet.Fragment(pkt, 1280, 77, frags, sizes)
		for i := range frags {
			frags[i] = frags[i][:sizes[i]]
		}
		// Last first.
		for i := len(frags) - 1; i >= 0; i-- {
			peer.send(frags[i])
		}
		buf := make([]byte, 4000)
		n, got := readWithin(t, c, buf)
		if got != from || !bytes.Equal(buf[:n], payload) {
			t.Fatalf("reassembled %d bytes from %v", n, got)
		}
		// The same fragments with the second shifted by 8 bytes overlap
		// the first: nothing is delivered.
		bad := append([]byte(nil), frags[1]...)
		if from.Addr().Is4() {
			h := wire.IPv4(bad)
			h.SetFragment(78, h.FragmentOffset()-8, h.MoreFragments())
			h.SetChecksum()
			wire.IPv4(frags[0]).SetFragment(78, 0, true)
			wire.IPv4(frags[0]).SetChecksum()
			wire.IPv4(frags[2]).SetFragment(78, wire.IPv4(frags[2]).FragmentOffset(), false)
			wire.IPv4(frags[2]).SetChecksum()
		} else {
			var fh wire.IPv6FragmentHeader
			for _, f := range [][]byte{frags[0], bad, frags[2]} {
				fh.Parse(f[40:])
				fh.ID = 78
				if &f[0] == &bad[0] {
					fh.Offset -= 8
				}
				fh.Emit(f[40:])
			}
		}
		peer.send(frags[0], bad, frags[2])
		c.SetReadDeadline(s.timeNow().Add(50 * time.Millisecond))
		if _, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("an overlapping datagram was delivered: %v", err)
		}
	}
	st := s.Stats().Network.Reassembly
	if st.Reassembled != 2 || st.Drops[inet.FragOverlap] != 6 {
		t.Fatalf("reassembly %+v", st)
	}
}

// TestUDPICMPToUnconnected: an ICMP error about a datagram of an
// unconnected socket is ignored (Linux without IP_RECVERR).
func TestUDPICMPToUnconnected(t *testing.T) {
	s, peer := icmpStack(t, Options{})
	pc, _ := s.ListenPacket("udp", ":5353")
	c := pc.(*UDPConn)
	dst := netip.AddrPortFrom(peer4, 53)
	c.WriteToUDPAddrPort([]byte("q"), dst)
	pkt, ok := peer.next(time.Second)
	if !ok {
		t.Fatal("the datagram did not leave")
	}
	m := wire.ICMPMessage{Type: wire.ICMPv4DestUnreachable, Code: wire.ICMPv4PortUnreachable, Body: quote(pkt)}
	peer.send(icmpPacket(peer4, clientAddr.Addr(), m))
	c.SetReadDeadline(s.timeNow().Add(50 * time.Millisecond))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read = %v", err)
	}
	if st := s.Stats(); st.Drops.ICMP.NoConn != 1 {
		t.Fatalf("ICMP drops %+v", st.Drops.ICMP)
	}
}

// TestReassemblyTimeout: a datagram whose last fragment never comes is
// dropped by the stack's timer after 30 s (IPv4) or 60 s (IPv6) of the
// stack's clock, and its source gets an ICMP Time Exceeded, "fragment
// reassembly time exceeded", quoting the first fragment (RFC 1122 §3.3.2,
// RFC 8200 §4.5); the memory is given back.
func TestReassemblyTimeout(t *testing.T) {
	s, peer := icmpStack(t, Options{})
	sm := simOf(s)
	for _, tc := range []struct {
		from    netip.AddrPort
		local   netip.Addr
		timeout time.Duration
	}{
		{netip.AddrPortFrom(peer4, 7), clientAddr.Addr(), 30 * time.Second},
		{netip.AddrPortFrom(peer6, 7), clientAddr6.Addr(), 60 * time.Second},
	} {
		pkt := udpRaw(tc.from, netip.AddrPortFrom(tc.local, 53), make([]byte, 3000))
		frags := make([][]byte, inet.FragmentCount(pkt, 1280))
		for i := range frags {
			frags[i] = make([]byte, 1280)
		}
		sizes := make([]int, len(frags))
		inet.Fragment(pkt, 1280, 99, frags, sizes)
		t0 := sm.Now()
		peer.send(frags[0][:sizes[0]])
		ip, m, ok := peer.recvICMP(2 * tc.timeout)
		if !ok {
			t.Fatalf("%v: no ICMP error", tc.from)
		}
		took := sm.Now().Sub(t0)
		want4 := m.Type == wire.ICMPv4TimeExceeded && tc.from.Addr().Is4()
		want6 := m.Type == wire.ICMPv6TimeExceeded && tc.from.Addr().Is6()
		if !(want4 || want6) || m.Code != 1 || ip.Src != tc.local || ip.Dst != tc.from.Addr() {
			t.Fatalf("%v: ICMP type %d code %d from %v to %v", tc.from, m.Type, m.Code, ip.Src, ip.Dst)
		}
		if took < tc.timeout || took > tc.timeout+time.Second {
			t.Fatalf("%v: the datagram expired after %v, want %v", tc.from, took, tc.timeout)
		}
		if !bytes.HasPrefix(frags[0], m.Body[:64]) {
			t.Fatalf("%v: the quote is not the first fragment", tc.from)
		}
	}
	if st := s.Stats().Network; st.Reassembly.Drops[inet.FragTimeout] != 2 || st.ICMPErrors != 2 {
		t.Fatalf("network %+v", st)
	}
	s.ipMu.Lock()
	mem := s.ip.Reassembler().Memory()
	s.ipMu.Unlock()
	if mem != 0 {
		t.Fatalf("%d bytes held after the timeouts", mem)
	}
}
