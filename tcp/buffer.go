package tcp

import (
	"math/bits"
	"sync"
)

// Buffers grow with what they hold, so that a byte costs a byte, not a
// megabyte: a connection holding one unread byte holds one page.
//
//   - The receive buffer (recvBuf) is a sparse list of pages, 4 KiB each,
//     indexed by their offset from the first unread byte. A page exists
//     only while it holds bytes: in-order data, or out-of-order data at its
//     final offset (one byte at the far edge of a 1 MiB window costs one
//     page, not the window). Reads free the pages they empty.
//   - The send buffer (sendBuf) is a ring whose array doubles as the data
//     queued grows (4 KiB up to the buffer's size) and is given back when
//     everything is acknowledged. Segments are slices of it, so sending
//     copies nothing; only growth copies, once per doubling.
//
// Every array comes from a BufferPool and is charged to the stack's
// MemoryBudget (memory.go) while it is held.

// pageSize is the receive buffer's unit of allocation, and the send ring's
// smallest size.
const pageSize = 4096

type page [pageSize]byte

// Size classes: send rings of pageSize<<i bytes and page directories of
// 1<<i entries, up to the largest buffer (maxBufSize).
const (
	numRingClasses = 15 // 4 KiB .. 64 MiB
	numDirClasses  = 16 // 1 .. 32768 pages
)

// BufferPool recycles the arrays behind send and receive buffers, so that
// an idle connection holds none and a busy one allocates none in steady
// state. Each size class has its own sync.Pool, found by arithmetic: there
// is no lock. It is safe for concurrent use; one pool serves a whole stack.
// The zero value is ready to use.
type BufferPool struct {
	pages sync.Pool // *page
	rings [numRingClasses]sync.Pool
	dirs  [numDirClasses]sync.Pool
}

// NewBufferPool returns an empty pool.
func NewBufferPool() *BufferPool { return new(BufferPool) }

// ringClass returns the class of the smallest ring of at least n bytes.
func ringClass(n int) int {
	if n <= pageSize {
		return 0
	}
	return min(bits.Len(uint(n-1))-12, numRingClasses-1)
}

// dirClass returns the class of the smallest directory of at least n
// entries.
func dirClass(n int) int {
	if n <= 1 {
		return 0
	}
	return min(bits.Len(uint(n-1)), numDirClasses-1)
}

// getPage returns a page (its bytes are not cleared: every byte is written
// before it is read).
func (p *BufferPool) getPage() *page {
	if p != nil {
		if pg, ok := p.pages.Get().(*page); ok {
			return pg
		}
	}
	return new(page)
}

func (p *BufferPool) putPage(pg *page) {
	if p != nil {
		p.pages.Put(pg)
	}
}

// getRing returns an array of pageSize<<class bytes. Arrays travel boxed
// (*[]byte) so that returning one to the pool allocates nothing.
func (p *BufferPool) getRing(class int) *[]byte {
	if p != nil {
		if b, ok := p.rings[class].Get().(*[]byte); ok {
			return b
		}
	}
	b := make([]byte, pageSize<<class)
	return &b
}

func (p *BufferPool) putRing(b *[]byte) {
	if p != nil {
		p.rings[ringClass(len(*b))].Put(b)
	}
}

// getDir returns a cleared page directory of 1<<class entries.
func (p *BufferPool) getDir(class int) *[]*page {
	if p != nil {
		if d, ok := p.dirs[class].Get().(*[]*page); ok {
			return d
		}
	}
	d := make([]*page, 1<<class)
	return &d
}

// putDir takes back a directory whose entries are all nil.
func (p *BufferPool) putDir(d *[]*page) {
	if p != nil {
		p.dirs[dirClass(len(*d))].Put(d)
	}
}

// sendBuf is the send buffer: a byte ring whose array grows by doubling as
// the bytes queued grow, and exists only while it holds bytes.
type sendBuf struct {
	box  *[]byte // the pooled array behind buf
	buf  []byte  // nil while empty and released; len is a power of two
	size int     // capacity in bytes: the most the user may queue
	head int     // index of the first byte
	n    int     // bytes stored
}

func (r *sendBuf) free() int { return r.size - r.n }

// write appends as much of p as fits and returns the count. The array
// grows to hold it if mem allows; the first page is always allowed, so a
// connection can always make progress.
func (r *sendBuf) write(pool *BufferPool, mem *MemoryBudget, p []byte) int {
	if len(p) > r.free() {
		p = p[:r.free()]
	}
	if len(p) == 0 {
		return 0
	}
	if need := r.n + len(p); need > len(r.buf) {
		r.grow(pool, mem, need)
		if room := len(r.buf) - r.n; len(p) > room {
			p = p[:room]
		}
	}
	r.copyIn(r.n, p)
	r.n += len(p)
	return len(p)
}

// grow moves the bytes into an array of at least need bytes (a power of
// two, at most the buffer's size rounded up), or leaves the ring as it is
// if mem refuses; an empty ring always gets a page.
func (r *sendBuf) grow(pool *BufferPool, mem *MemoryBudget, need int) {
	class := ringClass(min(need, r.size))
	if r.buf != nil && pageSize<<class <= len(r.buf) {
		return
	}
	delta := int64(pageSize<<class - len(r.buf))
	if !mem.charge(delta, false) {
		if r.buf != nil {
			return
		}
		class, delta = 0, pageSize
		mem.charge(delta, true)
	}
	box := pool.getRing(class)
	nb := *box
	if r.buf != nil {
		c := copy(nb, r.buf[r.head:min(r.head+r.n, len(r.buf))])
		copy(nb[c:r.n], r.buf)
		pool.putRing(r.box)
	}
	r.box, r.buf, r.head = box, nb, 0
}

// copyIn writes p at offset off from head (wrapping); off+len(p) <= len(buf).
func (r *sendBuf) copyIn(off int, p []byte) {
	i := (r.head + off) & (len(r.buf) - 1)
	c := copy(r.buf[i:], p)
	copy(r.buf, p[c:])
}

// discard drops n bytes from the front.
func (r *sendBuf) discard(n int) {
	r.n -= n
	if r.buf != nil {
		r.head = (r.head + n) & (len(r.buf) - 1)
	}
}

// peek returns up to n bytes starting at offset off, cut at the wrap point.
func (r *sendBuf) peek(off, n int) []byte {
	i := (r.head + off) & (len(r.buf) - 1)
	return r.buf[i:min(i+n, len(r.buf))]
}

// release gives the array back once nothing is stored.
func (r *sendBuf) release(pool *BufferPool, mem *MemoryBudget) {
	if r.n == 0 && r.buf != nil {
		mem.uncharge(int64(len(r.buf)))
		pool.putRing(r.box)
		r.box, r.buf, r.head = nil, nil, 0
	}
}

// resize changes the capacity, never below what is stored.
func (r *sendBuf) resize(size int) { r.size = max(size, r.n) }

// recvBuf is the receive buffer: the bytes received and not yet read (n of
// them, from the first unread byte on) and out-of-order bytes past them at
// their final offsets, in pages that exist only while they hold bytes.
// Offsets count from the first unread byte.
type recvBuf struct {
	dir   *[]*page // the pooled directory behind pages; nil while no page is held
	pages []*page  // a ring of page slots: len is a power of two
	first int      // slot of the page holding the first unread byte
	off   int      // offset of the first unread byte in that page
	n     int      // contiguous bytes received, not yet read
	held  int      // pages held
	size  int      // capacity in bytes: the most the window offers
}

func (r *recvBuf) free() int { return r.size - r.n }

// slot returns the directory slot and in-page offset of buffer offset o.
func (r *recvBuf) slot(o int) (int, int) {
	p := r.off + o
	return (r.first + p/pageSize) & (len(r.pages) - 1), p % pageSize
}

// reserve makes sure pages exist for the bytes [o, o+n) and returns how
// many of them, from o on, have one: fewer than n when mem refused a page.
// must marks in-order data: a buffer that holds no page always gets one,
// so that every connection can make progress whatever the others hold.
func (r *recvBuf) reserve(pool *BufferPool, mem *MemoryBudget, o, n int, must bool) int {
	if n == 0 {
		return 0
	}
	span := (r.off+o+n-1)/pageSize + 1 // directory slots needed from first
	if span > len(r.pages) {
		r.growDir(pool, span)
	}
	for p := (r.off + o) / pageSize; p < span; p++ {
		i := (r.first + p) & (len(r.pages) - 1)
		if r.pages[i] != nil {
			continue
		}
		if !mem.charge(pageSize, must && r.held == 0) {
			return max(0, min(n, p*pageSize-r.off-o))
		}
		r.pages[i] = pool.getPage()
		r.held++
	}
	return n
}

// growDir moves the page slots into a directory of at least n entries, in
// order from first.
func (r *recvBuf) growDir(pool *BufferPool, n int) {
	box := pool.getDir(dirClass(n))
	nd := *box
	if r.dir != nil {
		for i := range r.pages {
			j := (r.first + i) & (len(r.pages) - 1)
			nd[i], r.pages[j] = r.pages[j], nil
		}
		pool.putDir(r.dir)
	}
	r.dir, r.pages, r.first = box, nd, 0
}

// copyIn writes p at offset o; reserve must have succeeded for it.
func (r *recvBuf) copyIn(o int, p []byte) {
	for len(p) > 0 {
		i, in := r.slot(o)
		c := copy(r.pages[i][in:], p)
		p, o = p[c:], o+c
	}
}

// read copies up to len(p) unread bytes out, consumes them, and frees the
// pages it empties.
func (r *recvBuf) read(pool *BufferPool, mem *MemoryBudget, p []byte) int {
	n := min(len(p), r.n)
	for o := 0; o < n; {
		i, in := r.slot(o)
		o += copy(p[o:n], r.pages[i][in:])
	}
	r.discard(pool, mem, n)
	return n
}

// discard drops n unread bytes and frees the pages they leave empty.
func (r *recvBuf) discard(pool *BufferPool, mem *MemoryBudget, n int) {
	r.n -= n
	r.off += n
	for r.off >= pageSize {
		r.freeSlot(pool, mem, r.first)
		r.first = (r.first + 1) & (len(r.pages) - 1)
		r.off -= pageSize
	}
}

func (r *recvBuf) freeSlot(pool *BufferPool, mem *MemoryBudget, i int) {
	if pg := r.pages[i]; pg != nil {
		r.pages[i] = nil
		r.held--
		pool.putPage(pg)
		mem.uncharge(pageSize)
	}
}

// prune frees every page that holds no byte below offset from: the
// out-of-order data past the unread bytes, when from is n.
func (r *recvBuf) prune(pool *BufferPool, mem *MemoryBudget, from int) {
	if r.dir == nil {
		return
	}
	for p := (r.off + from + pageSize - 1) / pageSize; p < len(r.pages); p++ {
		r.freeSlot(pool, mem, (r.first+p)&(len(r.pages)-1))
	}
	r.release(pool, mem)
}

// release gives every page and the directory back once no byte is held:
// nothing unread and no out-of-order data (the caller knows).
func (r *recvBuf) release(pool *BufferPool, mem *MemoryBudget) {
	if r.n != 0 || r.dir == nil {
		return
	}
	if r.held > 0 {
		for i := range r.pages {
			r.freeSlot(pool, mem, i)
		}
	}
	pool.putDir(r.dir)
	r.dir, r.pages, r.first, r.off = nil, nil, 0, 0
}

// tailRoom is how many bytes past the unread ones fit in pages already
// held, or one page if none is: the most a connection may offer under
// memory pressure without allocating.
func (r *recvBuf) tailRoom() int {
	if r.held == 0 {
		return pageSize
	}
	room := 0
	for p := (r.off + r.n) / pageSize; p < len(r.pages); p++ {
		if r.pages[(r.first+p)&(len(r.pages)-1)] == nil {
			break
		}
		room = (p+1)*pageSize - r.off - r.n
	}
	return room
}
