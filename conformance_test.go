package synack

import (
	"crypto/sha256"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/net/nettest"

	"github.com/synack-go/synack/link/pipe"
	"github.com/synack-go/synack/tcp"
)

// nettest.TestConn checks net.Conn semantics (deadlines, concurrent use,
// close, data integrity) on a pair of synack conns.
func TestNetConn(t *testing.T) {
	defer wallBound(t, time.Minute)()
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
// behind. On virtual time: -short moves 4 MiB to save CPU, not waiting.
func TestImpairedBulk(t *testing.T) {
	size := 64 << 20
	if testing.Short() {
		size = 4 << 20
	}
	sm, client, server := pair(t, pipe.Config{Loss: 0.05, Reorder: 0.05, Duplicate: 0.01, Corrupt: 0.01, Delay: 2 * time.Millisecond})
	c, s := connected(t, client, server, "10.0.0.2:80")
	start := sm.Now()
	cs := startTransfer(t, sm.Go, c, size, 1)
	ss := startTransfer(t, sm.Go, s, size, 2)
	waitFor(t, sm, "both transfers", func() bool { return cs.done() && ss.done() })
	if t.Failed() {
		t.FailNow()
	}
	if cs.sent != ss.got || ss.sent != cs.got {
		t.Fatal("SHA-256 of what was sent and what arrived differ")
	}
	cst, sst := c.Stats(), s.Stats()
	t.Logf("%d MiB each way in %v of virtual time; retransmits %d/%d, RTOs %d/%d, loss probes %d/%d; server drops %+v",
		size>>20, sm.Now().Sub(start).Round(time.Millisecond), cst.Retransmits, sst.Retransmits, cst.RTOs, sst.RTOs,
		cst.LossProbes, sst.LossProbes, server.Stats().Drops)
	if server.Stats().Drops.Checksum+client.Stats().Drops.Checksum == 0 {
		t.Error("no corrupted packet was caught by the checksum")
	}
	c.Close()
	s.Close()
	waitFor(t, sm, "both ends closed", func() bool {
		a, b := state(c), state(s)
		return (a == tcp.StateTimeWait || a == tcp.StateClosed) && (b == tcp.StateTimeWait || b == tcp.StateClosed)
	})
	if r := c.Stats().RSTsOut + s.Stats().RSTsOut; r != 0 {
		t.Errorf("the connections sent %d RSTs; both should close with FINs", r)
	}
	client.Close()
	server.Close()
	if n := client.live.Load() + server.live.Load(); n != 0 {
		t.Errorf("%d of the stacks' goroutines still run after Close", n)
	}
}

// The wall clock's path with link/pipe's impairments (its Path goroutine
// and timers), inside a testing/synctest bubble so that its 2 ms delays
// take no time: 2 MiB each way, SHA-256 checked.
func TestImpairedBulkWallClock(t *testing.T) {
	// In the bubble a lost wake-up is no deadlock: timers (probes,
	// keepalives) keep firing on its fake clock forever.
	defer wallBound(t, time.Minute)()
	synctest.Test(t, func(t *testing.T) {
		client, server := wallPair(t, pipe.Config{Loss: 0.05, Reorder: 0.05, Duplicate: 0.01, Corrupt: 0.01,
			Delay: 2 * time.Millisecond, Seed: 1})
		c, s := connected(t, client, server, "10.0.0.2:80")
		var wg sync.WaitGroup
		spawn := func(f func()) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				f()
			}()
		}
		cs := startTransfer(t, spawn, c, 2<<20, 1)
		ss := startTransfer(t, spawn, s, 2<<20, 2)
		wg.Wait() // in the bubble: a deadlock panics instead of hanging
		if cs.sent != ss.got || ss.sent != cs.got {
			t.Fatal("SHA-256 of what was sent and what arrived differ")
		}
		c.Close()
		s.Close()
	})
}

// transfer is one side of a bulk exchange: the SHA-256 of what it wrote
// and of what it read.
type transfer struct {
	sent, got        [32]byte
	wrote, readToEOF atomic.Bool
}

func (tr *transfer) done() bool { return tr.wrote.Load() && tr.readToEOF.Load() }

// startTransfer writes size pseudo-random bytes (from seed) on conn, then
// CloseWrite, while it reads everything the peer sends until EOF, on two
// goroutines started with spawn.
func startTransfer(t *testing.T, spawn func(func()), conn *Conn, size int, seed uint64) *transfer {
	tr := new(transfer)
	spawn(func() {
		defer tr.readToEOF.Store(true)
		got := sha256.New()
		if _, err := io.Copy(got, conn); err != nil {
			t.Error(err)
		}
		copy(tr.got[:], got.Sum(nil))
	})
	spawn(func() {
		defer tr.wrote.Store(true)
		sent := sha256.New()
		rng := rand.New(rand.NewPCG(seed, seed))
		buf := make([]byte, 64<<10)
		for left := size; left > 0; left -= len(buf) {
			for i := 0; i < len(buf); i += 8 {
				binary.LittleEndian.PutUint64(buf[i:], rng.Uint64())
			}
			sent.Write(buf)
			if _, err := conn.Write(buf); err != nil {
				t.Error(err)
				return
			}
		}
		copy(tr.sent[:], sent.Sum(nil))
		if err := conn.CloseWrite(); err != nil {
			t.Error(err)
		}
	})
	return tr
}
