package pipe

import (
	"errors"
	"net"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/synack-go/synack/link"
)

// waitingReader starts a reader of e that waits in ReadBatch and reports
// the numbers of the packets its one read returns (none after Close).
func waitingReader(t *testing.T, e link.Endpoint) <-chan []int {
	got := make(chan []int, 1)
	go func() {
		bufs, sizes := buffers(8, 1500)
		n, err := e.ReadBatch(bufs, sizes)
		if err != nil && !errors.Is(err, net.ErrClosed) {
			t.Error(err)
		}
		var nums []int
		for i := range n {
			nums = append(nums, number(bufs[i][:sizes[i]]))
		}
		got <- nums
	}()
	return got
}

// TestInlineRunsOnTheWriterWhileTheReaderWaits: a packet for a waiting
// reader that opted in goes to its receive function within WriteBatch,
// and the read does not return; what the receive function's own writes
// send back is queued, not delivered inline in turn, and a packet that
// arrives while it runs waits for the read, behind it.
func TestInlineRunsOnTheWriterWhileTheReaderWaits(t *testing.T) {
	synctest.Test(t, testInlineRunsOnTheWriterWhileTheReaderWaits)
}

func testInlineRunsOnTheWriterWhileTheReaderWaits(t *testing.T) {
	a, b := New(Config{})
	defer a.Close()
	var atA, atB []int
	a.(link.Inliner).SetInline(func(pkts [][]byte, meta []link.Meta) {
		for _, p := range pkts {
			atA = append(atA, number(p))
		}
	})
	b.(link.Inliner).SetInline(func(pkts [][]byte, meta []link.Meta) {
		if meta != nil {
			t.Errorf("metadata %v on a pipe without offloads", meta)
		}
		for _, p := range pkts {
			atB = append(atB, number(p))
		}
		// The answer, which a's waiting reader must read: no recursion.
		b.WriteBatch([][]byte{numbered(100, 40)})
		// A packet for b meanwhile: queued behind the ones running.
		a.WriteBatch([][]byte{numbered(2, 40)})
	})
	readA, readB := waitingReader(t, a), waitingReader(t, b)
	synctest.Wait()
	if err := a.WriteBatch([][]byte{numbered(0, 40), numbered(1, 60)}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(atB, []int{0, 1}) {
		t.Fatalf("b's receive function got %v within WriteBatch, want [0 1]", atB)
	}
	if got := <-readA; len(atA) != 0 || !slices.Equal(got, []int{100}) {
		t.Fatalf("the answer went to a's receive function as %v and to its read as %v, want [] and [100]", atA, got)
	}
	if got := <-readB; !slices.Equal(got, []int{2}) {
		t.Fatalf("b's read returned %v, want the packet that came while it ran: [2]", got)
	}
	if s := stats(b); s.Inline != 2 || s.Read != 3 || stats(a).Queued != 3 {
		t.Fatalf("b: inline %d, read %d; a queued %d; want 2, 3, 3", s.Inline, s.Read, stats(a).Queued)
	}
}

// TestInlineOnlyForAnIdleReaderOnAPerfectPipe: packets go through the
// queue when the reader is not waiting or packets wait before them, and
// always on an impaired pipe.
func TestInlineOnlyForAnIdleReaderOnAPerfectPipe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, cfg := range []Config{{}, {Loss: 1e-9, Seed: 1}, {Delay: time.Millisecond}} {
			a, b := New(cfg)
			inlined := 0
			b.(link.Inliner).SetInline(func(pkts [][]byte, meta []link.Meta) { inlined += len(pkts) })
			a.WriteBatch([][]byte{numbered(0, 40)}) // no reader yet
			if inlined != 0 {
				t.Fatalf("%+v: delivered inline with no reader waiting", cfg)
			}
			got := readN(t, b, 1)
			readB := waitingReader(t, b)
			synctest.Wait()
			a.WriteBatch([][]byte{numbered(1, 40)})
			if cfg != (Config{}) {
				if nums := <-readB; inlined != 0 || !slices.Equal(nums, []int{1}) {
					t.Fatalf("%+v: inline %d, read %v; want 0 and [1]", cfg, inlined, nums)
				}
			} else if inlined != 1 {
				t.Fatalf("perfect pipe: %d packets inline, want 1", inlined)
			}
			if number(got[0]) != 0 {
				t.Fatalf("%+v: read packet %d first", cfg, number(got[0]))
			}
			a.Close()
			if cfg == (Config{}) {
				<-readB // ErrClosed
			}
		}
	})
}

// TestCloseWaitsForAnInlineDelivery: a stack closing its link must not
// see its receive function run afterwards.
func TestCloseWaitsForAnInlineDelivery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := New(Config{})
		release := make(chan struct{})
		b.(link.Inliner).SetInline(func(pkts [][]byte, meta []link.Meta) { <-release })
		readB := waitingReader(t, b)
		synctest.Wait()
		go a.WriteBatch([][]byte{numbered(0, 40)})
		synctest.Wait() // the writer runs b's receive function
		closed := make(chan struct{})
		go func() {
			b.Close()
			close(closed)
		}()
		synctest.Wait()
		select {
		case <-closed:
			t.Fatal("Close returned while the receive function ran")
		default:
		}
		close(release)
		<-closed
		if got := <-readB; len(got) != 0 {
			t.Fatalf("read returned %v after Close", got)
		}
	})
}

// TestInlineWithOffloads: on a pipe with offloads the receive function
// gets plain packets and their metadata, the virtio-net header gone.
func TestInlineWithOffloads(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := New(Config{Offload: true})
		defer a.Close()
		var got []int
		var metas []link.Meta
		b.(link.Inliner).SetInline(func(pkts [][]byte, meta []link.Meta) {
			for i, p := range pkts {
				got = append(got, number(p), len(p))
				metas = append(metas, meta[i])
			}
		})
		readB := waitingReader(t, b)
		synctest.Wait()
		hr := link.VirtioNetHdrLen
		p := append(make([]byte, hr), numbered(7, 60)...)
		m := []link.Meta{{Flags: link.ChecksumValid}}
		if err := a.(link.OffloadEndpoint).WritePackets([][]byte{p}, m); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, []int{7, 60}) || metas[0] != m[0] {
			t.Fatalf("receive function got %v with %+v, want [7 60] with %+v", got, metas, m[0])
		}
		a.Close()
		<-readB
	})
}
