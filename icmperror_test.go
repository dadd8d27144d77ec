package synack

import (
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/synack-go/synack/inet"
	"github.com/synack-go/synack/link/pipe"
	"github.com/synack-go/synack/sim"
	"github.com/synack-go/synack/tcp"
	"github.com/synack-go/synack/trace"
	"github.com/synack-go/synack/wire"
)

// answerSYNs makes the raw peer a router that answers every SYN the stack
// sends with the ICMP error m quoting it, and counts them.
func answerSYNs(peer *rawPeer, m wire.ICMPMessage) *int {
	n := new(int)
	peer.sm.Go(func() {
		for {
			p, err := peer.ep.ReadPacket(time.Time{})
			if err != nil {
				return
			}
			pkt := p.Data
			var ip wire.IPPacket
			if wire.ParseIP(pkt, &ip) != nil || ip.Protocol != wire.ProtoTCP || wire.TCP(ip.Payload).Flags()&wire.SYN == 0 {
				continue
			}
			msg := m
			msg.Body = quote(pkt)
			router := router4
			if ip.Src.Is6() {
				router = router6
			}
			*n++
			peer.ep.WriteBatch([][]byte{icmpPacket(router, ip.Src, msg)})
		}
	})
	return n
}

// A dial whose SYNs only ever get "host unreachable" or "network
// unreachable" fails with EHOSTUNREACH or ENETUNREACH instead of ETIMEDOUT
// once its retries run out: RFC 1122 §4.2.3.9 soft errors (here one retry,
// 1 s + 2 s of virtual time). A hard error (port unreachable,
// administratively prohibited) fails it at the first SYN.
func TestDialICMPUnreachable(t *testing.T) {
	for _, c := range []struct {
		name string
		addr string
		m    wire.ICMPMessage
		want syscall.Errno
		syns int32
	}{
		{"host unreachable", "192.0.2.1:80", wire.ICMPMessage{Type: wire.ICMPv4DestUnreachable, Code: wire.ICMPv4HostUnreachable}, syscall.EHOSTUNREACH, 2},
		{"net unreachable", "192.0.2.1:80", wire.ICMPMessage{Type: wire.ICMPv4DestUnreachable, Code: wire.ICMPv4NetUnreachable}, syscall.ENETUNREACH, 2},
		{"IPv6 address unreachable", "[2001:db8::1]:80", wire.ICMPMessage{Type: wire.ICMPv6DestUnreachable, Code: wire.ICMPv6AddrUnreachable}, syscall.EHOSTUNREACH, 2},
		{"IPv6 no route", "[2001:db8::1]:80", wire.ICMPMessage{Type: wire.ICMPv6DestUnreachable, Code: wire.ICMPv6NoRoute}, syscall.ENETUNREACH, 2},
		{"time exceeded", "192.0.2.1:80", wire.ICMPMessage{Type: wire.ICMPv4TimeExceeded}, syscall.EHOSTUNREACH, 2},
		{"port unreachable", "192.0.2.1:80", wire.ICMPMessage{Type: wire.ICMPv4DestUnreachable, Code: wire.ICMPv4PortUnreachable}, syscall.ECONNREFUSED, 1},
		{"IPv6 administratively prohibited", "[2001:db8::1]:80", wire.ICMPMessage{Type: wire.ICMPv6DestUnreachable, Code: wire.ICMPv6AdminProhibited}, syscall.EACCES, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, peer := icmpStack(t, Options{TCP: tcp.Config{SynRetries: 1}})
			answered := answerSYNs(peer, c.m)
			_, err := s.Dial("tcp", c.addr)
			var oe *net.OpError
			if !errors.Is(err, c.want) || !errors.As(err, &oe) || oe.Op != "dial" || oe.Addr.String() != c.addr {
				t.Fatalf("dial: %v, want an OpError wrapping %v", err, c.want)
			}
			st := s.Stats()
			if n := int32(*answered); n != c.syns || st.ICMPErrors != uint64(n) || len(s.Connections()) != 0 {
				t.Fatalf("%d SYNs answered (want %d), %d ICMP errors applied, %d connections left",
					n, c.syns, st.ICMPErrors, len(s.Connections()))
			}
		})
	}
}

// dialRaw dials the raw peer at addr and plays the server's side of the
// handshake (no options but the MSS, ISS 1000). It returns the connection,
// its two ends and the client's ISS.
func dialRaw(t *testing.T, s *Stack, peer *rawPeer, addr string) (c *Conn, local, remote netip.AddrPort, iss tcp.Seq) {
	t.Helper()
	dialed := start(peer.sm, func() (net.Conn, error) { return s.Dial("tcp", addr) })
	ip, syn := peer.recv()
	local, remote = netip.AddrPortFrom(ip.Src, syn.SrcPort), netip.AddrPortFrom(ip.Dst, syn.DstPort)
	peer.sendSeg(remote, local, wire.TCPSegment{Seq: 1000, Ack: syn.Seq + 1, Flags: wire.SYN | wire.ACK, Window: 65535,
		Options: wire.TCPOptions{MSS: 1460}})
	if _, ack := peer.recv(); ack.Flags != wire.ACK || ack.Ack != 1001 {
		t.Fatalf("handshake ACK %+v", ack)
	}
	conn, err := dialed.get(t)
	if err != nil {
		t.Fatal(err)
	}
	return conn.(*Conn), local, remote, syn.Seq
}

// tcpQuote returns the quote of one of our segments from local to remote
// with sequence number seq and n bytes of data: IP header and 8 bytes.
func tcpQuote(local, remote netip.AddrPort, seq tcp.Seq, n int) []byte {
	return quote(packet(local, remote, &wire.TCPSegment{Seq: seq, Flags: wire.ACK, Payload: make([]byte, n)}))
}

// RFC 5927 §4.1: an ICMP error whose quoted sequence number is not in
// flight is ignored and counted; one that is in flight applies. In
// ESTABLISHED even port unreachable is only a soft error, and
// fragmentation needed lowers the MSS and resends what is in flight at
// once; from a router older than RFC 1191 (no MTU), to RFC 1191 §5's
// plateau below the dropped packet's length, here raised to the 576-byte
// floor.
func TestICMPErrorWindow(t *testing.T) {
	s, peer := icmpStack(t, Options{})
	c, local, remote, iss := dialRaw(t, s, peer, "10.0.0.9:80")
	// recvData returns the sizes of the segments that carry the 3000
	// bytes from ISS+1, which must come in order.
	recvData := func() []int {
		t.Helper()
		var sizes []int
		for next := iss + 1; next != iss+3001; {
			_, seg := peer.recv()
			if seg.Seq != next || len(seg.Payload) == 0 {
				t.Fatalf("segment %+v, want data from %d", seg, next)
			}
			sizes = append(sizes, len(seg.Payload))
			next = next.Add(uint32(len(seg.Payload)))
		}
		return sizes
	}
	if _, err := c.Write(make([]byte, 3000)); err != nil {
		t.Fatal(err)
	}
	if got := recvData(); len(got) != 3 || got[0] != 1460 {
		t.Fatalf("segments of %v bytes, want 1460, 1460, 80", got)
	}
	// 3000 bytes in flight: [ISS+1, ISS+3001).
	sendICMP := func(code uint8, mtu uint32, seq tcp.Seq, n int) {
		peer.send(icmpPacket(router4, local.Addr(), wire.ICMPMessage{Type: wire.ICMPv4DestUnreachable, Code: code, MTU: mtu,
			Body: tcpQuote(local, remote, seq, n)}))
	}
	sendICMP(wire.ICMPv4HostUnreachable, 0, iss+3001, 0)
	sendICMP(wire.ICMPv4PortUnreachable, 0, iss, 0)
	sendICMP(wire.ICMPv4FragmentationNeeded, 1000, iss+5000, 1460)
	waitFor(t, peer.sm, "three out-of-window errors", func() bool { return s.Stats().Drops.ICMP.OutOfWindow == 3 })
	if st := c.Stats(); st.State != tcp.StateEstablished || st.MSS != 1460 || s.Stats().ICMPErrors != 0 {
		t.Fatalf("after out-of-window errors: %v MSS %d, %d applied", st.State, st.MSS, s.Stats().ICMPErrors)
	}

	sendICMP(wire.ICMPv4FragmentationNeeded, 1000, iss+1, 1460)
	if got := recvData(); len(got) != 4 || got[0] != 960 {
		t.Fatalf("resent in segments of %v bytes, want 960, 960, 960, 120", got)
	}
	if st := c.Stats(); st.MSS != 1000-40 || s.Stats().PMTUReductions != 1 {
		t.Fatalf("MSS %d (want 960), %d PMTU reductions", st.MSS, s.Stats().PMTUReductions)
	}
	sendICMP(wire.ICMPv4FragmentationNeeded, 0, iss+1, 960)
	if got := recvData(); len(got) != 6 || got[0] != 536 {
		t.Fatalf("resent in segments of %v bytes, want five of 536 and one of 320", got)
	}
	if st := c.Stats(); st.MSS != inet.MinPathMTU4-40 || s.Stats().PMTUReductions != 2 {
		t.Fatalf("MSS %d (want 536), %d PMTU reductions", st.MSS, s.Stats().PMTUReductions)
	}
	sendICMP(wire.ICMPv4PortUnreachable, 0, iss+50, 536)
	waitFor(t, peer.sm, "three errors applied", func() bool { return s.Stats().ICMPErrors == 3 })
	if st := c.Stats(); st.State != tcp.StateEstablished {
		t.Fatalf("port unreachable ended an established connection: %v", st.State)
	}

	// Once the data is acknowledged nothing is in flight; an error for
	// another port is for no connection.
	peer.sendSeg(remote, local, wire.TCPSegment{Seq: 1001, Ack: iss + 3001, Flags: wire.ACK, Window: 65535})
	waitFor(t, peer.sm, "the ACK", func() bool { return c.Stats().BytesAcked == 3000 })
	sendICMP(wire.ICMPv4HostUnreachable, 0, iss+1, 536)
	sendICMP(wire.ICMPv4HostUnreachable, 0, iss+3001, 536)
	peer.send(icmpPacket(router4, local.Addr(), wire.ICMPMessage{Type: wire.ICMPv4DestUnreachable, Code: wire.ICMPv4HostUnreachable,
		Body: tcpQuote(netip.AddrPortFrom(local.Addr(), local.Port()+1), remote, iss+1, 0)}))
	waitFor(t, peer.sm, "the last three errors", func() bool {
		d := s.Stats().Drops.ICMP
		return d.OutOfWindow == 5 && d.NoConn == 1
	})
	if st := s.Stats(); st.ICMPErrors != 3 || c.Stats().State != tcp.StateEstablished {
		t.Fatalf("stats %+v, state %v", st, c.Stats().State)
	}
}

// routed joins a client and a server stack through a router whose link
// toward the server has an MTU of mtu: bigger packets from the client are
// dropped and answered with a fragmentation-needed (IPv4) or packet-too-big
// (IPv6) message quoting them, as much as fits in 576 or 1280 bytes (RFC
// 1812 §4.3.2.3, RFC 4443 §2.4 (c)). It returns how many it dropped.
func routed(t *testing.T, mtu int, copts Options) (sm *sim.Sim, client, server *Stack, dropped *int) {
	t.Helper()
	sm = newSim(t)
	c, r1 := sm.Pipe(pipe.Config{})
	r2, srv := sm.Pipe(pipe.Config{})
	copts.Name, copts.Addrs = "client", []netip.Prefix{clientAddr, clientAddr6}
	client = newStack(t, sm, c, copts)
	server = newStack(t, sm, srv, Options{Name: "server", Addrs: []netip.Prefix{serverAddr, serverAddr6}})
	dropped = new(int)
	forward := func(from, to *sim.Endpoint, limit int) {
		for {
			p, err := from.ReadPacket(time.Time{})
			if err != nil {
				return
			}
			pkt := p.Data
			if limit == 0 || len(pkt) <= limit {
				to.WriteBatch([][]byte{pkt})
				continue
			}
			*dropped++
			var ip wire.IPPacket
			if wire.ParseIP(pkt, &ip) != nil {
				continue
			}
			m := wire.ICMPMessage{Type: wire.ICMPv4DestUnreachable, Code: wire.ICMPv4FragmentationNeeded, MTU: uint32(limit),
				Body: pkt[:min(len(pkt), 576-28)]}
			router := router4
			if ip.Src.Is6() {
				m = wire.ICMPMessage{Type: wire.ICMPv6PacketTooBig, MTU: uint32(limit), Body: pkt[:min(len(pkt), 1280-48)]}
				router = router6
			}
			from.WriteBatch([][]byte{icmpPacket(router, ip.Src, m)})
		}
	}
	sm.Go(func() { forward(r1, r2, mtu) })
	sm.Go(func() { forward(r2, r1, 0) })
	return sm, client, server, dropped
}

// A bulk transfer meets a path with a smaller MTU: the MSS goes down at the
// first fragmentation-needed or packet-too-big, the data in flight is sent
// again in segments that fit, no later segment is too big, and every byte
// arrives (SHA-256).
func TestPacketTooBigBulk(t *testing.T) {
	for _, c := range []struct {
		name, addr string
		mtu, hl    int
	}{
		{"IPv4 fragmentation needed", "10.0.0.2:80", 1006, 20},
		{"IPv6 packet too big", "[fd00::2]:80", 1280, 40},
	} {
		t.Run(c.name, func(t *testing.T) {
			// The tracer sees every segment the client sends, in order
			// with the MSS change (both happen under the connection's
			// lock): none may be too big once the MSS is down.
			var self *Stack
			late := 0
			tr := trace.Func(func(e *trace.Event) {
				if e.Kind == trace.SegmentOut && wire.IPHeaderLen(e.Remote.Addr())+e.Seg.Len() > c.mtu &&
					self != nil && self.ctr.pmtuReductions.Load() > 0 {
					late++
				}
			})
			sm, client, server, dropped := routed(t, c.mtu, Options{Tracer: tr})
			self = client
			conn, sconn := connected(t, client, server, c.addr)
			data := make([]byte, 8<<20)
			r := rand.New(rand.NewPCG(1191, 8201))
			for i := range data {
				data[i] = byte(r.Uint32())
			}
			sm.Go(func() {
				conn.Write(data)
				conn.CloseWrite()
			})
			h := sha256.New()
			if _, err := io.Copy(h, sconn); err != nil {
				t.Fatal(err)
			}
			if got, want := h.Sum(nil), sha256.Sum256(data); string(got) != string(want[:]) {
				t.Fatal("SHA-256 of the received bytes differs")
			}
			wantMSS := uint32(c.mtu - c.hl - 20 - 12) // timestamps on
			st := client.Stats()
			if conn.Stats().MSS != wantMSS || st.PMTUReductions != 1 || st.ICMPErrors < 1 || *dropped < 1 || late != 0 {
				t.Fatalf("MSS %d (want %d), %d PMTU reductions, %d ICMP errors, %d dropped, %d too big after the reduction",
					conn.Stats().MSS, wantMSS, st.PMTUReductions, st.ICMPErrors, *dropped, late)
			}
			t.Logf("%d packets too big, %d ICMP errors applied, %d retransmits", *dropped, st.ICMPErrors, st.Retransmits)
		})
	}
}
