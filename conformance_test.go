package synack

import (
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/nettest"

	"github.com/synack-go/synack/link/pipe"
	"github.com/synack-go/synack/tcp"
)

// nettest.TestConn checks net.Conn semantics (deadlines, concurrent use,
// close, data integrity) on a pair of synack conns.
func TestNetConn(t *testing.T) {
	nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
		a, b := pipe.New(pipe.Config{})
		client, err := NewStack(a, Options{Addrs: []netip.Prefix{clientAddr}})
		if err != nil {
			return nil, nil, nil, err
		}
		server, err := NewStack(b, Options{Addrs: []netip.Prefix{serverAddr}})
		if err != nil {
			return nil, nil, nil, err
		}
		c, s := connected(t, client, server, "10.0.0.2:80")
		stop = func() {
			c.Close()
			s.Close()
			client.Close()
			server.Close()
		}
		return c, s, stop, nil
	})
}

// Over a link that loses 5%, reorders 5%, duplicates 1% and corrupts 1% of
// packets with 2 ms of delay, 64 MiB cross each way at once and arrive
// intact; both sides close with FINs; Stack.Close then leaves no goroutine
// behind. -short moves 4 MiB.
func TestImpairedBulk(t *testing.T) {
	size := 64 << 20
	if testing.Short() {
		size = 4 << 20
	}
	before := runtime.NumGoroutine()
	a, b := pipe.New(pipe.Config{Loss: 0.05, Reorder: 0.05, Duplicate: 0.01, Corrupt: 0.01, Delay: 2 * time.Millisecond, Seed: 1})
	client, err := NewStack(a, Options{Name: "client", Addrs: []netip.Prefix{clientAddr}})
	if err != nil {
		t.Fatal(err)
	}
	server, err := NewStack(b, Options{Name: "server", Addrs: []netip.Prefix{serverAddr}})
	if err != nil {
		t.Fatal(err)
	}
	c, s := connected(t, client, server, "10.0.0.2:80")
	start := time.Now()
	type sums struct{ sent, got [32]byte }
	var wg sync.WaitGroup
	var cs, ss sums
	transfer := func(conn *Conn, seed uint64, out *sums) {
		defer wg.Done()
		sent, got := sha256.New(), sha256.New()
		done := make(chan error, 1)
		go func() {
			_, err := io.Copy(got, conn)
			done <- err
		}()
		rng := rand.New(rand.NewPCG(seed, seed))
		buf := make([]byte, 64<<10)
		for left := size; left > 0; left -= len(buf) {
			for i := 0; i < len(buf); i += 8 {
				v := rng.Uint64()
				for j := range 8 {
					buf[i+j] = byte(v >> (8 * j))
				}
			}
			sent.Write(buf)
			if _, err := conn.Write(buf); err != nil {
				t.Error(err)
				return
			}
		}
		if err := conn.CloseWrite(); err != nil {
			t.Error(err)
		}
		if err := <-done; err != nil {
			t.Error(err)
		}
		copy(out.sent[:], sent.Sum(nil))
		copy(out.got[:], got.Sum(nil))
	}
	wg.Add(2)
	go transfer(c, 1, &cs)
	go transfer(s, 2, &ss)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if cs.sent != ss.got || ss.sent != cs.got {
		t.Fatal("SHA-256 of what was sent and what arrived differ")
	}
	cst, sst := c.Stats(), s.Stats()
	t.Logf("%d MiB each way in %v; retransmits %d/%d, RTOs %d/%d, loss probes %d/%d; server drops %+v",
		size>>20, time.Since(start).Round(time.Millisecond), cst.Retransmits, sst.Retransmits, cst.RTOs, sst.RTOs,
		cst.LossProbes, sst.LossProbes, server.Stats().Drops)
	if server.Stats().Drops.Checksum+client.Stats().Drops.Checksum == 0 {
		t.Error("no corrupted packet was caught by the checksum")
	}
	c.Close()
	s.Close()
	waitFor(t, "both ends closed", func() bool {
		a, b := state(c), state(s)
		return (a == tcp.StateTimeWait || a == tcp.StateClosed) && (b == tcp.StateTimeWait || b == tcp.StateClosed)
	})
	if r := c.Stats().RSTsOut + s.Stats().RSTsOut; r != 0 {
		t.Errorf("the connections sent %d RSTs; both should close with FINs", r)
	}
	client.Close()
	server.Close()
	waitFor(t, "goroutines back to baseline", func() bool { return runtime.NumGoroutine() <= before })
}
