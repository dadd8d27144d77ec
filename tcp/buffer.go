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
	reasm   sync.Pool // *reassembly
	boards  sync.Pool // *scoreboard
	sends   sync.Pool // *sender
	txRings txRingPools
	pages   sync.Pool // *page
	rings   [numRingClasses]sync.Pool
	dirs    [numDirClasses]sync.Pool
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

// getReassembly returns an empty out-of-order list.
func (p *BufferPool) getReassembly() *reassembly {
	if p != nil {
		if q, ok := p.reasm.Get().(*reassembly); ok {
			return q
		}
	}
	return new(reassembly)
}

// putReassembly takes back an empty list.
func (p *BufferPool) putReassembly(q *reassembly) {
	if p != nil {
		p.reasm.Put(q)
	}
}

// getScoreboard returns an empty SACK scoreboard.
func (p *BufferPool) getScoreboard() *scoreboard {
	if p != nil {
		if s, ok := p.boards.Get().(*scoreboard); ok {
			return s
		}
	}
	return new(scoreboard)
}

// putScoreboard takes back an empty scoreboard.
func (p *BufferPool) putScoreboard(s *scoreboard) {
	if p != nil {
		p.boards.Put(s)
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
// the bytes queued grow, and exists only while it holds bytes. Offsets and
// counts are int32: buffers are at most maxBufSize (64 MiB).
type sendBuf struct {
	box  *[]byte // the pooled array; nil while empty and released; its length is a power of two
	size int32   // capacity in bytes: the most the user may queue
	head int32   // index of the first byte
	n    int32   // bytes stored
	high int32   // the most bytes stored since the array was taken
	hint int8    // the class the last array's high-water mark needed (regrowth)
}

func (r *sendBuf) free() int { return int(r.size - r.n) }

// array returns the ring's array, nil while released.
func (r *sendBuf) array() []byte {
	if r.box == nil {
		return nil
	}
	return *r.box
}

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
	if need := int(r.n) + len(p); need > len(r.array()) {
		r.grow(pool, mem, need)
		if room := len(r.array()) - int(r.n); len(p) > room {
			p = p[:room]
		}
	}
	r.copyIn(int(r.n), p)
	r.n += int32(len(p))
	r.high = max(r.high, r.n)
	return len(p)
}

// grow moves the bytes into an array of at least need bytes (a power of
// two, at most the buffer's size rounded up), or leaves the ring as it is
// if mem refuses; an empty ring always gets a page.
//
// An empty ring starts at the size the last one needed at its fullest
// (hint): a bulk sender's ring drains whenever the peer's ACKs catch up with
// the writer, and growing it back by doublings would copy the flight again
// each time (6% of the CPU of a TSO sender on TUN). An interactive
// connection after a bulk one pays one such array, then its hint is a page.
func (r *sendBuf) grow(pool *BufferPool, mem *MemoryBudget, need int) {
	old := r.array()
	class := ringClass(min(need, int(r.size)))
	if old == nil {
		class = max(class, min(int(r.hint), ringClass(int(r.size))))
	}
	if old != nil && pageSize<<class <= len(old) {
		return
	}
	if !mem.charge(int64(pageSize<<class-len(old)), false) {
		if old != nil {
			return
		}
		class = 0
		mem.charge(pageSize, true)
	}
	box := pool.getRing(class)
	if old != nil {
		nb, h, n := *box, int(r.head), int(r.n)
		c := copy(nb, old[h:min(h+n, len(old))])
		copy(nb[c:n], old)
		pool.putRing(r.box)
	}
	r.box, r.head = box, 0
}

// copyIn writes p at offset off from head (wrapping); off+len(p) <= the
// array's length.
func (r *sendBuf) copyIn(off int, p []byte) {
	b := *r.box
	i := (int(r.head) + off) & (len(b) - 1)
	c := copy(b[i:], p)
	copy(b, p[c:])
}

// discard drops n bytes from the front.
func (r *sendBuf) discard(n int) {
	r.n -= int32(n)
	if b := r.array(); b != nil {
		r.head = int32((int(r.head) + n) & (len(b) - 1))
	}
}

// peek returns up to n bytes starting at offset off, cut at the wrap point.
func (r *sendBuf) peek(off, n int) []byte {
	b := *r.box
	i := (int(r.head) + off) & (len(b) - 1)
	return b[i:min(i+n, len(b))]
}

// release gives the array back once nothing is stored.
func (r *sendBuf) release(pool *BufferPool, mem *MemoryBudget) {
	if r.n == 0 && r.box != nil {
		mem.uncharge(int64(len(*r.box)))
		pool.putRing(r.box)
		r.box, r.head = nil, 0
		r.hint, r.high = int8(ringClass(int(r.high))), 0
	}
}

// resize changes the capacity, never below what is stored.
func (r *sendBuf) resize(size int) { r.size = max(int32(size), r.n) }

// recvBuf is the receive buffer: the bytes received and not yet read (n of
// them, from the first unread byte on) and out-of-order bytes past them at
// their final offsets, in pages that exist only while they hold bytes.
// Offsets count from the first unread byte. While every byte held fits in
// one page, that page is kept without a directory (one), so that a small
// exchange takes one page from the pool, not a page and a directory.
type recvBuf struct {
	dir   *[]*page // a ring of page slots, pooled, its length a power of two; nil in one-page mode
	one   *page    // in one-page mode (dir nil), the page holding the first unread byte, if any
	first int32    // slot of the page holding the first unread byte (directory mode)
	off   int32    // offset of the first unread byte in its page
	n     int32    // contiguous bytes received, not yet read
	held  int32    // pages held
	size  int32    // capacity in bytes: the most the window offers
	hint  uint8    // the largest directory class used: the next directory starts there
}

func (r *recvBuf) free() int { return int(r.size - r.n) }

// slots returns how many pages the buffer can index now.
func (r *recvBuf) slots() int {
	if r.dir == nil {
		return 1
	}
	return len(*r.dir)
}

// pageAt returns the slot of page p, counted from the one holding the
// first unread byte; p < slots().
func (r *recvBuf) pageAt(p int) **page {
	if r.dir == nil {
		return &r.one
	}
	d := *r.dir
	return &d[(int(r.first)+p)&(len(d)-1)]
}

// reserve makes sure pages exist for the bytes [o, o+n) and returns how
// many of them, from o on, have one: fewer than n when mem refused a page.
// must marks in-order data: a buffer that holds no page always gets one,
// so that every connection can make progress whatever the others hold.
func (r *recvBuf) reserve(pool *BufferPool, mem *MemoryBudget, o, n int, must bool) int {
	if n == 0 {
		return 0
	}
	start := (int(r.off) + o) / pageSize
	span := (int(r.off)+o+n-1)/pageSize + 1 // pages needed, from the first
	if span > r.slots() {
		r.growDir(pool, span)
	}
	for p := start; p < span; p++ {
		pg := r.pageAt(p)
		if *pg != nil {
			continue
		}
		if !mem.charge(pageSize, must && r.held == 0) {
			return max(0, min(n, p*pageSize-int(r.off)-o))
		}
		*pg = pool.getPage()
		r.held++
	}
	return n
}

// growDir moves the pages into a directory of at least n entries (and of
// the largest class this buffer used before: a bulk receiver gets its
// directory in one step), in order from the first.
func (r *recvBuf) growDir(pool *BufferPool, n int) {
	class := max(dirClass(n), int(r.hint))
	r.hint = uint8(class)
	box := pool.getDir(class)
	nd := *box
	if r.dir == nil {
		nd[0], r.one = r.one, nil
	} else {
		old := *r.dir
		for i := range old {
			j := (int(r.first) + i) & (len(old) - 1)
			nd[i], old[j] = old[j], nil
		}
		pool.putDir(r.dir)
	}
	r.dir, r.first = box, 0
}

// copyIn writes p at offset o; reserve must have succeeded for it.
func (r *recvBuf) copyIn(o int, p []byte) {
	for len(p) > 0 {
		q := int(r.off) + o
		c := copy((*r.pageAt(q / pageSize))[q%pageSize:], p)
		p, o = p[c:], o+c
	}
}

// read copies up to len(p) unread bytes out, consumes them, and frees the
// pages it empties.
func (r *recvBuf) read(pool *BufferPool, mem *MemoryBudget, p []byte) int {
	n := min(len(p), int(r.n))
	for o := 0; o < n; {
		q := int(r.off) + o
		o += copy(p[o:n], (*r.pageAt(q / pageSize))[q%pageSize:])
	}
	r.discard(pool, mem, n)
	return n
}

// discard drops n unread bytes and frees the pages they leave empty.
func (r *recvBuf) discard(pool *BufferPool, mem *MemoryBudget, n int) {
	r.n -= int32(n)
	off := int(r.off) + n
	for ; off >= pageSize; off -= pageSize {
		r.freePage(pool, mem, r.pageAt(0))
		if r.dir != nil {
			r.first = int32((int(r.first) + 1) & (len(*r.dir) - 1))
		}
	}
	r.off = int32(off)
}

func (r *recvBuf) freePage(pool *BufferPool, mem *MemoryBudget, slot **page) {
	if pg := *slot; pg != nil {
		*slot = nil
		r.held--
		pool.putPage(pg)
		mem.uncharge(pageSize)
	}
}

// prune frees every page that holds no byte below offset from: the
// out-of-order data past the unread bytes, when from is n.
func (r *recvBuf) prune(pool *BufferPool, mem *MemoryBudget, from int) {
	for p := (int(r.off) + from + pageSize - 1) / pageSize; p < r.slots(); p++ {
		r.freePage(pool, mem, r.pageAt(p))
	}
	r.release(pool, mem)
}

// release gives every page and the directory back once no byte is held:
// nothing unread and no out-of-order data (the caller knows).
func (r *recvBuf) release(pool *BufferPool, mem *MemoryBudget) {
	if r.n != 0 {
		return
	}
	if r.held > 0 {
		for p := range r.slots() {
			r.freePage(pool, mem, r.pageAt(p))
		}
	}
	if r.dir != nil {
		pool.putDir(r.dir)
	}
	r.dir, r.first, r.off = nil, 0, 0
}

// tailRoom is how many bytes past the unread ones fit in pages already
// held, or one page if none is: the most a connection may offer under
// memory pressure without allocating.
func (r *recvBuf) tailRoom() int {
	if r.held == 0 {
		return pageSize
	}
	room := 0
	for p := (int(r.off) + int(r.n)) / pageSize; p < r.slots(); p++ {
		if *r.pageAt(p) == nil {
			break
		}
		room = (p+1)*pageSize - int(r.off) - int(r.n)
	}
	return room
}
