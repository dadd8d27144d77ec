package tcp

import (
	"bytes"
	"slices"
	"testing"
)

// FuzzRecvBuf drives a receive buffer with in-order and out-of-order
// writes, reads and prunes, against a plain byte model, under a small
// memory budget. Properties: no panic, unread bytes read back as written,
// the budget's use is exactly the pages held, and an emptied buffer holds
// none.
func FuzzRecvBuf(f *testing.F) {
	f.Add([]byte{0, 10, 1, 200, 30, 2, 5, 0, 3, 3})
	f.Add([]byte{1, 0, 250, 0, 100, 2, 255, 4, 0, 0, 3, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		const size = 64 << 10
		pool := NewBufferPool()
		mem := NewMemoryBudget(64 << 10)
		r := recvBuf{size: size}
		// The model: every byte held, by offset from the first unread one;
		// the first r.n are the unread ones.
		var model [2 * size]byte
		var have [2 * size]bool
		next := byte(1) // the value the next written byte takes
		data := func(n int) []byte {
			p := make([]byte, n)
			for i := range p {
				p[i] = next
				next++
			}
			return p
		}
		consume := func(n int) {
			copy(model[:], model[n:])
			copy(have[:], have[n:])
			clear(have[len(have)-n:])
		}
		for len(ops) >= 3 {
			op, a, b := ops[0], int(ops[1]), int(ops[2])
			ops = ops[3:]
			switch op % 5 {
			case 0: // in-order data
				p := data(a*37 + b)
				p = p[:min(len(p), r.free())]
				k := r.reserve(pool, mem, int(r.n), len(p), true)
				r.copyIn(int(r.n), p[:k])
				copy(model[r.n:], p[:k])
				for i := range k {
					have[int(r.n)+i] = true
				}
				r.n += int32(k)
				for have[r.n] { // contiguous out-of-order bytes join them
					r.n++
				}
			case 1: // out-of-order data
				off := int(r.n) + 1 + a*251 + b
				if off >= size {
					continue
				}
				p := data(b*13 + 1)
				p = p[:min(len(p), size-off)]
				k := r.reserve(pool, mem, off, len(p), false)
				r.copyIn(off, p[:k])
				copy(model[off:], p[:k])
				for i := range k {
					have[off+i] = true
				}
			case 2: // read
				buf := make([]byte, a*17+b)
				n := r.read(pool, mem, buf)
				if !bytes.Equal(buf[:n], model[:n]) {
					t.Fatalf("read %v, want %v", buf[:n], model[:n])
				}
				consume(n)
				if r.n == 0 && !slices.Contains(have[:], true) {
					r.release(pool, mem)
				}
			case 3: // prune the out-of-order data
				r.prune(pool, mem, int(r.n))
				clear(have[r.n:])
			case 4: // discard
				n := min(a, int(r.n))
				r.discard(pool, mem, n)
				consume(n)
			}
			if got := mem.Stats().Used; got != int64(r.held)*pageSize {
				t.Fatalf("budget says %d bytes, the buffer holds %d pages", got, r.held)
			}
		}
		r.discard(pool, mem, int(r.n))
		r.prune(pool, mem, 0)
		if r.held != 0 || r.dir != nil || r.one != nil || mem.Stats().Used != 0 {
			t.Fatalf("emptied, the buffer holds %d pages (directory %v), the budget %d bytes", r.held, r.dir != nil, mem.Stats().Used)
		}
	})
}

// FuzzSendBuf drives a send buffer with writes, acknowledgments and peeks
// against a plain byte model under a small memory budget. Properties: no
// panic, peeks return the bytes written, and an emptied buffer holds no
// array and no budget.
func FuzzSendBuf(f *testing.F) {
	f.Add([]byte{0, 200, 1, 50, 2, 10, 0, 255})
	f.Fuzz(func(t *testing.T, ops []byte) {
		pool := NewBufferPool()
		mem := NewMemoryBudget(64 << 10)
		r := sendBuf{size: 256 << 10}
		var model []byte
		next := byte(1)
		for len(ops) >= 2 {
			op, a := ops[0], int(ops[1])
			ops = ops[2:]
			switch op % 3 {
			case 0:
				p := make([]byte, a*a+1)
				for i := range p {
					p[i] = next
					next++
				}
				n := r.write(pool, mem, p)
				if n == 0 && len(model) == 0 {
					t.Fatal("an empty buffer refused a write")
				}
				model = append(model, p[:n]...)
			case 1:
				n := min(a*97, len(model))
				r.discard(n)
				model = model[n:]
				r.release(pool, mem)
			case 2:
				if len(model) == 0 {
					continue
				}
				off := a % len(model)
				got := r.peek(off, len(model)-off)
				if !bytes.Equal(got, model[off:off+len(got)]) || len(got) == 0 {
					t.Fatalf("peek at %d: %d bytes differ", off, len(got))
				}
			}
			if int(r.n) != len(model) {
				t.Fatalf("n %d, model %d", r.n, len(model))
			}
			if used := mem.Stats().Used; used != int64(len(r.array())) {
				t.Fatalf("budget %d, array %d", used, len(r.array()))
			}
		}
		r.discard(int(r.n))
		r.release(pool, mem)
		if r.box != nil || mem.Stats().Used != 0 {
			t.Fatalf("emptied: array %v, budget %d", r.box != nil, mem.Stats().Used)
		}
	})
}

// A send ring that drained starts again at the size its last array needed
// at its fullest, so that a bulk sender whose ring empties whenever the
// ACKs catch up does not copy its flight through every doubling again; an
// exchange of small writes brings it back to one page.
func TestSendBufRegrowsToHighWater(t *testing.T) {
	pool := NewBufferPool()
	mem := NewMemoryBudget(64 << 20)
	r := sendBuf{size: 4 << 20}
	chunk := make([]byte, 64<<10)
	fill := func(n int) {
		for range n / len(chunk) {
			if got := r.write(pool, mem, chunk); got != len(chunk) {
				t.Fatalf("write took %d of %d bytes", got, len(chunk))
			}
		}
	}
	drain := func() {
		r.discard(int(r.n))
		r.release(pool, mem)
		if r.box != nil || mem.Stats().Used != 0 {
			t.Fatalf("a drained ring holds %d bytes of memory", mem.Stats().Used)
		}
	}
	fill(1 << 20)
	drain()
	r.write(pool, mem, chunk)
	if got := len(r.array()); got != 1<<20 {
		t.Errorf("after a 1 MiB flight, a drained ring restarts at %d bytes, want 1 MiB", got)
	}
	fill(1<<20 - len(chunk))
	if got := len(r.array()); got != 1<<20 {
		t.Errorf("refilling to 1 MiB grew the ring to %d bytes", got)
	}
	drain()
	r.write(pool, mem, chunk[:1]) // an interactive exchange: one oversized array ...
	drain()
	r.write(pool, mem, chunk[:1]) // ... then a page
	if got := len(r.array()); got != pageSize {
		t.Errorf("after a 1-byte exchange the ring restarts at %d bytes, want a page", got)
	}
}
