package synack

import (
	"bytes"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/synack-go/synack/link"
	"github.com/synack-go/synack/link/pipe"
	"github.com/synack-go/synack/tcp"
	"github.com/synack-go/synack/wire"
)

// Attacks on a stack, each as an attacker would mount it: raw packets built
// with package wire, sent over link/pipe, and bounded in time.

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
func tapPair(t testing.TB, cfg pipe.Config, copts, sopts Options) (client, server *Stack, ct, st *tap) {
	t.Helper()
	a, b := pipe.New(cfg)
	ct, st = &tap{Endpoint: a}, &tap{Endpoint: b}
	copts.Name, copts.Addrs = "client", []netip.Prefix{clientAddr, clientAddr6}
	sopts.Name, sopts.Addrs = "server", []netip.Prefix{serverAddr, serverAddr6}
	var err error
	if client, err = NewStack(ct, copts); err != nil {
		t.Fatal(err)
	}
	if server, err = NewStack(st, sopts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		client.Close()
		server.Close()
	})
	return client, server, ct, st
}

// observe waits d and returns how many packets the two taps carried
// meanwhile.
func observe(d time.Duration, taps ...*tap) uint64 {
	var before uint64
	for _, t := range taps {
		before += t.written.Load()
	}
	<-time.After(d)
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
	client, server, ct, st := tapPair(t, pipe.Config{}, Options{}, Options{})
	c, s := connected(t, client, server, "10.0.0.2:80")
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := s.Read(buf); err != nil {
		t.Fatal(err)
	}
	observe(100*time.Millisecond, ct, st) // the delayed ACK goes out
	last, n := ct.lastSeg()
	forged := wire.TCPSegment{Seq: last.Seq.Add(uint32(n)), Ack: last.Ack, Flags: wire.ACK | wire.PSH,
		Window: last.Window, Payload: []byte("X")}
	if err := ct.inject(packet(c.key.local, c.key.remote, &forged)); err != nil {
		t.Fatal(err)
	}
	pkts := observe(2*time.Second, ct, st)
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
func upload(t testing.TB, c, s *Conn, size int, limit time.Duration) time.Duration {
	t.Helper()
	data := make([]byte, size)
	rand.NewChaCha8([32]byte{byte(size), 7}).Read(data)
	want := sha256.Sum256(data)
	start := time.Now()
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		errc <- err
	}()
	h := sha256.New()
	s.SetReadDeadline(time.Now().Add(limit))
	if n, err := io.CopyN(h, s, int64(size)); err != nil {
		t.Fatalf("received %d of %d bytes: %v", n, size, err)
	}
	el := time.Since(start)
	if err := <-errc; err != nil {
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
// BenchmarkSpraySlowdown measures it.
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
	client, server, ct, _ := tapPair(t, pipe.Config{Delay: 5 * time.Millisecond, RateBitsPerSec: 200e6, QueueBytes: 16 << 20},
		Options{}, Options{})
	c, s := connected(t, client, server, "10.0.0.2:80")
	defer c.Close()
	defer s.Close()
	done := make(chan struct{})
	var sent atomic.Int64
	var wg sync.WaitGroup
	if spray {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(1, 2))
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			pkts := make([][]byte, 17)
			for {
				select {
				case <-done:
					return
				case <-tick.C:
				}
				for i := range pkts {
					seg := wire.TCPSegment{Seq: wire.Seq(rng.Uint32()), Ack: wire.Seq(rng.Uint32()), Flags: wire.ACK, Window: 1000}
					pkts[i] = packet(c.key.local, c.key.remote, &seg)
				}
				if ct.Endpoint.WriteBatch(pkts) != nil {
					return
				}
				sent.Add(int64(len(pkts)))
			}
		}()
	}
	el := upload(t, c, s, 8<<20, 60*time.Second)
	close(done)
	wg.Wait()
	return sprayResult{el: el, sent: int(sent.Load()), st: c.Stats()}
}

// BenchmarkSpraySlowdown reports how much slower an 8 MiB upload over a
// 200 Mbit/s, 5 ms path is under a blind spray of about 17,000
// out-of-window ACKs a second (TestBlindAckSprayNoDupAcks).
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
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		ch <- res{c, err}
	}()
	r := &rawConn{t: t, peer: peer, local: local, remote: remote, sndNxt: 1000, ts: opts.HasTS}
	peer.sendSeg(local, remote, wire.TCPSegment{Seq: r.sndNxt, Flags: wire.SYN, Window: 65535, Options: opts})
	synAck := r.recv()
	if synAck.Flags != wire.SYN|wire.ACK || synAck.Ack != r.sndNxt+1 {
		t.Fatalf("answer to the SYN: %+v", synAck)
	}
	r.sndNxt++
	r.rcvNxt = synAck.Seq + 1
	r.ack(65535)
	select {
	case res := <-ch:
		if res.err != nil {
			t.Fatal(res.err)
		}
		return r, res.c.(*Conn)
	case <-time.After(5 * time.Second):
		t.Fatal("Accept did not return")
	}
	return nil, nil
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
		seg.Options.HasTS, seg.Options.TSVal = true, uint32(time.Now().UnixMilli())
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
	go c.Write(make([]byte, total))
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
	deadline := time.Now().Add(10 * time.Second)
	for r.rcvNxt != end && time.Now().Before(deadline) {
		_, seg, ok := peer.recvWithin(time.Until(deadline))
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
