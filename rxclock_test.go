package synack

import (
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/synack-go/synack/link/pipe"
	"github.com/synack-go/synack/sim"
)

// countingClock is a simulation's clock that counts the readings of its
// time.
type countingClock struct {
	*sim.Sim
	reads atomic.Int64
}

func (c *countingClock) Now() time.Time {
	c.reads.Add(1)
	return c.Sim.Now()
}

// A read loop reads the clock once per read batch, not once per segment:
// ten segments that arrive together cost the receiving stack one reading
// (txBatch.now).
func TestReadBatchReadsClockOnce(t *testing.T) {
	sm := newSim(t)
	a, b := sm.Pipe(pipe.Config{})
	client := newStack(t, sm, a, Options{Name: "client", Addrs: []netip.Prefix{clientAddr}})
	clk := &countingClock{Sim: sm}
	server, err := NewStack(b, Options{Name: "server", Addrs: []netip.Prefix{serverAddr}, Clock: clk, Rand: sm.Rand()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	c, s := connected(t, client, server, "10.0.0.2:80")
	const segs = 10
	sm.RunFor(time.Second) // every timer of the handshake settles
	clk.reads.Store(0)
	c.Write(make([]byte, segs*(pipe.DefaultMTU-40)))
	waitFor(t, sm, "data", func() bool { r, _ := s.tcbBuffered(); return r == segs*(pipe.DefaultMTU-40) })
	if n := clk.reads.Load(); n > 2 {
		t.Fatalf("the server read the clock %d times for %d segments that arrived together", n, segs)
	}
}
