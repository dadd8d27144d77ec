package synack

import (
	"bytes"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/synack-go/synack/link"
	"github.com/synack-go/synack/link/pipe"
)

// gatedLink is a pipe end with offloads whose writes wait while the gate
// is shut: a link that stops taking packets, as a TUN device's writes do
// when the kernel is busy.
type gatedLink struct {
	*pipe.Endpoint
	shut atomic.Bool
	open chan struct{} // closed to let the waiting writes through
}

func (g *gatedLink) WritePackets(pkts [][]byte, meta []link.Meta) error {
	if g.shut.Load() {
		<-g.open
	}
	return g.Endpoint.WritePackets(pkts, meta)
}

// A Write that waits for room in its queue's writer (its batches pile up
// behind a write the link holds) waits without the connection's lock, so
// that the read loop and the timer goroutine, which serve every other
// connection too, never wait behind it.
func TestWriteWaitsForWriterUnlocked(t *testing.T) {
	defer wallBound(t, time.Minute)()
	a, b := pipe.New(pipe.Config{Offload: true})
	g := &gatedLink{Endpoint: a.(*pipe.Endpoint), open: make(chan struct{})}
	client, server := stacksOn(t, g, b, Options{}, Options{})
	if client.lk.writer(0) == nil {
		t.Fatal("no writer goroutine on a link with offloads")
	}
	c, s := connected(t, client, server, "10.0.0.2:80")
	var opened sync.Once
	openGate := func() { opened.Do(func() { close(g.open) }) }
	t.Cleanup(openGate) // before the stacks close, should the test fail
	g.shut.Store(true)
	// Each 1-byte Write is a segment (no Nagle) in a batch of its own:
	// the writer takes the first and waits in the link, the next fill its
	// queue (with the read loop's and the timer's batches, if any), and
	// then one must wait for room.
	const n = 4 * maxHandedOver
	done := make(chan error, 1)
	go func() {
		for i := range n {
			if _, err := c.Write([]byte{byte(i)}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !writeWaiting() {
		if time.Now().After(deadline) {
			t.Fatal("no Write waited for the writer")
		}
		runtime.Gosched()
	}
	// The read loop and the timer goroutine take the lock now and then;
	// the waiting Write must not hold it.
	for !c.mu.TryLock() {
		if time.Now().After(deadline) {
			t.Fatal("the connection's lock stays held while its Write waits for the writer")
		}
		runtime.Gosched()
	}
	c.mu.Unlock()
	openGate()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := make([]byte, n)
	if _, err := io.ReadFull(s, got); err != nil {
		t.Fatal(err)
	}
	for i, x := range got {
		if x != byte(i) {
			t.Fatalf("the server read % x, want 0, 1, 2, ... in order", got)
		}
	}
}

// writeWaiting reports whether a goroutine is parked in a Conn.Write on a
// sync.Cond: the txWriter's, waiting for room.
func writeWaiting() bool {
	buf := make([]byte, 1<<20)
	for _, g := range bytes.Split(buf[:runtime.Stack(buf, true)], []byte("\n\n")) {
		if bytes.Contains(g, []byte("(*Conn).Write")) && bytes.Contains(g, []byte("sync.(*Cond).Wait")) {
			return true
		}
	}
	return false
}
