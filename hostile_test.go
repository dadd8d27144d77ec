package synack

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/synack-go/synack/link"
	"github.com/synack-go/synack/link/pipe"
	"github.com/synack-go/synack/sim"
	"github.com/synack-go/synack/tcp"
	"github.com/synack-go/synack/wire"
)

// Attacks on a stack, each as an attacker would mount it: raw packets built
// with package wire, sent over a simulated link, bounded in virtual time.

// tap is a link endpoint that counts the packets its stack writes and
// remembers the last TCP segment among them, as an on-path observer would;
// inject sends a forged packet from the tap's side of the link, as if the
// stack had written it.
type tap struct {
	link.Endpoint
	written atomic.Uint64
	mu      sync.Mutex
	last    wire.TCPSegment // payload dropped
	lastLen int
}

func (t *tap) WriteBatch(pkts [][]byte) error {
	t.written.Add(uint64(len(pkts)))
	for _, p := range pkts {
		var ip wire.IPPacket
		var seg wire.TCPSegment
		if wire.ParseIP(p, &ip) != nil || ip.Protocol != wire.ProtoTCP || seg.Parse(wire.TCP(ip.Payload)) != nil {
			continue
		}
		t.mu.Lock()
		t.lastLen = len(seg.Payload)
		seg.Payload = nil
		t.last = seg
		t.mu.Unlock()
	}
	return t.Endpoint.WriteBatch(pkts)
}

// lastSeg returns the last TCP segment the stack wrote and its payload
// length.
func (t *tap) lastSeg() (wire.TCPSegment, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.last, t.lastLen
}

func (t *tap) inject(pkt []byte) error { return t.Endpoint.WriteBatch([][]byte{pkt}) }

// tapPair is pairOpts with a tap on each stack's end of the link.
func tapPair(t testing.TB, cfg pipe.Config, copts, sopts Options) (sm *sim.Sim, client, server *Stack, ct, st *tap) {
	t.Helper()
	sm = newSim(t)
	a, b := sm.Pipe(cfg)
	ct, st = &tap{Endpoint: a}, &tap{Endpoint: b}
	copts.Name, copts.Addrs = "client", []netip.Prefix{clientAddr, clientAddr6}
	sopts.Name, sopts.Addrs = "server", []netip.Prefix{serverAddr, serverAddr6}
	return sm, newStack(t, sm, ct, copts), newStack(t, sm, st, sopts), ct, st
}

// observe lets d of virtual time pass and returns how many packets the
// taps carried meanwhile.
func observe(sm *sim.Sim, d time.Duration, taps ...*tap) uint64 {
	var before uint64
	for _, t := range taps {
		before += t.written.Load()
	}
	sm.Sleep(d)
	var after uint64
	for _, t := range taps {
		after += t.written.Load()
	}
	return after - before
}

// One data byte forged in the client's name at the server's RCV.NXT puts
// the two stacks out of step: the server acknowledges a byte the client
// never sent, and the client's answer lies below the server's window. Each
// used to answer the other at once, forever: about 1.3 million ACKs a
// second between two idle ESTABLISHED connections, a core busy. Replies to
// unacceptable segments are now rate-limited per connection (one per
// 500 ms, Linux's tcp_invalid_ratelimit) and per stack (RFC 5961 §7).
func TestAckStormInjectedByte(t *testing.T) {
	sm, client, server, ct, st := tapPair(t, pipe.Config{}, Options{}, Options{})
	c, s := connected(t, client, server, "10.0.0.2:80")
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := s.Read(buf); err != nil {
		t.Fatal(err)
	}
	observe(sm, 100*time.Millisecond, ct, st) // the delayed ACK goes out
	last, n := ct.lastSeg()
	forged := wire.TCPSegment{Seq: last.Seq.Add(uint32(n)), Ack: last.Ack, Flags: wire.ACK | wire.PSH,
		Window: last.Window, Payload: []byte("X")}
	if err := ct.inject(packet(c.key.local, c.key.remote, &forged)); err != nil {
		t.Fatal(err)
	}
	pkts := observe(sm, 2*time.Second, ct, st)
	t.Logf("%d packets in the 2 s after one injected byte", pkts)
	if pkts > 8 {
		t.Fatalf("%d packets in the 2 s after one injected byte: an ACK storm", pkts)
	}
	if state(c) != state(s) || client.Stats().RepliesLimited+server.Stats().RepliesLimited == 0 {
		t.Fatalf("states %v/%v, replies limited %d/%d", state(c), state(s),
			client.Stats().RepliesLimited, server.Stats().RepliesLimited)
	}
}

// upload sends size bytes from c to s and checks that s receives them
// unchanged, failing after limit.
// The time it took, on the stacks' clock, is returned.
func upload(t testing.TB, c, s *Conn, size int, limit time.Duration) time.Duration {
	t.Helper()
	return uploadData(t, c, s, randomBytes(size), limit)
}

// randomBytes returns n bytes of a seeded random stream.
func randomBytes(n int) []byte {
	data := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(n), 7}).Read(data)
	return data
}

// uploadData is upload with the data given.
func uploadData(t testing.TB, c, s *Conn, data []byte, limit time.Duration) time.Duration {
	t.Helper()
	size := len(data)
	want := sha256.Sum256(data)
	sm := simOf(c.s)
	began := sm.Now()
	written := start(sm, func() (int, error) { return c.Write(data) })
	h := sha256.New()
	s.SetReadDeadline(sm.Now().Add(limit))
	if n, err := io.CopyN(h, s, int64(size)); err != nil {
		t.Fatalf("received %d of %d bytes: %v", n, size, err)
	}
	el := sm.Now().Sub(began)
	if _, err := written.get(t); err != nil {
		t.Fatal(err)
	}
	if got := h.Sum(nil); !bytes.Equal(got, want[:]) {
		t.Fatal("SHA-256 of the received bytes differs")
	}
	return el
}

// A blind spray of out-of-window pure ACKs at the server, in the client's
// name, used to make the server answer each, and the client, uploading,
// took the answers for duplicate ACKs: an 8 MiB transfer over a
// 200 Mbit/s, 5 ms path went from 0.5 s to 17 s with 1,447 spurious fast
// recoveries. The server now answers two a second, and on a SACK
// connection only a duplicate ACK with new SACK information counts
// (RFC 6675 §2). The test asserts what the slowdown came from (spurious
// recoveries and duplicate ACKs) and logs the slowdown itself;
// BenchmarkSpraySlowdown reports it too. All on virtual time.
func TestBlindAckSprayNoDupAcks(t *testing.T) {
	plain, sprayed := sprayRun(t, false), sprayRun(t, true)
	t.Logf("8 MiB upload: %v without a spray, %v with (%.2fx)", plain.el, sprayed.el, float64(sprayed.el)/float64(plain.el))
	if sprayed.sent < 1000 {
		t.Fatalf("the spray sent only %d ACKs", sprayed.sent)
	}
	if sprayed.st.FastRecov != 0 || sprayed.st.DupAcksIn > 20 {
		t.Fatalf("client under a spray of %d ACKs: %d fast recoveries, %d duplicate ACKs counted",
			sprayed.sent, sprayed.st.FastRecov, sprayed.st.DupAcksIn)
	}
}

type sprayResult struct {
	el   time.Duration
	sent int       // forged ACKs sent
	st   tcp.Stats // the client's connection
}

// sprayRun uploads 8 MiB over a 200 Mbit/s, 5 ms path, with or without a
// spray of about 17,000 forged out-of-window ACKs a second at the server.
func sprayRun(t testing.TB, spray bool) sprayResult {
	sm, client, server, ct, _ := tapPair(t, pipe.Config{Delay: 5 * time.Millisecond, RateBitsPerSec: 200e6, QueueBytes: 16 << 20},
		Options{}, Options{})
	c, s := connected(t, client, server, "10.0.0.2:80")
	defer c.Close()
	defer s.Close()
	done, stopped := false, false
	var sent atomic.Int64
	if spray {
		sm.Go(func() {
			defer func() { stopped = true }()
			rng := rand.New(rand.NewPCG(1, 2))
			pkts := make([][]byte, 17)
			for !done {
				sm.Sleep(time.Millisecond)
				for i := range pkts {
					seg := wire.TCPSegment{Seq: wire.Seq(rng.Uint32()), Ack: wire.Seq(rng.Uint32()), Flags: wire.ACK, Window: 1000}
					pkts[i] = packet(c.key.local, c.key.remote, &seg)
				}
				if ct.Endpoint.WriteBatch(pkts) != nil {
					return
				}
				sent.Add(int64(len(pkts)))
			}
		})
	} else {
		stopped = true
	}
	el := upload(t, c, s, 8<<20, 60*time.Second)
	done = true
	waitFor(t, sm, "the spray to stop", func() bool { return stopped })
	return sprayResult{el: el, sent: int(sent.Load()), st: c.Stats()}
}

// BenchmarkSpraySlowdown reports how much slower an 8 MiB upload over a
// 200 Mbit/s, 5 ms path is under a blind spray of about 17,000
// out-of-window ACKs a second (TestBlindAckSprayNoDupAcks), on virtual
// time: the figures replay.
func BenchmarkSpraySlowdown(b *testing.B) {
	var plain, sprayed time.Duration
	for b.Loop() {
		plain += sprayRun(b, false).el
		sprayed += sprayRun(b, true).el
	}
	b.ReportMetric(float64(sprayed)/float64(plain), "slowdown")
	b.ReportMetric(sprayed.Seconds()/float64(b.N), "s/sprayed-upload")
}

// rawConn is a connection whose peer end is played by hand: the raw peer
// at local talks to the stack at remote.
type rawConn struct {
	t              testing.TB
	peer           *rawPeer
	local, remote  netip.AddrPort // the raw peer's and the stack's ends
	sndNxt, rcvNxt wire.Seq       // the raw peer's sequence space
	ts             bool
}

// rawDial plays a client's three-way handshake with the stack's listener
// ln at remote, from local, offering opts in the SYN, and returns the
// accepted connection.
func rawDial(t testing.TB, peer *rawPeer, ln net.Listener, local, remote netip.AddrPort, opts wire.TCPOptions) (*rawConn, *Conn) {
	t.Helper()
	accepted := start(peer.sm, ln.Accept)
	r := &rawConn{t: t, peer: peer, local: local, remote: remote, sndNxt: 1000, ts: opts.HasTS}
	peer.sendSeg(local, remote, wire.TCPSegment{Seq: r.sndNxt, Flags: wire.SYN, Window: 65535, Options: opts})
	synAck := r.recv()
	if synAck.Flags != wire.SYN|wire.ACK || synAck.Ack != r.sndNxt+1 {
		t.Fatalf("answer to the SYN: %+v", synAck)
	}
	r.sndNxt++
	r.rcvNxt = synAck.Seq + 1
	r.ack(65535)
	c, err := accepted.get(t)
	if err != nil {
		t.Fatal(err)
	}
	return r, c.(*Conn)
}

// recv returns the next segment the stack sends to the raw peer's port.
func (r *rawConn) recv() wire.TCPSegment {
	r.t.Helper()
	return r.peer.recvTo(r.local.Port())
}

// send sends seg from the raw peer, with its ports and, when the
// connection uses them, a timestamp.
func (r *rawConn) send(seg wire.TCPSegment) {
	r.t.Helper()
	if r.ts && !seg.Options.HasTS {
		seg.Options.HasTS, seg.Options.TSVal = true, 1000+uint32(r.peer.sm.Elapsed().Milliseconds())
	}
	r.peer.sendSeg(r.local, r.remote, seg)
}

// ack acknowledges everything received so far, offering window wnd.
func (r *rawConn) ack(wnd uint16) {
	r.send(wire.TCPSegment{Seq: r.sndNxt, Ack: r.rcvNxt, Flags: wire.ACK, Window: wnd})
}

// A peer announcing an MSS of 1 to 11 bytes, with timestamps (12 bytes
// of options in every segment), used to underflow the send MSS to about
// 4 GiB: every data segment was then too big for the link, dropped, and
// the connection hung for 15 minutes holding its buffer. The send MSS is
// now clamped to Linux's floor, 48 bytes of payload, and to what the link
// carries.
func TestTinyPeerMSS(t *testing.T) {
	s, peer := icmpStack(t, Options{})
	ln, err := s.Listen("tcp", "10.0.0.1:80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for i, mss := range []uint16{1, 11, 12, 47} {
		local := netip.AddrPortFrom(netip.MustParseAddr("10.0.0.9"), uint16(5000+i))
		r, c := rawDial(t, peer, ln, local, netip.MustParseAddrPort("10.0.0.1:80"),
			wire.TCPOptions{MSS: mss, HasTS: true, TSVal: 1, SACKPermitted: true, HasWScale: true})
		data := make([]byte, 4000)
		if _, err := c.Write(data); err != nil {
			t.Fatal(err)
		}
		got := 0
		for got < len(data) {
			seg := r.recv()
			if n := len(seg.Payload); n == 0 || n > 48 {
				t.Fatalf("MSS %d: a segment of %d bytes, want 1 to 48", mss, n)
			}
			if seg.Seq == r.rcvNxt {
				r.rcvNxt = r.rcvNxt.Add(uint32(len(seg.Payload)))
				got += len(seg.Payload)
				r.ack(65535)
			}
		}
		if st := c.Stats(); st.MSS != 48 {
			t.Fatalf("MSS %d: send MSS %d, want 48", mss, st.MSS)
		}
		c.Close()
	}
	if d := s.Stats().Drops.TooBig; d != 0 {
		t.Fatalf("%d segments too big for the link", d)
	}
}

// A receiver may drop data it has SACKed (RFC 2018 §8). This one, a raw
// peer, loses the stack's first segment, SACKs the next two, takes the
// first one's retransmission after the timeout and then reneges: it
// acknowledges only that segment and keeps only in-order data from then
// on. The stack used to keep the scoreboard across the timeout and skip
// the SACKed data at every retransmission: the peer got one segment of
// 64 KiB and the connection died. Now the timeout forgets the scoreboard
// (RFC 6675 §5.1).
func TestSACKRenegingPeer(t *testing.T) {
	s, peer := icmpStack(t, Options{})
	ln, err := s.Listen("tcp", "10.0.0.1:80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	r, c := rawDial(t, peer, ln, netip.MustParseAddrPort("10.0.0.9:5000"), netip.MustParseAddrPort("10.0.0.1:80"),
		wire.TCPOptions{MSS: 1000, SACKPermitted: true})
	const total = 64 << 10
	peer.sm.Go(func() { c.Write(make([]byte, total)) })
	first, end := r.rcvNxt, r.rcvNxt.Add(total)
	held, sacked, reneged := false, false, false
	ack := func(sack bool) {
		seg := wire.TCPSegment{Seq: r.sndNxt, Ack: r.rcvNxt, Flags: wire.ACK, Window: 65535}
		if sack {
			seg.Options.NumSACK = 1
			seg.Options.SACK[0] = wire.SACKBlock{Left: first + 1000, Right: first + 3000}
		}
		r.send(seg)
	}
	deadline := peer.sm.Now().Add(10 * time.Second)
	for r.rcvNxt != end && peer.sm.Now().Before(deadline) {
		_, seg, ok := peer.recvWithin(deadline.Sub(peer.sm.Now()))
		if !ok || seg.DstPort != r.local.Port() || len(seg.Payload) == 0 {
			continue
		}
		segEnd := seg.Seq.Add(uint32(len(seg.Payload)))
		switch {
		case !held:
			held = true // the first segment is lost
		case !reneged && seg.Seq == first:
			r.rcvNxt, reneged = segEnd, true // its retransmission: now renege
			ack(false)
		case !reneged:
			if !sacked && segEnd == first+3000 {
				sacked = true
				ack(true)
			}
		case seg.Seq.LessEq(r.rcvNxt) && segEnd.Greater(r.rcvNxt):
			r.rcvNxt = segEnd
			ack(false)
		default:
			ack(false)
		}
	}
	if r.rcvNxt != end || !sacked {
		t.Fatalf("the reneging peer got %d of %d bytes in 10 s (SACK sent: %v); connection %+v",
			r.rcvNxt.Sub(first), total, sacked, c.Stats())
	}
}

// zeroWindowPeer accepts a connection from a raw peer whose window takes
// the first 1,000 bytes the stack writes and then closes: it acknowledges
// them with window 0, so that nothing is in flight and the stack has 64 KiB
// queued behind the closed window.
func zeroWindowPeer(t *testing.T, opts Options, port uint16) (*Stack, *rawConn, *Conn) {
	s, peer := icmpStack(t, opts)
	ln, err := s.Listen("tcp", "10.0.0.1:80")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	r, c := rawDial(t, peer, ln, netip.AddrPortFrom(netip.MustParseAddr("10.0.0.9"), port),
		netip.MustParseAddrPort("10.0.0.1:80"), wire.TCPOptions{MSS: 1000})
	r.ack(1000) // room for one segment
	waitFor(t, peer.sm, "the window update", func() bool { return c.Stats().SndWnd == 1000 })
	if _, err := c.Write(make([]byte, 64<<10)); err != nil {
		t.Fatal(err)
	}
	for {
		seg := r.recv()
		if seg.Seq == r.rcvNxt && len(seg.Payload) > 0 {
			r.rcvNxt = r.rcvNxt.Add(uint32(len(seg.Payload)))
			r.ack(0)
			return s, r, c
		}
	}
}

// An orphan (closed by its user with data still queued) whose peer answers
// every zero-window probe with window 0 used to stay in FIN_WAIT_1
// forever, keeping its buffer. It now gives up after TCP.OrphanRetries
// probes (3 here; 8 by default, Linux's tcp_orphan_retries).
func TestOrphanZeroWindowPeer(t *testing.T) {
	s, r, c := zeroWindowPeer(t, Options{TCP: tcp.Config{OrphanRetries: 3}}, 5000)
	c.Close()
	if st := s.Stats(); st.Orphans != 1 {
		t.Fatalf("%d orphans after Close, want 1", st.Orphans)
	}
	deadline := r.peer.sm.Now().Add(10 * time.Second)
	probes := 0
	for len(s.Connections()) > 0 && r.peer.sm.Now().Before(deadline) {
		if _, seg, ok := r.peer.recvWithin(100 * time.Millisecond); ok && seg.DstPort == r.local.Port() {
			probes++
			r.ack(0) // "my window is still 0"
		}
	}
	if n := len(s.Connections()); n != 0 {
		t.Fatalf("the orphan is still there after %d probes answered with window 0: %+v", probes, s.Connections())
	}
	if st := s.Stats(); st.Orphans != 0 || st.OrphansTimedOut != 1 {
		t.Fatalf("orphans %d, timed out %d; want 0, 1", st.Orphans, st.OrphansTimedOut)
	}
}

// A peer that closes its window and falls silent: the connection used to
// live on (12 s later, with a 2 s DataRetryTimeout, it was still there).
// Unanswered probes now end it with ETIMEDOUT once the timeout has passed
// since the peer was last heard.
func TestZeroWindowSilentPeer(t *testing.T) {
	_, r, c := zeroWindowPeer(t, Options{TCP: tcp.Config{DataRetryTimeout: 2 * time.Second}}, 5001)
	c.SetReadDeadline(r.peer.sm.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, syscall.ETIMEDOUT) {
		t.Fatalf("Read: %v, want ETIMEDOUT", err)
	}
}

// Options.MaxOrphans bounds the connections closed by their user that are
// still finishing; a Close beyond it resets the connection.
func TestMaxOrphans(t *testing.T) {
	s, r, c := zeroWindowPeer(t, Options{MaxOrphans: 1}, 5002)
	c.Close()
	ln, err := s.Listen("tcp", "10.0.0.1:81")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	r2, c2 := rawDial(t, r.peer, ln, netip.MustParseAddrPort("10.0.0.9:5003"), netip.MustParseAddrPort("10.0.0.1:81"),
		wire.TCPOptions{MSS: 1000})
	r2.ack(0)
	c2.Write([]byte("unsent"))
	c2.Close()
	for {
		if seg := r2.recv(); seg.Flags&wire.RST != 0 {
			break
		}
	}
	if st := s.Stats(); st.Orphans != 1 || st.OrphansReset != 1 {
		t.Fatalf("orphans %d, reset %d; want 1, 1", st.Orphans, st.OrphansReset)
	}
}

// Echo replies are rate-limited like Linux's icmp_msgs_per_sec (1000 a
// second, bursts of 50): a flood of pings draws out a burst and then the
// rate, the rest is counted and dropped.
func TestEchoRateLimit(t *testing.T) {
	s, peer := icmpStack(t, Options{EchoRateLimit: 100})
	me := clientAddr.Addr()
	const flood = 400
	pkts := make([][]byte, flood)
	for i := range pkts {
		pkts[i] = icmpPacket(router4, me, wire.ICMPMessage{Type: wire.ICMPv4EchoRequest, Ident: 1, SeqNum: uint16(i)})
	}
	began := peer.sm.Now()
	peer.send(pkts...)
	replies := 0
	for {
		if _, _, ok := peer.recvICMP(200 * time.Millisecond); !ok {
			break
		}
		replies++
	}
	el := peer.sm.Now().Sub(began) // virtual time
	st := s.Stats()
	if max := 50 + int(el.Seconds()*100) + 1; replies < 50 || replies > max {
		t.Fatalf("%d replies to %d pings in %v, want 50 to %d", replies, flood, el, max)
	}
	if st.EchoRequests != uint64(replies) || st.Drops.ICMP.RateLimited != uint64(flood-replies) {
		t.Fatalf("%d replies: stats %+v", replies, st)
	}
}

// TCP from a source that names no single host (broadcast, our subnet's
// directed broadcast, multicast, unspecified, loopback on a link) and SYNs
// with RST or FIN are dropped and counted, never answered.
func TestBadSourcesAndFlags(t *testing.T) {
	s, peer := icmpStack(t, Options{})
	ln, err := s.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dst := netip.MustParseAddrPort("10.0.0.1:80")
	bad := []string{"255.255.255.255", "10.0.0.255", "224.0.0.1", "0.0.0.0", "127.0.0.1"}
	for _, a := range bad {
		peer.sendSeg(netip.AddrPortFrom(netip.MustParseAddr(a), 5000), dst, wire.TCPSegment{Seq: 1, Flags: wire.SYN, Window: 1000})
	}
	for _, a := range []string{"ff02::1", "::", "::1"} {
		peer.sendSeg(netip.AddrPortFrom(netip.MustParseAddr(a), 5000), netip.MustParseAddrPort("[fd00::1]:80"),
			wire.TCPSegment{Seq: 1, Flags: wire.SYN, Window: 1000})
	}
	src := netip.MustParseAddrPort("10.0.0.9:5000")
	for _, f := range []wire.TCPFlags{wire.SYN | wire.RST, wire.SYN | wire.FIN, wire.SYN | wire.FIN | wire.ACK, wire.SYN | wire.RST | wire.ACK} {
		peer.sendSeg(src, dst, wire.TCPSegment{Seq: 1, Flags: f, Window: 1000})
	}
	peer.sendSeg(src, dst, wire.TCPSegment{Seq: 1, Flags: wire.RST})
	if _, seg, ok := peer.recvWithin(100 * time.Millisecond); ok {
		t.Fatalf("the stack answered: %+v", seg)
	}
	st := s.Stats()
	if st.Drops.BadSource != 8 || st.Drops.BadFlags != 4 || st.Drops.NoConn != 1 || st.PassiveOpens != 0 {
		t.Fatalf("drops %+v, passive opens %d", st.Drops, st.PassiveOpens)
	}
}

// RSTs to segments of no connection come out of a budget like the other
// replies to unacceptable segments (Options.InvalidReplyLimit).
func TestStrayRSTsLimited(t *testing.T) {
	s, peer := icmpStack(t, Options{InvalidReplyLimit: 20})
	pkts := make([][]byte, 500)
	for i := range pkts {
		pkts[i] = packet(netip.AddrPortFrom(netip.MustParseAddr("10.0.0.9"), uint16(1000+i)), netip.MustParseAddrPort("10.0.0.1:81"),
			&wire.TCPSegment{Seq: 1, Ack: 1, Flags: wire.ACK, Window: 1000})
	}
	peer.send(pkts...)
	rsts := 0
	for {
		if _, _, ok := peer.recvWithin(200 * time.Millisecond); !ok {
			break
		}
		rsts++
	}
	st := s.Stats()
	if rsts == 0 || rsts > 60 || st.Drops.RSTLimited != uint64(500-rsts) || st.Drops.NoConn != 500 {
		t.Fatalf("%d RSTs for 500 strays: drops %+v", rsts, st.Drops)
	}
}

// closeToTimeWait accepts a connection from the raw peer at local, closes
// it from the stack's side and plays the peer's FIN, so that the stack's
// end enters TIME_WAIT; it returns the raw connection after the stack's
// last ACK.
func closeToTimeWait(t *testing.T, s *Stack, peer *rawPeer, ln net.Listener, local netip.AddrPort, opts wire.TCPOptions) *rawConn {
	t.Helper()
	r, c := rawDial(t, peer, ln, local, netip.MustParseAddrPort("10.0.0.1:80"), opts)
	c.Close()
	fin := r.recv()
	if fin.Flags&wire.FIN == 0 {
		t.Fatalf("want the stack's FIN, got %+v", fin)
	}
	r.rcvNxt = fin.Seq + 1
	r.send(wire.TCPSegment{Seq: r.sndNxt, Ack: r.rcvNxt, Flags: wire.FIN | wire.ACK, Window: 65535})
	r.sndNxt++
	if ack := r.recv(); ack.Flags != wire.ACK || ack.Ack != r.sndNxt {
		t.Fatalf("want the ACK of our FIN, got %+v", ack)
	}
	return r
}

// A connection in TIME_WAIT lives on as an entry of the stack's table, not
// a Conn: it answers a retransmitted FIN (its last ACK may have been lost),
// answers out-of-window segments at most once per 500 ms, ends at a RST at
// RCV.NXT, and the table is capped by Options.MaxTimeWait.
func TestTimeWaitTable(t *testing.T) {
	s, peer := icmpStack(t, Options{MaxTimeWait: 2})
	ln, err := s.Listen("tcp", "10.0.0.1:80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	r := closeToTimeWait(t, s, peer, ln, netip.MustParseAddrPort("10.0.0.9:5000"), wire.TCPOptions{MSS: 1460, HasTS: true, TSVal: 1})
	if st := s.Stats(); st.TimeWait != 1 || s.connCount() != 0 {
		t.Fatalf("TIME_WAIT %d, flow table %d; want 1 and 0", st.TimeWait, s.connCount())
	}
	// The FIN again: its ACK again.
	r.send(wire.TCPSegment{Seq: r.sndNxt - 1, Ack: r.rcvNxt, Flags: wire.FIN | wire.ACK, Window: 65535})
	if ack := r.recv(); ack.Flags != wire.ACK || ack.Seq != r.rcvNxt || ack.Ack != r.sndNxt || !ack.Options.HasTS {
		t.Fatalf("answer to the retransmitted FIN: %+v", ack)
	}
	// Ten out-of-window ACKs at once: one answer.
	for range 10 {
		r.send(wire.TCPSegment{Seq: r.sndNxt + 100000, Ack: r.rcvNxt, Flags: wire.ACK, Window: 65535})
	}
	replies := 0
	for {
		if _, _, ok := peer.recvWithin(100 * time.Millisecond); !ok {
			break
		}
		replies++
	}
	if replies != 1 {
		t.Fatalf("%d answers to 10 out-of-window ACKs in TIME_WAIT, want 1", replies)
	}
	// Two more closes: the table holds two, the third overflows.
	closeToTimeWait(t, s, peer, ln, netip.MustParseAddrPort("10.0.0.9:5001"), wire.TCPOptions{MSS: 1460})
	closeToTimeWait(t, s, peer, ln, netip.MustParseAddrPort("10.0.0.9:5002"), wire.TCPOptions{MSS: 1460})
	if st := s.Stats(); st.TimeWait != 2 || st.TimeWaitOverflow != 1 {
		t.Fatalf("TIME_WAIT %d, overflow %d; want 2, 1", st.TimeWait, st.TimeWaitOverflow)
	}
	// A RST at RCV.NXT ends it; one elsewhere does not.
	r.send(wire.TCPSegment{Seq: r.sndNxt + 5, Flags: wire.RST})
	r.send(wire.TCPSegment{Seq: r.sndNxt, Flags: wire.RST})
	waitFor(t, peer.sm, "the RST", func() bool { return s.Stats().TimeWait == 1 })
	if list := s.Connections(); len(list) != 1 || list[0].Stats.State != tcp.StateTimeWait || list[0].Remote.Port() != 5001 {
		t.Fatalf("connections: %+v", list)
	}
}

// At the memory limit, orphans that still hold data are reset (Linux's
// tcp_out_of_resources): nobody waits for them, and their buffers could
// not drain otherwise.
func TestOrphanResetAtMemoryLimit(t *testing.T) {
	s, r, c := zeroWindowPeer(t, Options{MemoryLimit: 64 << 10}, 5004)
	if st := s.Stats().Memory; st.Used < st.Limit {
		t.Fatalf("memory %+v: the test wants the limit reached", st)
	}
	c.Close()
	r.ack(0) // any segment: the sweep runs after a batch
	for {
		if seg := r.recv(); seg.Flags&wire.RST != 0 {
			break
		}
	}
	waitFor(t, r.peer.sm, "the reset", func() bool { return len(s.Connections()) == 0 })
	if st := s.Stats(); st.OrphansReset != 1 || st.Memory.Used != 0 {
		t.Fatalf("orphans reset %d, memory %+v", st.OrphansReset, st.Memory)
	}
}
