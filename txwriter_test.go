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
	shut    atomic.Bool
	open    chan struct{} // closed to let the waiting writes through
	waiting chan struct{} // takes a token when a write starts to wait
}

func newGatedLink(ep link.Endpoint) *gatedLink {
	return &gatedLink{Endpoint: ep.(*pipe.Endpoint), open: make(chan struct{}), waiting: make(chan struct{}, 1)}
}

func (g *gatedLink) WritePackets(pkts [][]byte, meta []link.Meta) error {
	if g.shut.Load() {
		signal(g.waiting)
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
	g := newGatedLink(a)
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
	spinUntil(t, deadline, "no Write waited for the writer", func() bool { return parkedIn("(*Conn).Write") })
	// The read loop and the timer goroutine take the lock now and then;
	// the waiting Write must not hold it.
	spinUntil(t, deadline, "the connection's lock stays held while its Write waits for the writer", func() bool { return c.mu.TryLock() })
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

// parkedIn reports whether a goroutine is parked on a sync.Cond (the
// txWriter's, waiting for room) inside fn, such as "(*Conn).Write".
// spinUntil yields until ok reports true, and fails the test with msg at
// deadline: the other goroutine it waits for gets somewhere without a
// signal the test could wait on (a park inside the stack).
func spinUntil(t *testing.T, deadline time.Time, msg string, ok func() bool) {
	t.Helper()
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		runtime.Gosched()
	}
}

func parkedIn(fn string) bool {
	buf := make([]byte, 1<<20)
	for _, g := range bytes.Split(buf[:runtime.Stack(buf, true)], []byte("\n\n")) {
		if bytes.Contains(g, []byte(fn)) && bytes.Contains(g, []byte("sync.(*Cond).Wait")) {
			return true
		}
	}
	return false
}

// While the link holds its writer's write, a read loop goes on reading:
// its batch (the ACKs it owes) waits for the writer without it, so the
// connections it serves, the one the ACKs are for included, keep
// receiving.
func TestReadLoopGoesOnWhileWriterWaits(t *testing.T) {
	defer wallBound(t, time.Minute)()
	a, b := pipe.New(pipe.Config{Offload: true})
	g := newGatedLink(a)
	client, server := stacksOn(t, g, b, Options{}, Options{})
	ln, err := server.Listen("tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c1, s1 := dialAccept(t, client, ln, "10.0.0.2:80")
	c2, s2 := dialAccept(t, client, ln, "10.0.0.2:80")
	var opened sync.Once
	openGate := func() { opened.Do(func() { close(g.open) }) }
	t.Cleanup(openGate)
	g.shut.Store(true)
	if _, err := c1.Write([]byte{1}); err != nil { // the writer takes it and waits
		t.Fatal(err)
	}
	<-g.waiting
	// Two full segments the client's read loop must acknowledge at once
	// (RFC 9293 §3.8.6.3), in a batch the busy writer cannot take yet,
	// then one byte on the other connection.
	if _, err := s1.Write(make([]byte, 2*1460)); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Write([]byte{2}); err != nil {
		t.Fatal(err)
	}
	c2.SetReadDeadline(time.Now().Add(10 * time.Second))
	var one [1]byte
	if _, err := c2.Read(one[:]); err != nil {
		t.Fatalf("the read loop stopped while the writer waits: %v", err)
	}
	openGate()
}

// A Read whose window update finds the writer's queue full waits for room
// without the connection's lock: the read loop, which takes it for every
// segment of the connection, never waits behind the Read.
func TestReadWaitsForWriterUnlocked(t *testing.T) {
	defer wallBound(t, time.Minute)()
	a, b := pipe.New(pipe.Config{Offload: true})
	g := newGatedLink(a)
	client, server := stacksOn(t, g, b, Options{}, Options{})
	ln, err := server.Listen("tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c1, _ := dialAccept(t, client, ln, "10.0.0.2:80")
	c2, s2 := dialAccept(t, client, ln, "10.0.0.2:80")
	// Most of c2's receive buffer filled and unread: reading it opens
	// the window enough for an update (RFC 9293 §3.8.6.2.2).
	const unread = 640 << 10
	if _, err := s2.Write(make([]byte, unread)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c2.mu.Lock()
		got, _ := c2.tcb.Buffered()
		c2.mu.Unlock()
		if got == unread {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d bytes arrived", got, unread)
		}
		runtime.Gosched()
	}
	var opened sync.Once
	openGate := func() { opened.Do(func() { close(g.open) }) }
	t.Cleanup(openGate)
	g.shut.Store(true)
	// 1-byte Writes on c1 until the writer waits in the link and its
	// queue is full.
	const n = 4 * maxSpilled
	wrote := make(chan error, 1)
	go func() {
		for i := range n {
			if _, err := c1.Write([]byte{byte(i)}); err != nil {
				wrote <- err
				return
			}
		}
		wrote <- nil
	}()
	spinUntil(t, deadline, "no Write waited for the writer", func() bool { return parkedIn("(*Conn).Write") })
	read := make(chan error, 1)
	go func() {
		_, err := io.ReadFull(c2, make([]byte, unread))
		read <- err
	}()
	spinUntil(t, deadline, "the Read's window update never waited for the writer", func() bool { return parkedIn("(*Conn).Read") })
	spinUntil(t, deadline, "the connection's lock stays held while its Read waits for the writer", func() bool { return c2.mu.TryLock() })
	c2.mu.Unlock()
	openGate()
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if err := <-read; err != nil {
		t.Fatal(err)
	}
}
