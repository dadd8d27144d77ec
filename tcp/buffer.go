package tcp

import "sync"

// BufferPool recycles the byte arrays behind send and receive buffers, so an
// idle connection holds none and a busy one allocates none in steady state.
// It is safe for concurrent use; one pool serves a whole stack.
type BufferPool struct {
	mu    sync.Mutex
	pools map[int]*sync.Pool
}

// NewBufferPool returns an empty pool.
func NewBufferPool() *BufferPool { return &BufferPool{pools: make(map[int]*sync.Pool)} }

func (p *BufferPool) pool(size int) *sync.Pool {
	p.mu.Lock()
	defer p.mu.Unlock()
	sp := p.pools[size]
	if sp == nil {
		sp = new(sync.Pool)
		p.pools[size] = sp
	}
	return sp
}

// get returns a buffer of size bytes. Buffers travel boxed (*[]byte) so that
// returning one to the pool allocates nothing.
func (p *BufferPool) get(size int) *[]byte {
	if p != nil {
		if b, ok := p.pool(size).Get().(*[]byte); ok {
			return b
		}
	}
	b := make([]byte, size)
	return &b
}

func (p *BufferPool) put(b *[]byte) {
	if p != nil && b != nil {
		p.pool(len(*b)).Put(b)
	}
}

// ring is a byte ring buffer whose backing array exists only while it holds
// bytes. The receive side also writes out-of-order data past the contiguous
// bytes (writeAt) and makes it contiguous later (fill).
type ring struct {
	box  *[]byte // the pooled array behind buf
	buf  []byte  // nil while empty and released
	size int     // capacity in bytes
	head int     // index of the first byte
	n    int     // contiguous bytes stored from head
}

func (r *ring) free() int { return r.size - r.n }

func (r *ring) acquire(pool *BufferPool) {
	if r.buf == nil {
		r.box = pool.get(r.size)
		r.buf = *r.box
		r.head = 0
	}
}

// release returns the backing array when nothing is stored. keep says that
// out-of-order bytes still live past n.
func (r *ring) release(pool *BufferPool, keep bool) {
	if r.n == 0 && !keep && r.buf != nil {
		pool.put(r.box)
		r.box, r.buf = nil, nil
		r.head = 0
	}
}

// write appends as much of p as fits and returns the count.
func (r *ring) write(pool *BufferPool, p []byte) int {
	if len(p) > r.free() {
		p = p[:r.free()]
	}
	if len(p) == 0 {
		return 0
	}
	r.acquire(pool)
	r.copyIn(r.n, p)
	r.n += len(p)
	return len(p)
}

// copyIn writes p at offset off from head (wrapping), off+len(p) <= size.
func (r *ring) copyIn(off int, p []byte) {
	i := r.head + off
	if i >= r.size {
		i -= r.size
	}
	c := copy(r.buf[i:], p)
	copy(r.buf, p[c:])
}

// read copies up to len(p) bytes out and consumes them.
func (r *ring) read(p []byte) int {
	n := min(len(p), r.n)
	if n == 0 {
		return 0
	}
	c := copy(p[:n], r.buf[r.head:])
	copy(p[c:n], r.buf)
	r.discard(n)
	return n
}

// discard drops n bytes from the front.
func (r *ring) discard(n int) {
	r.n -= n
	r.head += n
	if r.head >= r.size {
		r.head -= r.size
	}
}

// peek returns up to n bytes starting at offset off, cut at the wrap point.
func (r *ring) peek(off, n int) []byte {
	i := r.head + off
	if i >= r.size {
		i -= r.size
	}
	end := min(i+n, r.size)
	return r.buf[i:end]
}

// resize changes the capacity. It only shrinks down to what is stored and
// only while the backing array is released or can be copied.
func (r *ring) resize(pool *BufferPool, size int) {
	if size < r.n {
		size = r.n
	}
	if r.buf == nil {
		r.size = size
		return
	}
	nb := make([]byte, size)
	m := r.read(nb[:r.n])
	pool.put(r.box)
	r.box, r.buf, r.size, r.head, r.n = &nb, nb, size, 0, m
}
