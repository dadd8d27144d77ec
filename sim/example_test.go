package sim_test

import (
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/synack-go/synack"
	"github.com/synack-go/synack/link/pipe"
	"github.com/synack-go/synack/sim"
)

// Two stacks on a simulated path with a 20 ms round trip that loses 1% of
// packets each way: 64 MiB cross it in about seventy seconds of virtual
// time, which take only the CPU time the stacks need (a fraction of a
// second), and a second run from the same seed is the same run, to the
// nanosecond and the retransmission.
func Example() {
	elapsed, retransmits := transfer(1)
	again, retransmitsAgain := transfer(1)
	fmt.Println("64 MiB arrived; replayed exactly:", elapsed == again && retransmits == retransmitsAgain)
	// Output: 64 MiB arrived; replayed exactly: true
}

// transfer moves 64 MiB from a client to a server over a lossy 20 ms path,
// on a simulation seeded with seed, and returns how long it took in virtual
// time and how many segments the client sent again.
func transfer(seed int64) (time.Duration, uint64) {
	s := sim.New(sim.Config{Seed: seed})
	defer s.Close()
	a, b := s.Pipe(pipe.Config{Delay: 10 * time.Millisecond, Loss: 0.01})
	client, err := synack.NewStack(a, synack.Options{Clock: s, Rand: s.Rand(),
		Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.1/24")}})
	if err != nil {
		panic(err)
	}
	defer client.Close()
	server, err := synack.NewStack(b, synack.Options{Clock: s, Rand: s.Rand(),
		Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.2/24")}})
	if err != nil {
		panic(err)
	}
	defer server.Close()
	ln, err := server.Listen("tcp", "10.0.0.2:80")
	if err != nil {
		panic(err)
	}

	// The server runs on a goroutine of the simulation. This goroutine is
	// the simulation's main one: its blocking calls (Dial, Write, Wait)
	// let the others run and virtual time move.
	const size = 64 << 20
	var received int64
	s.Go(func() {
		c, err := ln.Accept()
		if err != nil {
			panic(err)
		}
		received, _ = io.Copy(io.Discard, c)
		c.Close()
	})
	c, err := client.Dial("tcp", "10.0.0.2:80")
	if err != nil {
		panic(err)
	}
	start := s.Now()
	if _, err := io.CopyN(c, zeros{}, size); err != nil {
		panic(err)
	}
	c.Close()
	if err := s.Wait(func() bool { return received == size }, time.Time{}); err != nil {
		panic(err)
	}
	return s.Now().Sub(start), c.(*synack.Conn).Stats().Retransmits
}

// zeros reads as endless zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
