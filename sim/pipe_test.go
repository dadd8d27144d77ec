package sim

import (
	"bytes"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/synack-go/synack/link/pipe"
)

func packet(i, size int) []byte { return bytes.Repeat([]byte{byte(i)}, size) }

// A packet crosses a delayed pipe in exactly its delay, stamped with the
// virtual time it arrived; a driver's ReadPacket gives up at its deadline.
func TestPipeDelay(t *testing.T) {
	s := New(Config{})
	defer s.Close()
	a, b := s.Pipe(pipe.Config{Delay: 10 * time.Millisecond})
	a.WriteBatch([][]byte{packet(1, 100)})
	s.RunFor(3 * time.Millisecond)
	a.WriteBatch([][]byte{packet(2, 100)})
	for i, want := range []time.Duration{10 * time.Millisecond, 13 * time.Millisecond} {
		p, err := b.ReadPacket(time.Time{})
		if err != nil || p.Data[0] != byte(i+1) || p.At.Sub(s.Start()) != want {
			t.Fatalf("packet %d: %v at %v, %v; want it at %v", i+1, p.Data[:1], p.At.Sub(s.Start()), err, want)
		}
	}
	if _, err := b.ReadPacket(s.Now().Add(time.Second)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("ReadPacket with nothing in flight: %v", err)
	}
	if s.Elapsed() != 13*time.Millisecond+time.Second {
		t.Fatalf("the deadline ended the wait at %v", s.Elapsed())
	}
}

// The pipe keeps link/pipe's limits and counts: packets above the MTU and
// packets that find the receive queue full are dropped and counted.
func TestPipeLimits(t *testing.T) {
	s := New(Config{})
	defer s.Close()
	a, b := s.Pipe(pipe.Config{MTU: 1000, QueueLen: 4})
	var pkts [][]byte
	for i := range 6 {
		pkts = append(pkts, packet(i, 100))
	}
	pkts = append(pkts, packet(9, 1001))
	a.WriteBatch(pkts)
	bufs := [][]byte{make([]byte, 1000), make([]byte, 1000), make([]byte, 1000), make([]byte, 1000), make([]byte, 1000)}
	sizes := make([]int, 5)
	n, err := b.ReadBatch(bufs, sizes)
	if err != nil || n != 4 || bufs[3][0] != 3 || sizes[3] != 100 {
		t.Fatalf("read %d packets, %v", n, err)
	}
	st := a.Stats()
	if st.Written != 7 || st.TooBig != 1 || st.Queued != 4 || st.QueueFull != 2 || b.Stats().Read != 4 {
		t.Fatalf("stats %+v, %+v", st, b.Stats())
	}
}

// Close wakes a reader waiting at either end with net.ErrClosed and drops
// what is in flight.
func TestPipeClose(t *testing.T) {
	s := New(Config{})
	defer s.Close()
	a, b := s.Pipe(pipe.Config{Delay: time.Second})
	a.WriteBatch([][]byte{packet(1, 10)})
	var errs []error
	for _, e := range []*Endpoint{a, b} {
		s.Go(func() {
			_, err := e.ReadBatch([][]byte{make([]byte, 100)}, []int{0})
			errs = append(errs, err)
		})
	}
	s.RunFor(time.Millisecond)
	b.Close()
	s.RunFor(0)
	if len(errs) != 2 || !errors.Is(errs[0], net.ErrClosed) || !errors.Is(errs[1], net.ErrClosed) {
		t.Fatalf("waiting readers after Close: %v", errs)
	}
	if err := a.WriteBatch([][]byte{packet(2, 10)}); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("WriteBatch after Close: %v", err)
	}
	if _, ok := s.Next(); ok {
		t.Fatal("a delivery is still scheduled after Close")
	}
}

// The same seed loses the same packets; the two directions draw apart.
func TestPipeImpairmentsReplay(t *testing.T) {
	lost := func(seed int64) (ab, ba uint64) {
		s := New(Config{Seed: seed})
		defer s.Close()
		a, b := s.Pipe(pipe.Config{Loss: 0.3})
		for i := range 1000 {
			a.WriteBatch([][]byte{packet(i, 20)})
			b.WriteBatch([][]byte{packet(i, 20)})
			a.ReadPacket(s.Now())
			b.ReadPacket(s.Now())
		}
		return a.Stats().Impair.Lost, b.Stats().Impair.Lost
	}
	ab1, ba1 := lost(1)
	ab2, ba2 := lost(1)
	ab3, _ := lost(2)
	if ab1 != ab2 || ba1 != ba2 || ab1 == ba1 || ab1 == ab3 || ab1 < 250 || ab1 > 350 {
		t.Fatalf("losses: seed 1 %d/%d and %d/%d, seed 2 %d", ab1, ba1, ab2, ba2, ab3)
	}
}
