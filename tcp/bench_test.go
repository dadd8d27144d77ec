package tcp

import (
	"testing"
	"time"

	"github.com/synack-go/synack/wire"
)

// queue is an Emitter that keeps segments (and copies of their payloads) in
// preallocated storage, so benchmarks measure the TCB and not the harness.
type queue struct {
	segs   []wire.TCPSegment
	arena  []byte
	seg    wire.TCPSegment
	cut    wire.TCPSegment // EmitTSO's
	gather []byte
}

func newQueue() *queue {
	return &queue{segs: make([]wire.TCPSegment, 0, 1024), arena: make([]byte, 0, 4<<20)}
}

// Segment lends the TCB the segment it fills, as the stack's emitter does.
func (q *queue) Segment() *wire.TCPSegment { return &q.seg }

// Scratch lends the TCB room to gather a payload that wraps its ring.
func (q *queue) Scratch(n int) []byte {
	if cap(q.gather) < n {
		q.gather = make([]byte, n)
	}
	return q.gather[:n]
}

func (q *queue) Emit(seg *wire.TCPSegment) {
	s := *seg
	off := len(q.arena)
	q.arena = append(q.arena, seg.Payload...)
	s.Payload = q.arena[off:len(q.arena):len(q.arena)]
	q.segs = append(q.segs, s)
}

func (q *queue) deliver(to *TCB, now time.Duration) {
	for i := range q.segs {
		to.Input(&q.segs[i], now)
	}
	q.segs = q.segs[:0]
	q.arena = q.arena[:0]
}

// establishedPair returns two TCBs that completed a handshake.
func establishedPair(cfg *Config) (a, b *TCB) {
	a, b = New(cfg, 1000, 80), New(cfg, 80, 1000)
	b.Listen(7777)
	a.Connect(1111, 0)
	qa, qb := newQueue(), newQueue()
	for range 3 {
		a.Poll(0, qa)
		qa.deliver(b, 0)
		b.Poll(0, qb)
		qb.deliver(a, 0)
	}
	return a, b
}

// BenchmarkBulkTCB moves data between two bare TCBs (no link, no checksum):
// the cost of the core per byte. 0 allocs/op in steady state.
func BenchmarkBulkTCB(b *testing.B) { benchBulk(b, 0) }

// BenchmarkBulkTCBTSO is BenchmarkBulkTCB with TCB-level TSO (SetTSO): the
// sender emits segments of up to 64 KiB with one transmit record each,
// which the emitter cuts into MSS-sized segments for the receiver, as a
// link does.
func BenchmarkBulkTCBTSO(b *testing.B) { benchBulk(b, tsoTestMax) }

// EmitTSO cuts seg as a link would (cutTSO, without its allocation).
func (q *queue) EmitTSO(seg *wire.TCPSegment, size int) {
	q.cut = *seg
	p, flags := seg.Payload, seg.Flags
	for len(p) > 0 {
		k := min(size, len(p))
		q.cut.Payload, q.cut.Flags = p[:k], flags
		if k < len(p) {
			q.cut.Flags &^= wire.PSH | wire.FIN
		}
		q.Emit(&q.cut)
		q.cut.Seq = q.cut.Seq.Add(uint32(k))
		p = p[k:]
	}
}

func benchBulk(b *testing.B, tso int) {
	cfg := &Config{MSS: 1460, NoDelay: true, Buffers: NewBufferPool()}
	tx, rx := establishedPair(cfg)
	tx.SetTSO(tso)
	qa, qb := newQueue(), newQueue()
	chunk := make([]byte, 64<<10)
	sink := make([]byte, 64<<10)
	now := time.Millisecond
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		off := 0
		for off < len(chunk) {
			n, _ := tx.Write(chunk[off:])
			off += n
			tx.Poll(now, qa)
			qa.deliver(rx, now)
			for {
				m, _ := rx.Read(sink)
				if m == 0 {
					break
				}
			}
			rx.Poll(now, qb)
			qb.deliver(tx, now)
			now += time.Microsecond
		}
	}
	b.StopTimer()
	if tx.Err() != nil || rx.Err() != nil {
		b.Fatal(tx.Err(), rx.Err())
	}
}

// BenchmarkRequestResponseTCB is a 1-byte ping-pong between two bare TCBs
// (no link, no checksum): the core's cost per round trip of a small
// request and its answer, each carrying the ACK of the other.
func BenchmarkRequestResponseTCB(b *testing.B) {
	cfg := &Config{MSS: 1460, NoDelay: true, Buffers: NewBufferPool()}
	c, s := establishedPair(cfg)
	qc, qs := newQueue(), newQueue()
	var one [1]byte
	now := time.Millisecond
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Write(one[:])
		c.Poll(now, qc)
		now += 10 * time.Microsecond
		qc.deliver(s, now)
		s.Read(one[:])
		s.Write(one[:])
		s.Poll(now, qs)
		now += 10 * time.Microsecond
		qs.deliver(c, now)
		c.Read(one[:])
		c.Poll(now, qc)
		qc.segs, qc.arena = qc.segs[:0], qc.arena[:0]
	}
	b.StopTimer()
	if c.Err() != nil || s.Err() != nil {
		b.Fatal(c.Err(), s.Err())
	}
}

// BenchmarkInputData is the receive path of one full-sized in-order segment.
func BenchmarkInputData(b *testing.B) {
	cfg := &Config{MSS: 1460, NoDelay: true, Buffers: NewBufferPool()}
	_, rx := establishedPair(cfg)
	seg := wire.TCPSegment{SrcPort: 1000, DstPort: 80, Flags: wire.ACK, Window: 512, Payload: make([]byte, 1448)}
	seg.Ack = rx.snd.nxt
	q := newQueue()
	sink := make([]byte, 2048)
	b.SetBytes(1448)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		seg.Seq = rx.rcv.nxt
		seg.Options = wire.TCPOptions{HasTS: rx.ts.ok, TSVal: rx.ts.recent + 1, TSEcr: 1}
		rx.Input(&seg, time.Duration(i)*time.Microsecond)
		rx.Read(sink)
		rx.Poll(time.Duration(i)*time.Microsecond, q)
		q.segs, q.arena = q.segs[:0], q.arena[:0]
	}
}

// BenchmarkPollEmit is the send path of one full-sized segment and its ACK.
func BenchmarkPollEmit(b *testing.B) {
	cfg := &Config{MSS: 1460, NoDelay: true, Buffers: NewBufferPool()}
	tx, _ := establishedPair(cfg)
	q := newQueue()
	data := make([]byte, 1448)
	ack := wire.TCPSegment{SrcPort: 80, DstPort: 1000, Flags: wire.ACK, Window: 8192}
	b.SetBytes(1448)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		now := time.Duration(i) * time.Microsecond
		tx.Write(data)
		tx.Poll(now, q)
		ack.Seq = tx.rcv.nxt
		ack.Ack = tx.snd.nxt
		ack.Options = wire.TCPOptions{HasTS: tx.ts.ok, TSVal: uint32(i + 10), TSEcr: tx.tsNow(now)}
		tx.Input(&ack, now)
		q.segs, q.arena = q.segs[:0], q.arena[:0]
	}
}

func TestSteadyStateAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	cfg := &Config{MSS: 1460, NoDelay: true, Buffers: NewBufferPool()}
	tx, rx := establishedPair(cfg)
	qa, qb := newQueue(), newQueue()
	chunk := make([]byte, 64<<10)
	sink := make([]byte, 64<<10)
	now := time.Millisecond
	step := func() {
		tx.Write(chunk)
		tx.Poll(now, qa)
		qa.deliver(rx, now)
		for {
			if m, _ := rx.Read(sink); m == 0 {
				break
			}
		}
		rx.Poll(now, qb)
		qb.deliver(tx, now)
		now += time.Microsecond
	}
	for range 100 {
		step()
	}
	if n := testing.AllocsPerRun(200, step); n != 0 {
		t.Fatalf("%v allocations per round of bulk transfer, want 0", n)
	}
}

// BenchmarkConnTCB is one whole connection between two bare TCBs, as
// mem-connrate makes them: handshake, a byte each way, the server's close
// first, then the client's, until the server is in TIME_WAIT and the
// client closed: the core's cost per connection (TCB, buffers, recovery
// unit, congestion controller).
func BenchmarkConnTCB(b *testing.B) {
	cfg := &Config{MSS: 1460, Buffers: NewBufferPool()}
	qc, qs := newQueue(), newQueue()
	var one [1]byte
	now := time.Millisecond
	step := func(c, s *TCB) {
		c.Poll(now, qc)
		now += 10 * time.Microsecond
		qc.deliver(s, now)
		s.Poll(now, qs)
		now += 10 * time.Microsecond
		qs.deliver(c, now)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, s := New(cfg, 1000, 80), New(cfg, 80, 1000)
		s.Listen(Seq(7777 + i))
		c.Connect(Seq(1111+i), now)
		step(c, s)
		step(c, s)
		c.Write(one[:])
		step(c, s)
		s.Read(one[:])
		s.Write(one[:])
		s.Close(now)
		step(c, s)
		c.Read(one[:])
		c.Close(now)
		step(c, s)
		step(c, s)
		if c.State() != StateClosed || s.State() != StateTimeWait {
			b.Fatal(c.State(), s.State())
		}
		s.TakeTimeWait()
	}
}
