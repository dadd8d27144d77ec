package impair

import (
	"bytes"
	"errors"
	"net"
	"sync"
	"testing"
	"testing/synctest"
)

// fakeLink records what is written to it and reads one canned packet.
type fakeLink struct {
	mu      sync.Mutex
	writes  [][]byte // each packet written
	batches []int    // size of each WriteBatch call
	closed  bool
}

func (f *fakeLink) MTU() int       { return 1500 }
func (f *fakeLink) BatchSize() int { return 4 }
func (f *fakeLink) ReadBatch(bufs [][]byte, sizes []int) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, net.ErrClosed
	}
	sizes[0] = copy(bufs[0], "incoming")
	return 1, nil
}
func (f *fakeLink) WriteBatch(pkts [][]byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return net.ErrClosed
	}
	f.batches = append(f.batches, len(pkts))
	for _, p := range pkts {
		f.writes = append(f.writes, bytes.Clone(p))
	}
	return nil
}
func (f *fakeLink) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

func TestWrapImpairsWritesOnly(t *testing.T) {
	inner := &fakeLink{}
	e := Wrap(inner, Config{Loss: 1})
	if e.MTU() != 1500 || e.BatchSize() != 4 {
		t.Fatalf("MTU %d, BatchSize %d: not the inner endpoint's", e.MTU(), e.BatchSize())
	}
	if err := e.WriteBatch([][]byte{numbered(1, 20), numbered(2, 20)}); err != nil {
		t.Fatal(err)
	}
	if len(inner.writes) != 0 || e.Stats().Lost != 2 {
		t.Fatalf("Loss 1 let %d packets through, stats %+v", len(inner.writes), e.Stats())
	}
	bufs, sizes := [][]byte{make([]byte, 1500)}, []int{0}
	if n, err := e.ReadBatch(bufs, sizes); n != 1 || err != nil || string(bufs[0][:sizes[0]]) != "incoming" {
		t.Fatalf("ReadBatch = %d, %v, %q; want the inner packet untouched", n, err, bufs[0][:sizes[0]])
	}
	if err := e.Close(); err != nil || !inner.closed {
		t.Fatalf("Close = %v, inner closed %v", err, inner.closed)
	}
	if err := e.WriteBatch([][]byte{numbered(3, 20)}); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("WriteBatch after Close = %v, want net.ErrClosed", err)
	}
}

func TestWrapSplitsBatchesAndReportsInnerClose(t *testing.T) {
	inner := &fakeLink{}
	e := Wrap(inner, Config{Duplicate: 1})
	defer e.Close()
	var pkts [][]byte
	for i := range 5 {
		pkts = append(pkts, numbered(i, 20))
	}
	if err := e.WriteBatch(pkts); err != nil {
		t.Fatal(err)
	}
	if len(inner.writes) != 10 {
		t.Fatalf("inner got %d packets, want 10", len(inner.writes))
	}
	for _, n := range inner.batches {
		if n > inner.BatchSize() {
			t.Fatalf("inner got a batch of %d, more than its BatchSize", n)
		}
	}
	inner.Close()
	if err := e.WriteBatch(pkts); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("WriteBatch to a closed inner endpoint = %v, want net.ErrClosed", err)
	}
}

func TestWrapDelayedReachesInner(t *testing.T) { synctest.Test(t, testWrapDelayedReachesInner) }

func testWrapDelayedReachesInner(t *testing.T) {
	s := newSink()
	inner := &sinkLink{fakeLink: &fakeLink{}, s: s}
	e := Wrap(inner, Config{Delay: ms, Jitter: ms, Seed: 4})
	defer e.Close()
	for i := range 100 {
		if err := e.WriteBatch([][]byte{numbered(i, 100)}); err != nil {
			t.Fatal(err)
		}
	}
	for i, p := range s.wait(100) {
		if number(p) != i {
			t.Fatalf("delivery %d is packet %d", i, number(p))
		}
	}
}

// sinkLink is a fakeLink whose writes go to a sink a test can wait on.
type sinkLink struct {
	*fakeLink
	s *sink
}

func (l *sinkLink) WriteBatch(pkts [][]byte) error {
	l.s.deliver(pkts)
	return nil
}
