package synack

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/synack-go/synack/link/pipe"
	"github.com/synack-go/synack/wire"
)

var (
	router4 = netip.MustParseAddr("10.0.0.254")
	router6 = netip.MustParseAddr("fd00::fe")
)

// icmpPacket returns an IP packet from src to dst carrying m, checksummed;
// the ICMP version follows dst's.
func icmpPacket(src, dst netip.Addr, m wire.ICMPMessage) []byte {
	hl := wire.IPHeaderLen(dst)
	pkt := make([]byte, hl+m.Len())
	if dst.Is6() {
		wire.PutIPHeader(pkt, src, dst, wire.ProtoICMPv6, m.Len(), 64)
		m.EmitV6(pkt[hl:], src, dst)
	} else {
		wire.PutIPHeader(pkt, src, dst, wire.ProtoICMPv4, m.Len(), 64)
		m.EmitV4(pkt[hl:])
	}
	return pkt
}

// quote returns what a router quotes of pkt in an error: the IP header and
// 8 bytes (RFC 792's minimum) for IPv4, as much as fits in 1280 bytes for
// IPv6 (RFC 4443 §2.4 (c)).
func quote(pkt []byte) []byte {
	if pkt[0]>>4 == 4 {
		return pkt[:min(len(pkt), wire.IPv4(pkt).HeaderLen()+8)]
	}
	return pkt[:min(len(pkt), 1280-48)]
}

// recvICMP returns the next packet the stack sent, which must be ICMP with
// correct checksums, or ok false if none came within d (virtual time).
func (r *rawPeer) recvICMP(d time.Duration) (ip wire.IPPacket, m wire.ICMPMessage, ok bool) {
	r.t.Helper()
	pkt, ok := r.next(d)
	if !ok {
		return ip, m, false
	}
	if err := wire.ParseIP(pkt, &ip); err != nil {
		r.t.Fatalf("stack sent a bad packet: %v", err)
	}
	switch {
	case ip.Protocol == wire.ProtoICMPv4 && ip.Src.Is4():
		if !wire.ICMPv4(ip.Payload).VerifyChecksum() || m.ParseV4(wire.ICMPv4(ip.Payload)) != nil {
			r.t.Fatalf("stack sent a bad ICMPv4 message % x", ip.Payload)
		}
	case ip.Protocol == wire.ProtoICMPv6 && ip.Src.Is6():
		if !wire.ICMPv6(ip.Payload).VerifyChecksum(ip.Src, ip.Dst) || m.ParseV6(wire.ICMPv6(ip.Payload)) != nil {
			r.t.Fatalf("stack sent a bad ICMPv6 message % x", ip.Payload)
		}
	default:
		r.t.Fatalf("stack sent protocol %d, want ICMP", ip.Protocol)
	}
	return ip, m, true
}

// icmpStack returns a stack with the client's addresses on a new
// simulation, and a raw peer on the other end of its link.
func icmpStack(t *testing.T, opts Options) (*Stack, *rawPeer) {
	t.Helper()
	// Queues deep enough for TestICMPRandom's burst: a full queue drops,
	// as a NIC's ring does.
	sm := newSim(t)
	a, b := sm.Pipe(pipe.Config{QueueLen: 4096})
	opts.Addrs = []netip.Prefix{clientAddr, clientAddr6}
	return newStack(t, sm, b, opts), newRawPeer(t, sm, a)
}

// ping sends an echo request and checks the reply: RFC 792 and RFC 4443
// §4.2, same identifier, sequence number and data, from the address pinged.
func ping(t *testing.T, peer *rawPeer, from, to netip.Addr, ident, seq uint16, data []byte) {
	t.Helper()
	typ, reply := uint8(wire.ICMPv4EchoRequest), uint8(wire.ICMPv4EchoReply)
	if to.Is6() {
		typ, reply = wire.ICMPv6EchoRequest, wire.ICMPv6EchoReply
	}
	peer.send(icmpPacket(from, to, wire.ICMPMessage{Type: typ, Ident: ident, SeqNum: seq, Body: data}))
	ip, m, ok := peer.recvICMP(time.Second)
	if !ok {
		t.Fatalf("no echo reply from %v", to)
	}
	if ip.Src != to || ip.Dst != from || m.Type != reply || m.Code != 0 || m.Ident != ident || m.SeqNum != seq || !bytes.Equal(m.Body, data) {
		t.Fatalf("reply %v > %v %+v, want type %d ident %d seq %d and the %d bytes sent", ip.Src, ip.Dst, m, reply, ident, seq, len(data))
	}
}

// ping and ping -6: every echo request to one of the stack's addresses is
// answered, up to the largest the link carries.
func TestPing(t *testing.T) {
	s, peer := icmpStack(t, Options{})
	peerAddr, peerAddr6 := netip.MustParseAddr("10.0.0.9"), netip.MustParseAddr("fd00::9")
	n := 0
	for _, size := range []int{0, 56, 1000, 1500 - 28} {
		data := bytes.Repeat([]byte{byte(size)}, size)
		ping(t, peer, peerAddr, clientAddr.Addr(), 0x4242, uint16(size), data)
		if size <= 1500-48 {
			ping(t, peer, peerAddr6, clientAddr6.Addr(), 0x6666, uint16(size), data)
			n++
		}
		n++
	}
	st := s.Stats()
	if st.EchoRequests != uint64(n) || st.ICMPIn != uint64(n) || st.ICMPOut != uint64(n) || st.PacketsOut != uint64(n) {
		t.Fatalf("%d pings: stats %+v", n, st)
	}
}

// Every ICMP message the stack cannot or must not act on is dropped and
// counted by reason, and none gets an answer: after all of them, the first
// packet the stack sends is the reply to a last, good ping.
func TestICMPDropped(t *testing.T) {
	s, peer := icmpStack(t, Options{})
	me, me6 := clientAddr.Addr(), clientAddr6.Addr()
	them, them6 := netip.MustParseAddr("10.0.0.9"), netip.MustParseAddr("fd00::9")
	echo := wire.ICMPMessage{Type: wire.ICMPv4EchoRequest, Ident: 1, SeqNum: 1, Body: []byte("x")}
	echo6 := wire.ICMPMessage{Type: wire.ICMPv6EchoRequest, Ident: 1, SeqNum: 1, Body: []byte("x")}

	short := icmpPacket(them, me, echo)
	short = short[:20+4]
	wire.IPv4(short)[3] = 24 // total length
	wire.IPv4(short).SetChecksum()
	badSum := icmpPacket(them, me, echo)
	badSum[len(badSum)-1] ^= 1
	badSum6 := icmpPacket(them6, me6, echo6)
	wire.ICMPv6(badSum6[40:]).SetChecksum(them6, them6) // the wrong pseudo-header
	v6InV4 := icmpPacket(them, me, echo)
	v6InV4[9] = wire.ProtoICMPv6
	wire.IPv4(v6InV4).SetChecksum()

	syn := packet(netip.AddrPortFrom(me, 40000), netip.MustParseAddrPort("10.0.0.9:80"), &wire.TCPSegment{Seq: 1, Flags: wire.SYN})
	syn6 := packet(netip.AddrPortFrom(me6, 40000), netip.MustParseAddrPort("[fd00::9]:80"), &wire.TCPSegment{Seq: 1, Flags: wire.SYN})
	udp := bytes.Clone(syn)
	udp[9] = wire.ProtoUDP
	unreach := func(body []byte) []byte {
		return icmpPacket(router4, me, wire.ICMPMessage{Type: wire.ICMPv4DestUnreachable, Code: wire.ICMPv4HostUnreachable, Body: body})
	}
	type want struct{ malformed, checksum, badSource, ignored, noConn, protocol, notForUs int }
	cases := []struct {
		name string
		pkt  []byte
		want want
	}{
		{"ICMP message of 4 bytes", short, want{malformed: 1}},
		{"bad ICMPv4 checksum", badSum, want{checksum: 1}},
		{"bad ICMPv6 checksum", badSum6, want{checksum: 1}},
		{"echo reply", icmpPacket(them, me, wire.ICMPMessage{Type: wire.ICMPv4EchoReply}), want{ignored: 1}},
		{"ICMPv6 echo reply", icmpPacket(them6, me6, wire.ICMPMessage{Type: wire.ICMPv6EchoReply}), want{ignored: 1}},
		{"echo from a multicast source", icmpPacket(netip.MustParseAddr("224.0.0.1"), me, echo), want{badSource: 1}},
		{"echo from the limited broadcast", icmpPacket(netip.MustParseAddr("255.255.255.255"), me, echo), want{badSource: 1}},
		{"echo from our subnet's broadcast", icmpPacket(netip.MustParseAddr("10.0.0.255"), me, echo), want{badSource: 1}},
		{"echo from loopback", icmpPacket(netip.MustParseAddr("127.0.0.1"), me, echo), want{badSource: 1}},
		{"ICMPv6 echo from ::", icmpPacket(netip.IPv6Unspecified(), me6, echo6), want{badSource: 1}},
		{"ICMPv6 echo from ff02::1", icmpPacket(netip.MustParseAddr("ff02::1"), me6, echo6), want{badSource: 1}},
		{"echo to someone else", icmpPacket(them, netip.MustParseAddr("10.0.0.7"), echo), want{notForUs: 1}},
		{"ICMPv6 inside IPv4", v6InV4, want{protocol: 1}},
		{"source quench (RFC 6633)", icmpPacket(router4, me, wire.ICMPMessage{Type: wire.ICMPv4SourceQuench, Body: quote(syn)}), want{ignored: 1}},
		{"redirect", icmpPacket(router4, me, wire.ICMPMessage{Type: wire.ICMPv4Redirect, Body: quote(syn)}), want{ignored: 1}},
		{"neighbor solicitation", icmpPacket(them6, me6, wire.ICMPMessage{Type: 135, Body: make([]byte, 16)}), want{ignored: 1}},
		{"unknown type", icmpPacket(them, me, wire.ICMPMessage{Type: 42}), want{ignored: 1}},
		{"unknown unreachable code", icmpPacket(router4, me, wire.ICMPMessage{Type: wire.ICMPv4DestUnreachable, Code: 16, Body: quote(syn)}), want{ignored: 1}},
		{"error quoting 7 bytes of TCP", unreach(syn[:27]), want{malformed: 1}},
		{"error quoting nothing", unreach(nil), want{malformed: 1}},
		{"ICMPv4 error quoting IPv6", unreach(quote(syn6)), want{malformed: 1}},
		{"error about UDP, no socket", unreach(quote(udp)), want{noConn: 1}},
		{"error about no connection", unreach(quote(syn)), want{noConn: 1}},
		{"ICMPv6 error about no connection", icmpPacket(router6, me6, wire.ICMPMessage{Type: wire.ICMPv6PacketTooBig, MTU: 1280, Body: quote(syn6)}), want{noConn: 1}},
	}
	var total want
	for _, c := range cases {
		peer.send(c.pkt)
		total.malformed += c.want.malformed
		total.checksum += c.want.checksum
		total.badSource += c.want.badSource
		total.ignored += c.want.ignored
		total.noConn += c.want.noConn
		total.protocol += c.want.protocol
		total.notForUs += c.want.notForUs
	}
	ping(t, peer, them, me, 7, 7, []byte("still there"))
	st := s.Stats()
	d := st.Drops.ICMP
	got := want{int(d.Malformed), int(d.Checksum), int(d.BadSource), int(d.Ignored), int(d.NoConn), int(st.Drops.Protocol), int(st.Drops.NotForUs)}
	if got != total || st.EchoRequests != 1 || st.ICMPErrors != 0 || st.ICMPIn != uint64(len(cases)+1-total.protocol-total.notForUs) {
		t.Fatalf("drops %+v, want %+v; stats %+v", got, total, st)
	}
}

// Random ICMP messages, well formed or not, with good checksums, some
// quoting real connections: the stack never panics, answers nothing but the
// echo requests, and accounts for every message. (Without the echo rate
// limit: TestEchoRateLimit has it.)
func TestICMPRandom(t *testing.T) {
	s, peer := icmpStack(t, Options{EchoRateLimit: -1})
	r := rand.New(rand.NewPCG(5927, 1))
	me, me6 := clientAddr.Addr(), clientAddr6.Addr()
	syn := packet(netip.AddrPortFrom(me, 40000), netip.MustParseAddrPort("10.0.0.9:80"), &wire.TCPSegment{Seq: 1, Flags: wire.SYN})
	syn6 := packet(netip.AddrPortFrom(me6, 40000), netip.MustParseAddrPort("[fd00::9]:80"), &wire.TCPSegment{Seq: 1, Flags: wire.SYN})
	const n = 3000
	echoes := 0
	for range n {
		v6 := r.IntN(2) == 0
		m := wire.ICMPMessage{Type: uint8(r.IntN(20)), Code: uint8(r.IntN(20)), Ident: uint16(r.Uint32()), MTU: r.Uint32()}
		q := syn
		if v6 {
			m.Type = []uint8{1, 2, 3, 4, 128, 129, 133, 135, 200}[r.IntN(9)]
			q = syn6
		}
		switch r.IntN(3) {
		case 0:
			m.Body = q[:r.IntN(len(q)+1)]
		case 1:
			m.Body = make([]byte, r.IntN(100))
			for i := range m.Body {
				m.Body[i] = byte(r.Uint32())
			}
		}
		pkt := icmpPacket(router4, me, m)
		if v6 {
			pkt = icmpPacket(router6, me6, m)
		}
		if r.IntN(10) == 0 { // and now and then, cut it anywhere
			hl := wire.IPHeaderLen(me)
			if v6 {
				hl = 40
			}
			cut := hl + r.IntN(len(pkt)-hl+1)
			pkt = pkt[:cut]
			if v6 {
				pkt[5] = byte(cut - 40) // small enough: the length fits a byte
				pkt[4] = byte((cut - 40) >> 8)
			} else {
				pkt[2], pkt[3] = byte(cut>>8), byte(cut)
				wire.IPv4(pkt).SetChecksum()
			}
		}
		if isEchoRequest(pkt) {
			echoes++
		}
		peer.send(pkt)
	}
	for range echoes {
		if _, m, ok := peer.recvICMP(time.Second); !ok || (m.Type != wire.ICMPv4EchoReply && m.Type != wire.ICMPv6EchoReply) {
			t.Fatalf("want %d echo replies: ok %v, got %+v", echoes, ok, m)
		}
	}
	ping(t, peer, router4, me, 9, 9, nil) // the last: nothing else was sent
	st := s.Stats()
	d := st.Drops.ICMP
	dropped := d.Malformed + d.Checksum + d.BadSource + d.Ignored + d.NoConn + d.OutOfWindow + d.RateLimited
	if st.ICMPIn != n+1 || st.EchoRequests != uint64(echoes+1) || st.ICMPIn != st.EchoRequests+dropped+st.ICMPErrors {
		t.Fatalf("%d messages, %d echo requests: stats %+v", n+1, echoes+1, st)
	}
	t.Logf("%d messages: %d echoes answered, drops %+v", n+1, st.EchoRequests, d)
}

// isEchoRequest reports whether pkt holds an echo request with a good
// checksum, which the stack must answer.
func isEchoRequest(pkt []byte) bool {
	var ip wire.IPPacket
	if wire.ParseIP(pkt, &ip) != nil || len(ip.Payload) < 8 {
		return false
	}
	if ip.Protocol == wire.ProtoICMPv6 {
		return ip.Payload[0] == wire.ICMPv6EchoRequest && wire.ICMPv6(ip.Payload).VerifyChecksum(ip.Src, ip.Dst)
	}
	return ip.Payload[0] == wire.ICMPv4EchoRequest && wire.ICMPv4(ip.Payload).VerifyChecksum()
}
