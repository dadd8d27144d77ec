package synack

import (
	"errors"
	"io"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/synack-go/synack/link"
	"github.com/synack-go/synack/link/pipe"
	"github.com/synack-go/synack/wire"
)

// readTap is a link endpoint that shows every TCP segment its stack reads
// to onRead first: an on-path attacker's view of what reaches a host.
type readTap struct {
	link.Endpoint
	onRead func(ip *wire.IPPacket, seg *wire.TCPSegment)
	ip     wire.IPPacket // reused: ReadBatch has one caller at a time
	seg    wire.TCPSegment
}

func (r *readTap) ReadBatch(bufs [][]byte, sizes []int) (int, error) {
	n, err := r.Endpoint.ReadBatch(bufs, sizes)
	for i := range n {
		if wire.ParseIP(bufs[i][:sizes[i]], &r.ip) == nil && r.ip.Protocol == wire.ProtoTCP && r.seg.Parse(wire.TCP(r.ip.Payload)) == nil {
			r.onRead(&r.ip, &r.seg)
		}
	}
	return n, err
}

// Many peers, each holding out-of-order data just past a hole it never
// fills, push a stack far past its Options.MemoryLimit; legitimate
// uploads run meanwhile. Out-of-order data is refused under pressure and
// pruned (the attackers' SACKed data reneged), windows stop growing, and
// the buffers held stay within the limit (plus at most a page per
// buffer, which every connection keeps so that it can move): the uploads
// complete with the right SHA-256, and the heap grows by less than the
// limit. Without a budget, the attackers would pin a megabyte each.
func TestMemoryLimitOutOfOrderFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("pushes 40 MiB of out-of-order data through a stack")
	}
	const (
		limit     = 16 << 20
		attackers = 48
		oooBytes  = 900 << 10 // per attacker, past a one-segment hole
		uploads   = 4
		uploadLen = 2 << 20
	)
	sm := newSim(t)
	a, b := sm.Pipe(pipe.Config{})
	rt := &readTap{Endpoint: a}
	dst := netip.MustParseAddrPort("10.0.0.2:80")
	// The attackers: handshakes with spoofed addresses, the SYN-ACKs
	// read off the client's link, as an on-path attacker would.
	type attacker struct {
		src      netip.AddrPort
		seq, ack wire.Seq
	}
	var mu sync.Mutex
	atk := map[netip.AddrPort]*attacker{}
	var ready atomic.Int32
	rt.onRead = func(ip *wire.IPPacket, seg *wire.TCPSegment) {
		mu.Lock()
		defer mu.Unlock()
		to := netip.AddrPortFrom(ip.Dst, seg.DstPort)
		x := atk[to]
		if x == nil || seg.Flags != wire.SYN|wire.ACK || x.ack != 0 {
			return
		}
		x.ack = seg.Seq + 1
		rt.Endpoint.WriteBatch([][]byte{packet(x.src, dst, &wire.TCPSegment{Seq: x.seq, Ack: x.ack, Flags: wire.ACK, Window: 65535})})
		ready.Add(1)
	}

	client := newStack(t, sm, rt, Options{Name: "client", Addrs: []netip.Prefix{clientAddr}, MemoryLimit: limit})
	server := newStack(t, sm, b, Options{Name: "server", Addrs: []netip.Prefix{serverAddr}, MemoryLimit: limit})
	ln, err := server.ListenAddrPort("tcp", netip.MustParseAddrPort("10.0.0.2:80"), 256)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted sync.Map // remote address → *Conn
	sm.Go(func() {
		for {
			c, err := ln.AcceptTCP()
			if err != nil {
				return
			}
			accepted.Store(c.RemoteAddr().String(), c)
		}
	})

	// The legitimate connections are made first: under pressure the
	// stack refuses new ones.
	var legit [uploads][2]*Conn
	for i := range legit {
		c, err := client.Dial("tcp", "10.0.0.2:80")
		if err != nil {
			t.Fatal(err)
		}
		legit[i][0] = c.(*Conn)
		waitFor(t, sm, "accept", func() bool {
			s, ok := accepted.Load(c.LocalAddr().String())
			if ok {
				legit[i][1] = s.(*Conn)
			}
			return ok
		})
	}

	for i := range attackers {
		x := &attacker{src: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(100 + i)}), 6000), seq: 2}
		mu.Lock()
		atk[x.src] = x
		mu.Unlock()
		rt.Endpoint.WriteBatch([][]byte{packet(x.src, dst, &wire.TCPSegment{Seq: 1, Flags: wire.SYN, Window: 65535,
			Options: wire.TCPOptions{MSS: 1460, SACKPermitted: true, HasWScale: true, WScale: 7}})})
	}
	waitFor(t, sm, "the attackers' handshakes", func() bool { return ready.Load() == attackers })

	// A transfer each way first, so that the link's receive rings (a
	// NIC's memory, not the stack's) have all their slots.
	uploadData(t, legit[0][0], legit[0][1], randomBytes(4<<20), 10*time.Second)
	uploadData(t, legit[0][1], legit[0][0], randomBytes(4<<20), 10*time.Second)
	var data [uploads][]byte
	for i := range data {
		data[i] = randomBytes(uploadLen + i)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heap0 := ms.HeapAlloc
	var maxUsed atomic.Int64
	var maxHeap atomic.Uint64
	stop, stopped := false, 0
	sm.Go(func() { // the budget's use, often; the heap, now and then
		defer func() { stopped++ }()
		for i := 0; !stop; i++ {
			sm.Sleep(2 * time.Millisecond)
			maxUsed.Store(max(maxUsed.Load(), server.Stats().Memory.Used))
			if i%25 == 0 {
				// The live heap (right after a collection: garbage is
				// not held), less the client's buffers, which are its own
				// budget's and not the server's doing.
				runtime.GC()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				maxHeap.Store(max(maxHeap.Load(), ms.HeapAlloc-uint64(client.Stats().Memory.Used)))
			}
		}
	})
	sm.Go(func() { // the flood, in rounds, until the uploads are done
		defer func() { stopped++ }()
		payload := make([]byte, 1448)
		batch := make([][]byte, 0, 256)
		bufs := make([][]byte, cap(batch)) // reused: the flood allocates nothing as it runs
		for i := range bufs {
			bufs[i] = make([]byte, 1500)
		}
		sent := server.Stats().PacketsIn
		flush := func() {
			rt.Endpoint.WriteBatch(batch)
			sent += uint64(len(batch))
			batch = batch[:0]
			// Paced to the server's reading: the link's queue is not
			// what this test measures.
			sm.Wait(func() bool { return stop || server.Stats().PacketsIn+64 >= sent }, time.Time{})
		}
		for !stop {
			for off := 1448; off < oooBytes; off += 1448 {
				for _, x := range atk {
					batch = append(batch, packetInto(bufs[len(batch)], x.src, dst, &wire.TCPSegment{Seq: x.seq.Add(uint32(off)),
						Ack: x.ack, Flags: wire.ACK, Window: 65535, Payload: payload}))
					if len(batch) == cap(batch) {
						flush()
					}
				}
				if stop {
					return
				}
			}
			flush()
		}
	})

	// The uploads start once the flood has brought pressure, and run
	// while it goes on.
	waitFor(t, sm, "memory pressure", func() bool { return server.Stats().Memory.Pressure })
	var uploaded [uploads]*future[struct{}]
	for i := range legit {
		uploaded[i] = startErr(sm, func() error {
			uploadData(t, legit[i][0], legit[i][1], data[i], 60*time.Second)
			return nil
		})
	}
	for _, u := range uploaded {
		u.get(t)
	}
	stop = true
	waitFor(t, sm, "the flood to stop", func() bool { return stopped == 2 })

	st := server.Stats()
	slack := int64((uploads + attackers) * 2 * pageSizeForTest)
	t.Logf("server: budget %d MiB, peak use %.1f MiB, %d pressure events, %d refusals, %.1f MiB of out-of-order data pruned; heap grew by at most %.1f MiB; drops %v",
		limit>>20, float64(maxUsed.Load())/(1<<20), st.Memory.Pressures, st.Memory.Refused, float64(st.Memory.Pruned)/(1<<20),
		float64(int64(maxHeap.Load())-int64(heap0))/(1<<20), st.Drops.TCP)
	if st.Memory.Pressures == 0 || st.Memory.Pruned == 0 {
		t.Fatalf("the flood never brought pressure: %+v", st.Memory)
	}
	if u := maxUsed.Load(); u > limit+slack {
		t.Fatalf("the server's buffers reached %d bytes, over the %d-byte limit and the %d bytes of first pages", u, limit, slack)
	}
	if g := int64(maxHeap.Load()) - int64(heap0); g > limit {
		t.Fatalf("the heap grew by %d bytes, more than the %d-byte limit", g, limit)
	}
}

// pageSizeForTest is the receive buffer's page (tcp's pageSize).
const pageSizeForTest = 4096

// Under memory pressure a stack refuses new connections with a RST, and
// takes them again once the pressure is gone.
func TestMemoryPressureRefusesConnections(t *testing.T) {
	sm, client, server := pairOpts(t, pipe.Config{}, Options{}, Options{MemoryLimit: 64 << 10})
	ln, err := server.Listen("tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, s := dialAccept(t, client, ln, "10.0.0.2:80")
	sm.Go(func() { c.Write(make([]byte, 60<<10)) }) // the server does not read it yet
	waitFor(t, sm, "pressure", func() bool { return server.Stats().Memory.Pressure })
	if _, err := client.Dial("tcp", "10.0.0.2:80"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("Dial under memory pressure: %v, want ECONNREFUSED", err)
	}
	if _, err := io.ReadFull(s, make([]byte, 60<<10)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, sm, "the pressure to end", func() bool { return !server.Stats().Memory.Pressure })
	dialAccept(t, client, ln, "10.0.0.2:80")
	if st := server.Stats(); st.RefusedMemory != 1 || st.Memory.Pressures == 0 {
		t.Fatalf("refused %d, pressure events %d", st.RefusedMemory, st.Memory.Pressures)
	}
}

// Options.MaxConns bounds a stack's connections and MaxConnsPerListener a
// listener's: SYNs beyond them are refused with a RST and counted; a Dial
// beyond MaxConns fails with ENOBUFS.
func TestConnectionCaps(t *testing.T) {
	sm, client, server := pairOpts(t, pipe.Config{}, Options{MaxConns: 4}, Options{MaxConns: 3, MaxConnsPerListener: 2})
	ln80, err := server.Listen("tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln80.Close()
	ln81, err := server.Listen("tcp", "10.0.0.2:81")
	if err != nil {
		t.Fatal(err)
	}
	defer ln81.Close()
	c1, _ := dialAccept(t, client, ln80, "10.0.0.2:80")
	dialAccept(t, client, ln80, "10.0.0.2:80")
	if _, err := client.Dial("tcp", "10.0.0.2:80"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("third connection to a listener capped at 2: %v, want ECONNREFUSED", err)
	}
	dialAccept(t, client, ln81, "10.0.0.2:81")
	if _, err := client.Dial("tcp", "10.0.0.2:81"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("fourth connection to a stack capped at 3: %v, want ECONNREFUSED", err)
	}
	if st := server.Stats(); st.RefusedConnLimit != 2 {
		t.Fatalf("refused %d, want 2", st.RefusedConnLimit)
	}
	// The client's own cap: 3 connections and one more is 4, then ENOBUFS.
	sm.Go(func() { client.Dial("tcp", "10.0.0.9:1") }) // SYN_SENT, to nobody
	waitFor(t, sm, "the fourth connection", func() bool { return client.connCount() == 4 })
	if _, err := client.Dial("tcp", "10.0.0.9:2"); !errors.Is(err, syscall.ENOBUFS) {
		t.Fatalf("Dial beyond the client's MaxConns: %v, want ENOBUFS", err)
	}
	// A closed connection frees its place in the listener's count.
	c1.SetLinger(0)
	c1.Close()
	waitFor(t, sm, "the reset", func() bool { return server.connCount() == 2 })
	dialAccept(t, client, ln80, "10.0.0.2:80")
}

// connMemory is what connMemoryRun measured, in heap bytes.
type connMemory struct {
	timeWait float64 // per connection in TIME_WAIT
	idle     float64 // per established connection, both ends, idle
	unread   float64 // what one unread byte adds to a connection
}

// connMemoryRun puts n connections in TIME_WAIT, then holds n established
// connections, idle, then with one unread byte each, and measures the heap
// after each step (after GC): the TIME_WAIT entries are the client's, the
// unread bytes the server's. Connections go to eight ports, so that 2n of
// them find ephemeral ports.
func connMemoryRun(t testing.TB, n int) connMemory {
	sm := newSim(t)
	a, b := sm.Pipe(pipe.Config{QueueLen: 4096})
	client := newStack(t, sm, a, Options{Addrs: []netip.Prefix{clientAddr}, KeepAlive: -1})
	server := newStack(t, sm, b, Options{Addrs: []netip.Prefix{serverAddr}, KeepAlive: -1})
	const ports = 8
	var lns [ports]*Listener
	for i := range lns {
		var err error
		if lns[i], err = server.ListenAddrPort("tcp", netip.AddrPortFrom(serverAddr.Addr(), uint16(80+i)), n); err != nil {
			t.Fatal(err)
		}
		defer lns[i].Close()
	}
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	dial := func(i int) (*Conn, *Conn) {
		l := lns[i%ports]
		c, err := client.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		s, err := l.AcceptTCP()
		if err != nil {
			t.Fatal(err)
		}
		return c.(*Conn), s
	}
	conns := make([]*Conn, 0, 2*n) // the test's own, not counted
	h0 := heap()
	// n connections closed by the client first: its end stays in TIME_WAIT.
	var one [1]byte
	for i := range n {
		c, s := dial(i)
		c.Close()
		if _, err := s.Read(one[:]); err != io.EOF {
			t.Fatalf("read: %v, want EOF", err)
		}
		s.Close()
	}
	// A few may leave TIME_WAIT early: a FIN sent again by a loss probe is
	// acknowledged from TIME_WAIT, after the server has forgotten the
	// connection, and its RST ends the entry (RFC 9293, as Linux).
	waitFor(t, sm, "TIME_WAIT", func() bool { return client.connCount() == 0 && server.connCount() == 0 })
	tws := client.Stats().TimeWait
	if tws < uint64(n)*99/100 {
		t.Fatalf("%d of %d connections in TIME_WAIT", tws, n)
	}
	h1 := heap()
	// n established connections, idle.
	for i := range n {
		c, s := dial(i)
		conns = append(conns, c, s)
	}
	h2 := heap()
	// One unread byte each, on the server's side.
	for i := 0; i < len(conns); i += 2 {
		if _, err := conns[i].Write(one[:]); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, sm, "the bytes", func() bool {
		for i := 1; i < len(conns); i += 2 {
			if r, _ := conns[i].tcbBuffered(); r != 1 {
				return false
			}
		}
		for i := 0; i < len(conns); i += 2 {
			if _, s := conns[i].tcbBuffered(); s != 0 {
				return false
			}
		}
		return true
	})
	h3 := heap()
	runtime.KeepAlive(conns)
	per := func(a, b uint64) float64 { return (float64(b) - float64(a)) / float64(n) }
	return connMemory{timeWait: (float64(h1) - float64(h0)) / float64(tws), idle: per(h1, h2), unread: per(h2, h3)}
}

// The memory test of issue 10: 50,000 connections in TIME_WAIT, then
// 50,000 established ones each holding one unread byte. A TIME_WAIT
// connection is an entry of about 60 bytes, an idle connection about a
// kilobyte per end, and one unread byte pins one 4 KiB page, not the
// receive buffer's megabyte. BenchmarkConnMemory reports the same.
func TestConnMemory50k(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("opens 100,000 connections")
	}
	const n = 50000
	m := connMemoryRun(t, n)
	t.Logf("%d connections: %.0f B per TIME_WAIT entry, %.0f B per idle connection (both ends), one unread byte adds %.0f B; with it, %.0f B per connection",
		n, m.timeWait, m.idle, m.unread, m.idle+m.unread)
	if m.timeWait > 128 || m.idle > 2*1024 || m.unread > 8<<10 {
		t.Fatalf("over budget: TIME_WAIT %.0f B (want <= 128), idle %.0f B per connection (<= 2 KiB), unread byte %.0f B (<= 8 KiB)",
			m.timeWait, m.idle, m.unread)
	}
}

// BenchmarkConnMemory reports the heap per connection in TIME_WAIT, per
// idle established connection (both ends) and what one unread byte adds
// to a connection, over 10,000 of each.
func BenchmarkConnMemory(b *testing.B) {
	var m connMemory
	for b.Loop() {
		m = connMemoryRun(b, 10000)
	}
	b.ReportMetric(m.timeWait, "B/time-wait")
	b.ReportMetric(m.idle/2, "B/idle-endpoint")
	b.ReportMetric(m.unread, "B/unread-byte")
}
