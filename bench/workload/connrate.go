package workload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// connPort is where the connection-rate workload listens.
const connPort = 5003

// connWarmup connections per dialer open before the clock starts.
const connWarmup = 50

// connOut is what a connection-rate run measured.
type connOut struct {
	conns   int64
	elapsed time.Duration
	cpu     time.Duration
}

// runConnRate has dialers loops each Dial, write one byte, read it back
// (the server reads it, echoes it and closes first, so that TIME_WAIT
// stays on the server's side, as for a web server) and Close, for d.
func runConnRate(n Net, dialers int, d time.Duration) (connOut, error) {
	var out connOut
	ln, err := n.Listen(connPort)
	if err != nil {
		return out, fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()
	var served sync.WaitGroup
	acceptorDone := make(chan struct{})
	defer func() {
		ln.Close()
		<-acceptorDone
		served.Wait()
	}()
	go func() {
		defer close(acceptorDone)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			served.Add(1)
			go func() {
				defer served.Done()
				c.SetDeadline(time.Now().Add(setupTimeout))
				var one [1]byte
				if _, err := io.ReadFull(c, one[:]); err == nil {
					c.Write(one[:])
				}
				c.Close()
			}()
		}
	}()

	one := func(i int64) error {
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		c, err := n.Dial(ctx, connPort)
		if err != nil {
			return fmt.Errorf("dial: %w", err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(setupTimeout))
		b := [1]byte{byte(i)}
		if _, err := c.Write(b[:]); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		if _, err := io.ReadFull(c, b[:]); err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if b[0] != byte(i) {
			return fmt.Errorf("connection %d: echoed %#02x, want %#02x", i, b[0], byte(i))
		}
		return nil
	}

	var (
		count   atomic.Int64
		stop    atomic.Bool
		measure atomic.Bool
		wg      sync.WaitGroup
		errMu   sync.Mutex
		firstE  error
	)
	ready := make(chan struct{}, dialers)
	for w := range dialers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int64(w) << 32; !stop.Load(); i++ {
				if err := one(i); err != nil {
					errMu.Lock()
					firstE = errors.Join(firstE, err)
					errMu.Unlock()
					stop.Store(true)
					ready <- struct{}{}
					return
				}
				if measure.Load() {
					count.Add(1)
				} else if i == int64(w)<<32+connWarmup-1 {
					ready <- struct{}{}
				}
			}
		}()
	}
	for range dialers {
		<-ready
	}
	cpu0 := cpuTime()
	start := time.Now()
	measure.Store(true)
	time.Sleep(d)
	stop.Store(true)
	wg.Wait()
	out.elapsed = time.Since(start)
	out.cpu = cpuTime() - cpu0
	out.conns = count.Load()
	return out, firstE
}
