package impair

import (
	"errors"
	"net"
	"sync"
	"testing"
	"testing/synctest"
)

// feedLink is an endpoint whose ReadBatch returns the packets a test feeds
// it, one per call, and net.ErrClosed after Close.
type feedLink struct {
	fakeLink
	in     chan []byte
	closed chan struct{}
	once   sync.Once
}

func newFeedLink() *feedLink {
	return &feedLink{in: make(chan []byte, 1000), closed: make(chan struct{})}
}

func (f *feedLink) ReadBatch(bufs [][]byte, sizes []int) (int, error) {
	select {
	case p := <-f.in:
		sizes[0] = copy(bufs[0], p)
		return 1, nil
	case <-f.closed:
		return 0, net.ErrClosed
	}
}

func (f *feedLink) Close() error {
	f.once.Do(func() { close(f.closed) })
	return nil
}

// readN reads n packets from e and returns their numbers.
func readN(t *testing.T, e *ReadEndpoint, n int) []int {
	t.Helper()
	bufs := [][]byte{make([]byte, 1500), make([]byte, 1500)}
	sizes := make([]int, 2)
	var got []int
	for len(got) < n {
		k, err := e.ReadBatch(bufs, sizes)
		if err != nil {
			t.Fatalf("ReadBatch after %d packets: %v", len(got), err)
		}
		for i := range k {
			got = append(got, number(bufs[i][:sizes[i]]))
		}
	}
	return got
}

func TestWrapReadPerfectPassesThrough(t *testing.T) {
	synctest.Test(t, testWrapReadPerfectPassesThrough)
}

func testWrapReadPerfectPassesThrough(t *testing.T) {
	inner := newFeedLink()
	e := WrapRead(inner, Config{})
	inner.in <- numbered(7, 40)
	if got := readN(t, e, 1); got[0] != 7 {
		t.Fatalf("read %v", got)
	}
	e.Close()
	if _, err := e.ReadBatch([][]byte{make([]byte, 10)}, []int{0}); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("ReadBatch after Close = %v", err)
	}
}

func TestWrapReadDelaysInOrderAndLoses(t *testing.T) {
	synctest.Test(t, testWrapReadDelaysInOrderAndLoses)
}

func testWrapReadDelaysInOrderAndLoses(t *testing.T) {
	inner := newFeedLink()
	e := WrapRead(inner, Config{Delay: ms, Jitter: ms, Seed: 3})
	for i := range 200 {
		inner.in <- numbered(i, 100)
	}
	for i, n := range readN(t, e, 200) {
		if n != i {
			t.Fatalf("packet %d read as %d: the delay reordered", i, n)
		}
	}
	if st := e.Stats(); st.Delivered != 200 {
		t.Fatalf("stats %+v", st)
	}
	if err := e.WriteBatch([][]byte{numbered(1, 20)}); err != nil || len(inner.writes) != 1 {
		t.Fatalf("WriteBatch = %v, inner got %d packets", err, len(inner.writes))
	}
	e.Close()

	inner = newFeedLink()
	e = WrapRead(inner, Config{Loss: 1})
	inner.in <- numbered(1, 20)
	inner.in <- numbered(2, 20)
	e.Close()
	if _, err := e.ReadBatch([][]byte{make([]byte, 100)}, []int{0}); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("ReadBatch = %v, want net.ErrClosed with everything lost", err)
	}
}

func TestWrapReadCloseUnblocksReader(t *testing.T) { synctest.Test(t, testWrapReadCloseUnblocksReader) }

func testWrapReadCloseUnblocksReader(t *testing.T) {
	inner := newFeedLink()
	e := WrapRead(inner, Config{Delay: ms})
	done := make(chan error)
	go func() {
		_, err := e.ReadBatch([][]byte{make([]byte, 100)}, []int{0})
		done <- err
	}()
	e.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("pending ReadBatch = %v, want net.ErrClosed", err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
}

func TestWrapBothDirections(t *testing.T) { synctest.Test(t, testWrapBothDirections) }

func testWrapBothDirections(t *testing.T) {
	inner := newFeedLink()
	e := Wrap(WrapRead(inner, Config{Duplicate: 1}), Config{Loss: 1})
	inner.in <- numbered(5, 60)
	bufs := [][]byte{make([]byte, 1500), make([]byte, 1500)}
	sizes := make([]int, 2)
	got := 0
	for got < 2 {
		n, err := e.ReadBatch(bufs, sizes)
		if err != nil {
			t.Fatal(err)
		}
		got += n
	}
	if err := e.WriteBatch([][]byte{numbered(6, 60)}); err != nil || len(inner.writes) != 0 {
		t.Fatalf("WriteBatch = %v; %d packets passed a 100%% loss", err, len(inner.writes))
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
}
