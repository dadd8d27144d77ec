package synack

import (
	"io"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/synack-go/synack/link/pipe"
)

// BenchmarkBulk moves 64 KiB writes one way over a perfect in-memory link
// with MTU 1500: every packet is checksummed and parsed, no offloads.
func BenchmarkBulk(b *testing.B) {
	for _, mtu := range []int{1500, 65535} {
		b.Run(map[int]string{1500: "mtu1500", 65535: "mtu65535"}[mtu], func(b *testing.B) {
			client, server := pair(b, pipe.Config{MTU: mtu})
			c, s := connected(b, client, server, "10.0.0.2:80")
			done := make(chan int64)
			go func() {
				n, _ := io.Copy(io.Discard, s)
				done <- n
			}()
			buf := make([]byte, 64<<10)
			for range 64 { // warm up: buffers, cwnd
				c.Write(buf)
			}
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				if _, err := c.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
			c.CloseWrite()
			n := <-done
			el := time.Since(start)
			b.StopTimer()
			if n != int64(b.N+64)*int64(len(buf)) {
				b.Fatalf("received %d bytes", n)
			}
			b.ReportMetric(float64(b.N)*float64(len(buf))*8/el.Seconds()/1e9, "Gbit/s")
		})
	}
}

// BenchmarkConnSetupTeardown is Dial + Accept + 1 byte echoed + Close.
func BenchmarkConnSetupTeardown(b *testing.B) {
	client, server := pair(b, pipe.Config{})
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
func BenchmarkRequestResponse(b *testing.B) {
	client, server := pair(b, pipe.Config{})
	c, s := connected(b, client, server, "10.0.0.2:80")
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
// two stacks and reports the heap per connection (both ends) and per
// endpoint (one end), after GC. There is no goroutine per connection.
func BenchmarkIdleConnMemory(b *testing.B) {
	const n = 10000
	for i := 0; i < b.N; i++ {
		a, bb := pipe.New(pipe.Config{})
		client, _ := NewStack(a, Options{Addrs: []netip.Prefix{clientAddr}})
		server, _ := NewStack(bb, Options{Addrs: []netip.Prefix{serverAddr}, SynBacklog: n})
		ln, err := server.ListenTCP("tcp", netip.MustParseAddrPort("10.0.0.2:80"), n)
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		gBefore := runtime.NumGoroutine()
		conns := make([]net.Conn, 0, 2*n)
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
		time.Sleep(100 * time.Millisecond) // let delayed ACKs settle
		runtime.GC()
		runtime.ReadMemStats(&after)
		perConn := float64(after.HeapAlloc-before.HeapAlloc) / n
		b.ReportMetric(perConn, "B/conn")
		b.ReportMetric(perConn/2, "B/endpoint")
		b.ReportMetric(float64(runtime.NumGoroutine()-gBefore), "goroutines")
		runtime.KeepAlive(conns)
		client.Close()
		server.Close()
	}
}
