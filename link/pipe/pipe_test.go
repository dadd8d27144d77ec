package pipe

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/synack-go/synack/link"
)

// numbered returns a size-byte packet whose first four bytes hold i.
func numbered(i, size int) []byte {
	b := make([]byte, max(size, 4))
	binary.BigEndian.PutUint32(b, uint32(i))
	for j := 4; j < len(b); j++ {
		b[j] = byte(i * j)
	}
	return b
}

func number(b []byte) int { return int(binary.BigEndian.Uint32(b)) }

// buffers returns n MTU-sized read buffers and their sizes.
func buffers(n, mtu int) ([][]byte, []int) {
	bufs := make([][]byte, n)
	for i := range bufs {
		bufs[i] = make([]byte, mtu)
	}
	return bufs, make([]int, n)
}

// readN reads until n packets have arrived on e and returns copies.
func readN(t *testing.T, e link.Endpoint, n int) [][]byte {
	t.Helper()
	bufs, sizes := buffers(e.BatchSize(), e.MTU())
	var got [][]byte
	for len(got) < n {
		k, err := e.ReadBatch(bufs, sizes)
		if err != nil {
			t.Fatalf("ReadBatch after %d packets: %v", len(got), err)
		}
		for i := range k {
			got = append(got, bytes.Clone(bufs[i][:sizes[i]]))
		}
	}
	return got
}

func stats(e link.Endpoint) Stats { return e.(*Endpoint).Stats() }

func TestPerfectPipeDeliversInOrderBothWays(t *testing.T) {
	a, b := New(Config{})
	defer a.Close()
	if a.MTU() != DefaultMTU || b.BatchSize() != 64 {
		t.Fatalf("MTU %d, BatchSize %d", a.MTU(), b.BatchSize())
	}
	for _, dir := range [][2]link.Endpoint{{a, b}, {b, a}} {
		from, to := dir[0], dir[1]
		var sent [][]byte
		for i := 0; i < 1000; {
			var batch [][]byte
			for range min(1+i%7, 1000-i) { // batches of varying size
				batch = append(batch, numbered(i, 1+i%1500))
				i++
			}
			if err := from.WriteBatch(batch); err != nil {
				t.Fatal(err)
			}
			sent = append(sent, batch...)
			if i%280 < 7 {
				// Drain now and then so the queue never fills.
				got := readN(t, to, len(sent))
				for j := range got {
					if !bytes.Equal(got[j], sent[j]) {
						t.Fatalf("packet %d arrived as packet %d (%d bytes)", number(sent[j]), number(got[j]), len(got[j]))
					}
				}
				sent = sent[:0]
			}
		}
		readN(t, to, len(sent))
	}
	if s := stats(a); s.Written != 1000 || s.Queued != 1000 || s.Read != 1000 || s.Impair.Delivered != 1000 {
		t.Fatalf("stats of a: %+v", s)
	}
}

func TestReadBatchTakesAllQueuedUpToBuffers(t *testing.T) {
	a, b := New(Config{})
	defer a.Close()
	var batch [][]byte
	for i := range 10 {
		batch = append(batch, numbered(i, 100))
	}
	a.WriteBatch(batch)
	bufs, sizes := buffers(6, 1500)
	if n, err := b.ReadBatch(bufs, sizes); n != 6 || err != nil {
		t.Fatalf("ReadBatch = %d, %v; want 6 packets", n, err)
	}
	if n, err := b.ReadBatch(bufs, sizes); n != 4 || err != nil || number(bufs[0]) != 6 {
		t.Fatalf("ReadBatch = %d, %v, first %d; want packets 6..9", n, err, number(bufs[0]))
	}
	// Short buffers get the head of the packet; no buffers return at once.
	a.WriteBatch(batch[:1])
	short := [][]byte{make([]byte, 10)}
	if n, err := b.ReadBatch(short, sizes); n != 1 || err != nil || sizes[0] != 10 {
		t.Fatalf("short ReadBatch = %d, %v, size %d", n, err, sizes[0])
	}
	if n, err := b.ReadBatch(nil, nil); n != 0 || err != nil {
		t.Fatalf("empty ReadBatch = %d, %v", n, err)
	}
}

func TestMTU(t *testing.T) {
	a, b := New(Config{MTU: 1280})
	defer a.Close()
	if a.MTU() != 1280 {
		t.Fatalf("MTU = %d", a.MTU())
	}
	err := a.WriteBatch([][]byte{numbered(1, 1281), numbered(2, 1280), numbered(3, 9000), numbered(4, 20)})
	if err != nil {
		t.Fatal(err)
	}
	got := readN(t, b, 2)
	if number(got[0]) != 2 || number(got[1]) != 4 {
		t.Fatalf("got packets %d and %d, want 2 and 4", number(got[0]), number(got[1]))
	}
	if s := stats(a); s.TooBig != 2 || s.Written != 4 || s.Queued != 2 {
		t.Fatalf("stats %+v, want 2 too big", s)
	}
	if a, _ := New(Config{MTU: 1 << 20}); a.MTU() != 65535 {
		t.Fatalf("MTU 1<<20 became %d, want 65535", a.MTU())
	}
}

func TestFullQueueDropsTail(t *testing.T) {
	a, b := New(Config{QueueLen: 100})
	defer a.Close()
	for i := range 150 {
		a.WriteBatch([][]byte{numbered(i, 50)})
	}
	got := readN(t, b, 100)
	if number(got[0]) != 0 || number(got[99]) != 99 {
		t.Fatalf("queue kept packets %d..%d, want 0..99", number(got[0]), number(got[99]))
	}
	if s := stats(a); s.QueueFull != 50 || s.Queued != 100 {
		t.Fatalf("stats %+v, want 50 dropped at the full queue", s)
	}
	// Room again once read.
	a.WriteBatch([][]byte{numbered(7, 50)})
	if got := readN(t, b, 1); number(got[0]) != 7 {
		t.Fatalf("got packet %d after draining, want 7", number(got[0]))
	}
}

// Tests that wait for goroutines run in a testing/synctest bubble: a reader
// that never wakes is a deadlock the bubble reports, not a hang, and delays
// take no time.

func TestCloseUnblocksReadBatchOnBothEnds(t *testing.T) {
	synctest.Test(t, testCloseUnblocksReadBatchOnBothEnds)
}

func testCloseUnblocksReadBatchOnBothEnds(t *testing.T) {
	for _, closer := range []string{"a", "b"} {
		a, b := New(Config{Delay: time.Hour}) // packets in flight never land
		a.WriteBatch([][]byte{numbered(1, 20)})
		errs := make(chan error, 2)
		for _, e := range []link.Endpoint{a, b} {
			go func() {
				bufs, sizes := buffers(4, 1500)
				_, err := e.ReadBatch(bufs, sizes)
				errs <- err
			}()
		}
		synctest.Wait() // both readers wait in ReadBatch
		if len(errs) != 0 {
			t.Fatalf("close %s: a ReadBatch returned before Close: %v", closer, <-errs)
		}
		map[string]link.Endpoint{"a": a, "b": b}[closer].Close()
		for range 2 {
			if err := <-errs; !errors.Is(err, net.ErrClosed) {
				t.Fatalf("close %s: blocked ReadBatch returned %v, want net.ErrClosed", closer, err)
			}
		}
		for _, e := range []link.Endpoint{a, b} {
			if err := e.WriteBatch([][]byte{numbered(2, 20)}); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("WriteBatch after Close = %v, want net.ErrClosed", err)
			}
			if _, err := e.ReadBatch(buffers(1, 1500)); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("ReadBatch after Close = %v, want net.ErrClosed", err)
			}
			if err := e.Close(); err != nil {
				t.Fatalf("second Close = %v", err)
			}
		}
		if s := stats(a); s.Impair.Discarded != 1 {
			t.Fatalf("in-flight packet not counted as discarded: %+v", s.Impair)
		}
	}
}

func TestClosedQueueDropsQueuedPackets(t *testing.T) {
	a, b := New(Config{})
	a.WriteBatch([][]byte{numbered(1, 20)})
	b.Close()
	if _, err := b.ReadBatch(buffers(1, 1500)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("ReadBatch with a queued packet after Close = %v, want net.ErrClosed", err)
	}
}

// received returns the numbers of the packets that cross from->to when
// n numbered packets are written one at a time.
func received(t *testing.T, from, to link.Endpoint, n int) []int {
	for i := range n {
		from.WriteBatch([][]byte{numbered(i, 60)})
	}
	s := stats(from)
	got := readN(t, to, int(s.Queued))
	var ns []int
	for _, p := range got {
		ns = append(ns, number(p))
	}
	return ns
}

func TestImpairedPipeIsSeededPerDirection(t *testing.T) {
	cfg := Config{Loss: 0.3, Seed: 11}
	a1, b1 := New(cfg)
	defer a1.Close()
	a2, b2 := New(cfg)
	defer a2.Close()
	ab1 := received(t, a1, b1, 500)
	ab2 := received(t, a2, b2, 500)
	ba1 := received(t, b1, a1, 500)
	if !slices.Equal(ab1, ab2) {
		t.Fatal("two pipes with the same seed dropped different packets")
	}
	if slices.Equal(ab1, ba1) {
		t.Fatal("both directions dropped the same packets: seeds not derived per direction")
	}
	if len(ab1) < 300 || len(ab1) > 400 {
		t.Fatalf("%d of 500 packets crossed at 30%% loss", len(ab1))
	}
}

func TestDelayedPipeDeliversInOrder(t *testing.T) {
	synctest.Test(t, testDelayedPipeDeliversInOrder)
}

func testDelayedPipeDeliversInOrder(t *testing.T) {
	a, b := New(Config{Delay: 2 * time.Millisecond, Jitter: time.Millisecond, RateBitsPerSec: 1e9, Seed: 3})
	defer a.Close()
	for i := range 300 {
		a.WriteBatch([][]byte{numbered(i, 60)})
	}
	for i, p := range readN(t, b, 300) {
		if number(p) != i {
			t.Fatalf("arrival %d is packet %d", i, number(p))
		}
	}
}

func TestRateLimitedPipeDropsABurstsTail(t *testing.T) {
	synctest.Test(t, testRateLimitedPipeDropsABurstsTail)
}

func testRateLimitedPipeDropsABurstsTail(t *testing.T) {
	// 10 Mbit/s, 5000 bytes of queue: of a 20-packet burst of 1000 bytes,
	// the packet on the wire and the four behind it pass.
	a, b := New(Config{RateBitsPerSec: 10e6, QueueBytes: 5000})
	defer a.Close()
	var burst [][]byte
	for i := range 20 {
		burst = append(burst, numbered(i, 1000))
	}
	a.WriteBatch(burst)
	for i, p := range readN(t, b, 5) {
		if number(p) != i {
			t.Fatalf("arrival %d is packet %d", i, number(p))
		}
	}
	if s := stats(a); s.Impair.QueueDrops != 15 {
		t.Fatalf("stats %+v, want 15 queue drops", s.Impair)
	}
}

func TestConcurrentWritersAndReader(t *testing.T) {
	a, b := New(Config{QueueLen: 4096})
	defer a.Close()
	const writers, each = 4, 500
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				a.WriteBatch([][]byte{numbered(w*each+i, 40)})
			}
		})
	}
	got := readN(t, b, writers*each)
	wg.Wait()
	next := make([]int, writers)
	for _, p := range got {
		n := number(p)
		if n%each != next[n/each] {
			t.Fatalf("writer %d: packet %d arrived before %d", n/each, n%each, next[n/each])
		}
		next[n/each]++
	}
}

func TestPerfectRoundTripAllocatesNothing(t *testing.T) {
	a, b := New(Config{})
	defer a.Close()
	batch := make([][]byte, 64)
	for i := range batch {
		batch[i] = numbered(i, 1500)
	}
	bufs, sizes := buffers(64, 1500)
	trip := func() {
		a.WriteBatch(batch)
		b.ReadBatch(bufs, sizes)
		b.WriteBatch(batch)
		a.ReadBatch(bufs, sizes)
	}
	trip()
	if n := testing.AllocsPerRun(100, trip); n != 0 {
		t.Fatalf("%v allocations per round trip", n)
	}
}

// BenchmarkRoundTrip moves a batch of 64 1500-byte packets from a to b and
// back on a perfect pipe.
func BenchmarkRoundTrip(b *testing.B) {
	x, y := New(Config{})
	defer x.Close()
	batch := make([][]byte, 64)
	for i := range batch {
		batch[i] = numbered(i, 1500)
	}
	bufs, sizes := buffers(64, 1500)
	b.ReportAllocs()
	b.SetBytes(2 * 64 * 1500)
	for b.Loop() {
		x.WriteBatch(batch)
		y.ReadBatch(bufs, sizes)
		y.WriteBatch(batch)
		x.ReadBatch(bufs, sizes)
	}
}

// BenchmarkStream has one goroutine writing 64-packet batches and another
// reading them, as a stack's output and a peer's input loop would.
func BenchmarkStream(b *testing.B) {
	x, y := New(Config{})
	batch := make([][]byte, 64)
	for i := range batch {
		batch[i] = numbered(i, 1500)
	}
	// The reader hands back a credit per 64 packets read, and the writer
	// spends one per batch: at most 8 batches wait, half the queue, so
	// none overflows.
	credits := make(chan struct{}, 8)
	for range cap(credits) {
		credits <- struct{}{}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		bufs, sizes := buffers(64, 1500)
		read := 0
		for {
			n, err := y.ReadBatch(bufs, sizes)
			if err != nil {
				return
			}
			for read += n; read >= 64; read -= 64 {
				credits <- struct{}{}
			}
		}
	}()
	b.ReportAllocs()
	b.SetBytes(64 * 1500)
	for b.Loop() {
		<-credits
		x.WriteBatch(batch)
	}
	b.StopTimer()
	x.Close()
	<-done
}

// TestWaitingReaderIsWrittenDirectly parks a reader, then writes more
// packets than it lent buffers for: the first fill its buffers (copied once,
// straight from the writer), the rest wait in the ring, and every packet
// comes out once, in order.
func TestWaitingReaderIsWrittenDirectly(t *testing.T) {
	synctest.Test(t, testWaitingReaderIsWrittenDirectly)
}

func testWaitingReaderIsWrittenDirectly(t *testing.T) {
	a, b := New(Config{})
	defer a.Close()
	in := b.(*Endpoint).in[0]
	bufs, sizes := buffers(4, 1500)
	got := make(chan []int, 1)
	go func() {
		n, err := b.ReadBatch(bufs, sizes)
		if err != nil {
			t.Error(err)
		}
		var nums []int
		for i := range n {
			nums = append(nums, number(bufs[i][:sizes[i]]))
		}
		got <- nums
	}()
	synctest.Wait() // the reader waits in ReadBatch
	if !lending(in) {
		t.Fatal("a waiting reader lent no buffers")
	}
	var batch [][]byte
	for i := range 7 {
		batch = append(batch, numbered(i, 100+i))
	}
	a.WriteBatch(batch[:2])
	a.WriteBatch(batch[2:])
	first := <-got
	if !slices.Equal(first, []int{0, 1, 2, 3}) {
		t.Fatalf("the waiting reader got packets %v, want 0 1 2 3", first)
	}
	in.mu.Lock()
	ringed := in.n
	in.mu.Unlock()
	if ringed != 3 {
		t.Fatalf("%d packets in the ring, want the 3 that did not fit", ringed)
	}
	rest := readN(t, b, 3)
	for i, p := range rest {
		if number(p) != 4+i || len(p) != 104+i {
			t.Fatalf("packet %d is number %d of %d bytes, want %d of %d", i, number(p), len(p), 4+i, 104+i)
		}
	}
	if s := stats(a); s.Queued != 7 || stats(b).Read != 7 {
		t.Fatalf("queued %d, read %d; want 7 and 7", s.Queued, stats(b).Read)
	}
}

// TestCloseWakesALendingReader closes the pipe under a parked reader.
func TestCloseWakesALendingReader(t *testing.T) {
	synctest.Test(t, testCloseWakesALendingReader)
}

func testCloseWakesALendingReader(t *testing.T) {
	a, b := New(Config{})
	done := make(chan error, 1)
	go func() {
		bufs, sizes := buffers(4, 1500)
		_, err := b.ReadBatch(bufs, sizes)
		done <- err
	}()
	synctest.Wait() // the reader waits in ReadBatch
	if !lending(b.(*Endpoint).in[0]) {
		t.Fatal("a waiting reader lent no buffers")
	}
	a.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("ReadBatch after Close = %v, want net.ErrClosed", err)
	}
}

// lending reports whether a reader's buffers are lent to q.
func lending(q *queue) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.lent != nil
}

// TestQueuedPacketsAreHandedOver: a reader that finds packets queued gets
// the ring's buffers in place of its own (one copy per packet, the
// writer's), each as long as the buffer it gave, and the ring keeps the
// reader's; buffers circulate without allocating.
func TestQueuedPacketsAreHandedOver(t *testing.T) {
	a, b := New(Config{})
	defer a.Close()
	bufs, sizes := buffers(4, 1500)
	mine := make(map[*byte]bool)
	for _, buf := range bufs {
		mine[&buf[:1][0]] = true
	}
	batch := make([][]byte, 4)
	round := func(first int) {
		for i := range batch {
			batch[i] = numbered(first+i, 100+i)
		}
		a.WriteBatch(batch)
		if n, err := b.ReadBatch(bufs, sizes); n != 4 || err != nil {
			t.Fatalf("ReadBatch = %d, %v; want 4 packets", n, err)
		}
		for i := range 4 {
			if number(bufs[i][:sizes[i]]) != first+i || sizes[i] != 100+i || len(bufs[i]) != 1500 {
				t.Fatalf("packet %d: number %d, %d bytes, buffer of %d; want %d, %d, 1500",
					i, number(bufs[i][:sizes[i]]), sizes[i], len(bufs[i]), first+i, 100+i)
			}
		}
	}
	round(0)
	for _, buf := range bufs {
		if mine[&buf[:1][0]] {
			t.Fatal("a queued packet was copied into the reader's buffer, not handed over")
		}
	}
	round(4)
	// The test's own packets are 4 allocations a round; the pipe makes none.
	if allocs := testing.AllocsPerRun(100, func() { round(8) }); allocs != 4 {
		t.Fatalf("a round allocates %v times, want the test's 4 packets", allocs)
	}
}
