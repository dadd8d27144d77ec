package workload

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// idlePort is the first port the idle workload listens on; it uses one
// port per idleConnsPerPort connections, since a client host has only
// about 28,000 ephemeral ports (Linux's 32768–60999) toward one port.
const (
	idlePort         = 6000
	idleConnsPerPort = 20000
	idleDialers      = 4
)

// idleSettle is how long established connections rest before memory is
// measured: delayed ACKs (40 ms on synack, up to 200 ms elsewhere) go out
// and any buffer a handshake used returns to its pool.
const idleSettle = 300 * time.Millisecond

// idleOut is what the idle workload measured.
type idleOut struct {
	conns         int
	before, after memory
	setup         time.Duration
	kernelMemory  bool // the connections live in the kernel: count its slab
}

// runIdle opens conns connections between the two hosts of n and leaves
// them idle, established, with both ends held by the program, then
// measures the memory they take.
func runIdle(n Net, conns int) (idleOut, error) {
	out := idleOut{conns: conns}
	ports := (conns + idleConnsPerPort - 1) / idleConnsPerPort
	var (
		mu   sync.Mutex
		held = make([]net.Conn, 0, 2*conns)
		lns  []net.Listener
		wg   sync.WaitGroup
	)
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
		wg.Wait()
	}()
	accepted := make(chan struct{}, conns)
	for i := range ports {
		ln, err := n.Listen(uint16(idlePort + i))
		if err != nil {
			return out, fmt.Errorf("listen: %w", err)
		}
		lns = append(lns, ln)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				mu.Lock()
				held = append(held, c)
				mu.Unlock()
				accepted <- struct{}{}
			}
		}()
	}
	out.before = measureMemory()

	start := time.Now()
	var (
		next  atomic.Int64
		dwg   sync.WaitGroup
		errMu sync.Mutex
		derr  error
	)
	for range idleDialers {
		dwg.Add(1)
		go func() {
			defer dwg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(conns) {
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
				c, err := n.Dial(ctx, uint16(idlePort+int(i)%ports))
				cancel()
				if err != nil {
					errMu.Lock()
					derr = errors.Join(derr, fmt.Errorf("dial %d: %w", i, err))
					errMu.Unlock()
					next.Store(int64(conns))
					return
				}
				mu.Lock()
				held = append(held, c)
				mu.Unlock()
			}
		}()
	}
	dwg.Wait()
	if derr != nil {
		return out, derr
	}
	timeout := time.After(setupTimeout)
	for range conns {
		select {
		case <-accepted:
		case <-timeout:
			return out, errors.New("accept: not every connection arrived within the setup timeout")
		}
	}
	out.setup = time.Since(start)
	time.Sleep(idleSettle)
	out.after = measureMemory()
	mu.Lock()
	if len(held) != 2*conns {
		mu.Unlock()
		return out, fmt.Errorf("holding %d connection ends, want %d", len(held), 2*conns)
	}
	mu.Unlock()
	runtime.KeepAlive(held)
	return out, nil
}
