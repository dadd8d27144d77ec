package workload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

// bulkPort is where bulk transfers listen.
const bulkPort = 5001

// setupTimeout bounds a handshake in any workload.
const setupTimeout = 30 * time.Second

// bulkOpts describes one bulk transfer.
type bulkOpts struct {
	total   int64         // bytes to move
	write   int           // bytes per Write
	reverse bool          // the server host sends, the client host receives
	cap     time.Duration // stop there and report what arrived; 0: the transfer must finish within limit
	limit   time.Duration // without a cap, taking longer than this fails the run
	seed    uint64
	flows   int // connections sharing total; 0 means 1
}

// bulkOut is what one bulk transfer measured.
type bulkOut struct {
	bytes     int64         // verified bytes received
	elapsed   time.Duration // from the first Write to the last byte read (or the cap)
	cpu       time.Duration // process CPU time over elapsed
	packets   uint64        // IP packets across the link, both ways; 0 if the Net does not count
	retrans   uint64        // sender's retransmitted segments, if the Net counts them
	completed bool          // every byte arrived before the cap
}

type closeWriter interface{ CloseWrite() error }

// runBulk moves o.total bytes of the pattern over o.flows connections of n
// (one if 0), each its share, at once, and verifies every byte received.
// The figures are the aggregate: from the first Write to the last byte
// read on any connection.
func runBulk(n Net, o bulkOpts) (bulkOut, error) {
	var out bulkOut
	flows := max(o.flows, 1)
	ln, err := n.Listen(bulkPort)
	if err != nil {
		return out, fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()
	type conn struct{ snd, rcv net.Conn }
	conns := make([]conn, flows)
	for i := range conns {
		client, server, err := connectPair(n, ln, bulkPort)
		if err != nil {
			return out, err
		}
		defer client.Close()
		defer server.Close()
		conns[i] = conn{client, server}
		if o.reverse {
			conns[i] = conn{server, client}
		}
	}

	p := newPattern(o.seed, o.write)
	pc, _ := n.(PacketCounter)
	var pk0 uint64
	if pc != nil {
		pk0 = pc.Packets()
	}
	cpu0 := cpuTime()
	start := time.Now()
	stop := start.Add(o.limit)
	if o.cap > 0 {
		stop = start.Add(o.cap)
	}
	type result struct {
		bytes int64
		err   error
	}
	results := make(chan result, flows)
	for i, c := range conns {
		share := o.total / int64(flows)
		if i == 0 {
			share += o.total % int64(flows)
		}
		go func() {
			got, err := transfer(c.snd, c.rcv, p, share, o.write, stop)
			results <- result{got, err}
		}()
	}
	var rerr error
	for range flows {
		r := <-results
		out.bytes += r.bytes
		if r.err != nil && rerr == nil {
			rerr = r.err
		}
	}
	end := time.Now()
	out.elapsed = end.Sub(start)
	out.cpu = cpuTime() - cpu0
	if pc != nil {
		out.packets = pc.Packets() - pk0
	}
	if rt, ok := n.(Retransmitter); ok {
		for _, c := range conns {
			out.retrans += rt.Retransmits(c.snd)
		}
	}
	out.completed = out.bytes == o.total
	timedOut := isTimeout(rerr)
	switch {
	case out.completed && rerr == nil:
	case timedOut && o.cap > 0:
		out.elapsed = o.cap
	case timedOut:
		return out, fmt.Errorf("only %d of %d bytes arrived in %v", out.bytes, o.total, o.limit)
	default:
		return out, rerr
	}
	return out, nil
}

// transfer writes total bytes of the pattern on snd and reads and verifies
// them from rcv, then checks that the sender's FIN follows the last byte.
// It returns the bytes verified, and the first error: a timeout at stop, a
// corrupted stream, a failed Write.
func transfer(snd, rcv net.Conn, p pattern, total int64, write int, stop time.Time) (int64, error) {
	snd.SetWriteDeadline(stop)
	rcv.SetReadDeadline(stop)
	sent := make(chan error, 1)
	go func() {
		var off int64
		for off < total {
			m, err := snd.Write(p.at(off, int(min(int64(write), total-off))))
			off += int64(m)
			if err != nil {
				sent <- fmt.Errorf("write at byte %d: %w", off, err)
				return
			}
		}
		if cw, ok := snd.(closeWriter); ok {
			sent <- cw.CloseWrite()
			return
		}
		sent <- nil
	}()
	v := verifier{p: p, max: write}
	buf := make([]byte, max(write, 64<<10))
	var got int64
	for got < total {
		m, err := rcv.Read(buf)
		if m > 0 {
			if err := v.check(buf[:m]); err != nil {
				return got, err
			}
			got += int64(m)
		}
		if err != nil {
			if isTimeout(err) {
				return got, err
			}
			return got, fmt.Errorf("read after %d of %d bytes: %w", got, total, err)
		}
	}
	// The sender's FIN must follow the last byte: nothing more.
	rcv.SetReadDeadline(time.Now().Add(setupTimeout))
	if m, err := rcv.Read(buf); m > 0 || err != io.EOF {
		return got, fmt.Errorf("after %d bytes: read %d more bytes, %v (want EOF)", got, m, err)
	}
	if err := <-sent; err != nil {
		return got, fmt.Errorf("sender: %w", err)
	}
	return got, nil
}

// isTimeout reports whether err is a deadline passing: os.ErrDeadlineExceeded
// for package net and synack, gonet's own timeout error for gVisor.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// connectPair dials port on n and accepts that connection from ln.
func connectPair(n Net, ln net.Listener, port uint16) (client, server net.Conn, err error) {
	type accepted struct {
		c   net.Conn
		err error
	}
	ch := make(chan accepted, 1)
	go func() {
		c, err := ln.Accept()
		ch <- accepted{c, err}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	client, err = n.Dial(ctx, port)
	if err != nil {
		ln.Close()
		<-ch
		return nil, nil, fmt.Errorf("dial: %w", err)
	}
	select {
	case a := <-ch:
		if a.err != nil {
			client.Close()
			return nil, nil, fmt.Errorf("accept: %w", a.err)
		}
		return client, a.c, nil
	case <-time.After(setupTimeout):
		client.Close()
		ln.Close()
		return nil, nil, errors.New("accept: no connection within the setup timeout")
	}
}
