package netstack

import (
	"errors"
	"testing"
	"time"
)

func pkts(vals ...byte) [][]byte {
	out := make([][]byte, len(vals))
	for i, v := range vals {
		out[i] = []byte{0xee, v} // one byte of headroom, then the packet
	}
	return out
}

// TestQueueOrderAndDrops: packets come out in order, at the offset, and a
// dropping queue counts what found it full.
func TestQueueOrderAndDrops(t *testing.T) {
	q := newQueue(2, false)
	if err := q.push(pkts(1, 2, 3), 1); err != nil {
		t.Fatal(err)
	}
	bufs := [][]byte{make([]byte, 3), make([]byte, 3), make([]byte, 3)}
	sizes := make([]int, 3)
	n, err := q.pop(bufs, sizes, 1)
	if err != nil || n != 2 {
		t.Fatalf("pop = %d, %v; want 2", n, err)
	}
	for i := range n {
		if sizes[i] != 1 || bufs[i][1] != byte(i+1) {
			t.Errorf("packet %d: %v (size %d)", i, bufs[i], sizes[i])
		}
	}
	if st := q.stats(); st.Dropped != 1 || st.Pushed != 2 {
		t.Errorf("stats %+v, want 1 dropped, 2 pushed", st)
	}
}

// TestQueueLendsBuffers: a waiting reader's buffers are filled directly,
// and later packets queue behind them in order.
func TestQueueLendsBuffers(t *testing.T) {
	q := newQueue(4, false)
	bufs := [][]byte{make([]byte, 2)}
	sizes := make([]int, 1)
	got := make(chan int, 1)
	go func() {
		n, _ := q.pop(bufs, sizes, 1)
		got <- n
	}()
	// Wait until the reader has lent its buffer.
	deadline := time.Now().Add(10 * time.Second)
	for {
		q.mu.Lock()
		lent := q.lent != nil
		q.mu.Unlock()
		if lent {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("reader never waited")
		}
		time.Sleep(time.Millisecond)
	}
	q.push(pkts(7, 8), 1)
	if n := <-got; n != 1 || bufs[0][1] != 7 {
		t.Fatalf("lent read: %d packets, %v", n, bufs[0])
	}
	n, _ := q.pop(bufs, sizes, 1)
	if n != 1 || bufs[0][1] != 8 {
		t.Fatalf("next read: %d packets, %v", n, bufs[0])
	}
}

// TestQueueBlocks: a blocking queue makes a writer wait for room and
// wakes it on pop or close.
func TestQueueBlocks(t *testing.T) {
	q := newQueue(1, true)
	q.push(pkts(1), 1)
	pushed := make(chan error, 1)
	go func() { pushed <- q.push(pkts(2), 1) }()
	select {
	case <-pushed:
		t.Fatal("push into a full blocking queue returned")
	case <-time.After(20 * time.Millisecond):
	}
	bufs := [][]byte{make([]byte, 2)}
	sizes := make([]int, 1)
	if n, _ := q.pop(bufs, sizes, 1); n != 1 || bufs[0][1] != 1 {
		t.Fatalf("pop: %d %v", n, bufs[0])
	}
	select {
	case err := <-pushed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("pop did not wake the waiting writer")
	}
	go func() { pushed <- q.push(pkts(3), 1) }()
	q.close()
	select {
	case err := <-pushed:
		if !errors.Is(err, errQueueClosed) {
			t.Errorf("push woken by close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("close did not wake the waiting writer")
	}
	if _, err := q.pop(bufs, sizes, 1); !errors.Is(err, errQueueClosed) {
		t.Errorf("pop after close: %v", err)
	}
}
