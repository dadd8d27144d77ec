package workload

import (
	"fmt"
	"io"
	"net"
	"slices"
	"time"
)

// rrPort is where the request/response workload listens.
const rrPort = 5002

// rrWarmup round trips run before the clock starts: connection buffers,
// goroutines and the scheduler reach their steady state.
const rrWarmup = 1000

// rrOut is what a request/response run measured.
type rrOut struct {
	rtts    []time.Duration // every round trip, sorted
	elapsed time.Duration
	cpu     time.Duration
}

// runRR plays 1-byte ping-pong on one connection for d: the client writes
// one byte, the server echoes it, the client reads it back and checks it.
func runRR(n Net, d time.Duration) (rrOut, error) {
	var out rrOut
	client, closeEcho, err := dialEcho(n, rrPort)
	if err != nil {
		return out, err
	}
	defer closeEcho()

	var one [1]byte
	trip := func(i int) error {
		one[0] = byte(i)
		if _, err := client.Write(one[:]); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		if _, err := io.ReadFull(client, one[:]); err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if one[0] != byte(i) {
			return fmt.Errorf("round trip %d: echoed %#02x, want %#02x", i, one[0], byte(i))
		}
		return nil
	}
	client.SetDeadline(time.Now().Add(d + setupTimeout))
	for i := range rrWarmup {
		if err := trip(i); err != nil {
			return out, err
		}
	}
	out.rtts = make([]time.Duration, 0, 1<<20)
	cpu0 := cpuTime()
	start := time.Now()
	last := start
	for i := 0; last.Sub(start) < d; i++ {
		if err := trip(i); err != nil {
			return out, err
		}
		now := time.Now()
		out.rtts = append(out.rtts, now.Sub(last))
		last = now
	}
	out.elapsed = last.Sub(start)
	out.cpu = cpuTime() - cpu0
	slices.Sort(out.rtts)
	return out, nil
}

// dialEcho opens a connection on port whose server end echoes what it
// reads; closeAll closes both ends and the listener.
func dialEcho(n Net, port uint16) (client net.Conn, closeAll func(), err error) {
	ln, err := n.Listen(port)
	if err != nil {
		return nil, nil, fmt.Errorf("listen: %w", err)
	}
	client, server, err := connectPair(n, ln, port)
	if err != nil {
		ln.Close()
		return nil, nil, err
	}
	go echo(server)
	return client, func() {
		client.Close()
		server.Close()
		ln.Close()
	}, nil
}

// echo writes back every byte it reads until the connection ends.
func echo(c net.Conn) {
	buf := make([]byte, 64)
	for {
		m, err := c.Read(buf)
		if m > 0 {
			if _, err := c.Write(buf[:m]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// quantile returns the q-quantile of sorted (nearest rank).
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
