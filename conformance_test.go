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
)

// nettest.TestConn checks net.Conn semantics (deadlines, concurrent use,
// close) on a pair of synack conns.
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
// intact; both sides close with FINs. -short moves 4 MiB.
func TestImpairedBulk(t *testing.T) {
	size := 64 << 20
	if testing.Short() {
		size = 4 << 20
	}
	goroutines := runtime.NumGoroutine()
	client, server := pair(t, pipe.Config{Loss: 0.05, Reorder: 0.05, Duplicate: 0.01, Corrupt: 0.01, Delay: 2 * time.Millisecond, Seed: 1})
	c, s := connected(t, client, server, "10.0.0.2:80")
	start := time.Now()
	var wg sync.WaitGroup
	sums := make(chan [2][32]byte, 2)
	transfer := func(conn *Conn, seed uint64) {
		defer wg.Done()
		sent := sha256.New()
		got := sha256.New()
		done := make(chan error, 1)
		go func() {
			_, err := io.Copy(got, conn)
			done <- err
		}()
		rng := rand.New(rand.NewPCG(seed, seed))
		buf := make([]byte, 64<<10)
		for left := size; left > 0; left -= len(buf) {
			for i := range buf {
				buf[i] = byte(rng.Uint32())
			}
			sent.Write(buf)
			if _, err := conn.Write(buf); err != nil {
				t.Error(err)
				return
			}
		}
		conn.CloseWrite()
		if err := <-done; err != nil {
			t.Error(err)
		}
		sums <- [2][32]byte{[32]byte(sent.Sum(nil)), [32]byte(got.Sum(nil))}
	}
	wg.Add(2)
	go transfer(c, 1)
	go transfer(s, 2)
	wg.Wait()
	close(sums)
	var all [][2][32]byte
	for x := range sums {
		all = append(all, x)
	}
	if len(all) != 2 || !(all[0][0] == all[1][1] && all[1][0] == all[0][1]) {
		t.Fatal("SHA-256 of what was sent and what arrived differ")
	}
	cs, ss := c.Stats(), s.Stats()
	t.Logf("%d MiB each way in %v; retransmits %d/%d, RTOs %d/%d, drops %+v", size>>20, time.Since(start).Round(time.Millisecond),
		cs.Retransmits, ss.Retransmits, cs.RTOs, ss.RTOs, server.Stats().Drops)
	if server.Stats().Drops.Checksum == 0 {
		t.Error("no corrupted packet was caught by the checksum")
	}
	c.Close()
	s.Close()
	waitFor(t, func() bool {
		a, b := c.Stats().State.String(), s.Stats().State.String()
		return (a == "TIME_WAIT" || a == "CLOSED") && (b == "TIME_WAIT" || b == "CLOSED")
	})
	if r := client.Stats().RSTsOut + server.Stats().RSTsOut; r != 0 {
		t.Errorf("%d RSTs sent: the close was not a clean exchange of FINs", r)
	}
	client.Close()
	server.Close()
	waitFor(t, func() bool { return runtime.NumGoroutine() <= goroutines })
}
