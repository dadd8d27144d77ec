package synack

import (
	"io"
	"net"
	"net/netip"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/synack-go/synack/link/pipe"
	"github.com/synack-go/synack/sim"
)

// BenchmarkBulk moves 64 KiB writes one way over a perfect in-memory link:
// every packet is built, checksummed, parsed and verified, no offloads.
// mtu1500 is the case; mtu65535 shows the per-packet cost apart
// from the per-byte cost; mtu1500-offload is the pipe with offloads (TSO
// packets of up to 64 KiB, checksums left to the link) and batched ACKs;
// mtu1500-batchacks batches ACKs without offloads (Options.BatchACKs).
// One connection serves every round, so that the rounds measure the steady
// state, not setup.
func BenchmarkBulk(b *testing.B) {
	for _, bc := range []struct {
		name string
		cfg  pipe.Config
		opts Options
	}{
		{"mtu1500", pipe.Config{MTU: 1500}, Options{}},
		{"mtu1500-batchacks", pipe.Config{MTU: 1500}, Options{BatchACKs: BatchACKsOn}},
		{"mtu65535", pipe.Config{MTU: 65535}, Options{}},
		{"mtu1500-offload", pipe.Config{MTU: 1500, Offload: true}, Options{}},
	} {
		a, p := pipe.New(bc.cfg)
		client, server := stacksOn(b, a, p, bc.opts, bc.opts)
		c, s := connected(b, client, server, "10.0.0.2:80")
		// The reader signals caughtUp once it has read target bytes
		// (target < 0: no one waits). With both sides' atomics, either
		// the reader sees the target or the writer sees the bytes.
		var received, target atomic.Int64
		target.Store(-1)
		caughtUp := make(chan struct{}, 1)
		go func() {
			buf := make([]byte, 64<<10)
			for {
				n, err := s.Read(buf)
				if r := received.Add(int64(n)); r >= target.Load() && target.Load() >= 0 {
					signal(caughtUp)
				}
				if err != nil {
					return
				}
			}
		}()
		waitReceived := func(b *testing.B, n int64) {
			target.Store(n)
			if received.Load() >= n {
				return
			}
			select {
			case <-caughtUp:
			case <-time.After(time.Minute):
				b.Fatalf("%d of %d bytes received after a minute", received.Load(), n)
			}
		}
		buf := make([]byte, 64<<10)
		sent := int64(0)
		write := func(b *testing.B) {
			if _, err := c.Write(buf); err != nil {
				b.Fatal(err)
			}
			sent += int64(len(buf))
		}
		// Warm up (64 MiB): buffers, batches and the pipe's queue reach
		// their full size, cwnd opens.
		for range 1024 {
			write(b)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			segs0, acks0 := c.Stats().SegsOut, s.Stats().SegsOut
			start := time.Now()
			for b.Loop() {
				write(b)
			}
			waitReceived(b, sent)
			el := time.Since(start)
			b.ReportMetric(float64(b.N)*float64(len(buf))*8/el.Seconds()/1e9, "Gbit/s")
			// Data segments per ACK: 2 is an ACK every second full
			// segment (RFC 9293 §3.8.6.3); each ACK costs a packet.
			if acks := s.Stats().SegsOut - acks0; acks > 0 {
				b.ReportMetric(float64(c.Stats().SegsOut-segs0)/float64(acks), "segs/ack")
			}
		})
	}
}

// BenchmarkConnSetupTeardown is Dial + Accept + 1 byte each way + Close on
// both sides (the client's end stays in TIME_WAIT, as on any host).
func BenchmarkConnSetupTeardown(b *testing.B) {
	client, server := wallPair(b, pipe.Config{})
	ln, err := server.Listen("tcp", "10.0.0.2:80")
	if err != nil {
		b.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				var one [1]byte
				io.ReadFull(c, one[:])
				c.Write(one[:])
				c.Close()
			}()
		}
	}()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		c, err := client.Dial("tcp", "10.0.0.2:80")
		if err != nil {
			b.Fatal(err)
		}
		var one [1]byte
		c.Write(one[:])
		if _, err := io.ReadFull(c, one[:]); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "conns/s")
}

// BenchmarkRequestResponse is a 1-byte ping-pong on one connection.
func BenchmarkRequestResponse(b *testing.B) { benchRequestResponse(b, false) }

// BenchmarkRequestResponseDeadline is BenchmarkRequestResponse with a
// deadline set on both ends, as servers set one per request: every Read
// blocks with a deadline.
func BenchmarkRequestResponseDeadline(b *testing.B) { benchRequestResponse(b, true) }

func benchRequestResponse(b *testing.B, deadline bool) {
	client, server := wallPair(b, pipe.Config{})
	c, s := connected(b, client, server, "10.0.0.2:80")
	if deadline {
		c.SetDeadline(time.Now().Add(time.Hour))
		s.SetDeadline(time.Now().Add(time.Hour))
	}
	go func() {
		var one [1]byte
		for {
			if _, err := s.Read(one[:]); err != nil {
				return
			}
			s.Write(one[:])
		}
	}()
	var one [1]byte
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		c.Write(one[:])
		if _, err := c.Read(one[:]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "round-trips/s")
}

// BenchmarkIdleConnMemory holds 10,000 established idle connections between
// two stacks and reports the heap they take, after GC: per connection (both
// ends) and per endpoint (one end). There is no goroutine per connection.
// The stacks run on a simulation, so the delayed ACKs settle in virtual
// time.
func BenchmarkIdleConnMemory(b *testing.B) {
	const n = 10000
	for i := 0; i < b.N; i++ {
		sm := sim.New(sim.Config{Seed: 1})
		a, bb := sm.Pipe(pipe.Config{})
		client, _ := NewStack(a, Options{Clock: sm, Rand: sm.Rand(), Addrs: []netip.Prefix{clientAddr}})
		server, _ := NewStack(bb, Options{Clock: sm, Rand: sm.Rand(), Addrs: []netip.Prefix{serverAddr}, SynBacklog: n})
		ln, err := server.ListenAddrPort("tcp", netip.MustParseAddrPort("10.0.0.2:80"), n)
		if err != nil {
			b.Fatal(err)
		}
		conns := make([]net.Conn, 0, 2*n) // the benchmark's own, not counted
		// One connection first: the stacks' batches and the link's rings
		// are made once, not per connection.
		if c, err := client.Dial("tcp", "10.0.0.2:80"); err == nil {
			s, _ := ln.Accept()
			conns = append(conns, c, s)
		}
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		gBefore := runtime.NumGoroutine()
		for range n {
			c, err := client.Dial("tcp", "10.0.0.2:80")
			if err != nil {
				b.Fatal(err)
			}
			s, err := ln.Accept()
			if err != nil {
				b.Fatal(err)
			}
			conns = append(conns, c, s)
		}
		sm.RunFor(time.Second) // delayed ACKs and timers settle
		runtime.GC()
		runtime.ReadMemStats(&after)
		perConn := float64(after.HeapAlloc-before.HeapAlloc) / n
		b.ReportMetric(perConn, "B/conn")
		b.ReportMetric(perConn/2, "B/endpoint")
		b.ReportMetric(float64(runtime.NumGoroutine()-gBefore), "goroutines")
		runtime.KeepAlive(conns)
		client.Close()
		server.Close()
		sm.Close()
	}
}
