package udp

import (
	"bytes"
	"net/netip"
	"testing"
	"time"
)

var (
	from = netip.MustParseAddrPort("10.0.0.2:5000")
	to   = netip.MustParseAddrPort("10.0.0.1:53")
)

func TestQueueOrderAndTruncation(t *testing.T) {
	q := NewQueue(0, NewPool())
	for i := range 10 {
		if !q.Push(Datagram{From: from, To: to}, bytes.Repeat([]byte{byte(i)}, 100+i)) {
			t.Fatalf("push %d refused", i)
		}
	}
	if q.Len() != 10 || q.Bytes() != 10*(256+entryOverhead) {
		t.Fatalf("len %d bytes %d", q.Len(), q.Bytes())
	}
	if d, n, ok := q.Peek(); !ok || n != 100 || d.From != from {
		t.Fatalf("Peek: %v %d %v", d, n, ok)
	}
	p := make([]byte, 104)
	for i := range 10 {
		d, n, trunc, ok := q.Pop(p)
		if !ok || d.From != from || d.To != to || n != min(100+i, 104) || trunc != (100+i > 104) || p[0] != byte(i) {
			t.Fatalf("pop %d: %v %d %v %v", i, d, n, trunc, ok)
		}
	}
	if _, _, _, ok := q.Pop(p); ok || q.Bytes() != 0 {
		t.Fatal("queue not empty")
	}
}

// TestQueueBound: a full queue drops and counts; one datagram always fits
// an empty queue; tiny datagrams are charged their overhead.
func TestQueueBound(t *testing.T) {
	q := NewQueue(4096, nil)
	n := 0
	for q.Push(Datagram{}, []byte{1}) {
		n++
	}
	if n != 4096/(256+entryOverhead) || q.Drops() != 1 {
		t.Fatalf("queued %d tiny datagrams, drops %d", n, q.Drops())
	}
	q.Clear()
	if !q.Push(Datagram{}, make([]byte, 60000)) {
		t.Fatal("an empty queue refused a large datagram")
	}
	if q.Push(Datagram{}, []byte{1}) {
		t.Fatal("a full queue took more")
	}
}

func TestQueueNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	q := NewQueue(0, NewPool())
	data := make([]byte, 1200)
	p := make([]byte, 1500)
	for range 4 {
		q.Push(Datagram{}, data)
		q.Pop(p)
	}
	if a := testing.AllocsPerRun(1000, func() {
		q.Push(Datagram{From: from}, data)
		q.Push(Datagram{From: from}, data)
		q.Pop(p)
		q.Pop(p)
	}); a != 0 {
		t.Fatalf("%v allocations per push and pop", a)
	}
}

func TestIdle(t *testing.T) {
	s := time.Second
	f := NewIdle(0, 0, 0)
	if f.Deadline() != 30*s {
		t.Fatalf("fresh flow: %v", f.Deadline())
	}
	f.Received(10 * s)
	if f.Deadline() != 40*s || f.Expired(39*s) || !f.Expired(40*s) {
		t.Fatalf("one way: %v", f.Deadline())
	}
	f.Sent(20 * s)
	if !f.BothWays() || f.Deadline() != 140*s {
		t.Fatalf("both ways: %v", f.Deadline())
	}
	f.Received(5 * s) // late news never moves the deadline back
	if f.Deadline() != 140*s {
		t.Fatalf("after an old event: %v", f.Deadline())
	}
	g := NewIdle(0, time.Second, 2*time.Second)
	g.Sent(0)
	if g.Deadline() != s {
		t.Fatalf("custom idle: %v", g.Deadline())
	}
}

func BenchmarkQueue(b *testing.B) {
	q := NewQueue(0, NewPool())
	data := make([]byte, 1200)
	p := make([]byte, 1500)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		q.Push(Datagram{From: from}, data)
		q.Pop(p)
	}
}
