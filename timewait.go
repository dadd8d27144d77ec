package synack

import (
	"hash/maphash"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/synack-go/synack/inet"
	"github.com/synack-go/synack/tcp"
	"github.com/synack-go/synack/trace"
	"github.com/synack-go/synack/wire"
)

// Connections in TIME_WAIT leave their Conn and TCB (about a kilobyte)
// for an entry of 64 bytes in the stack's TIME_WAIT table: the 4-tuple
// (our address as an index: into Options.Addrs, or for a forwarded
// connection's original destination into the table's own list of such
// addresses, each kept while an entry uses it), a tcp.TimeWait and a
// deadline. Entries sit in chunks of twChunk, hashed with a secret seed (a
// peer cannot aim its 4-tuples at one chain), and on a list in deadline
// order: TIME_WAIT has one length, so a new or restarted entry goes to the
// tail and the timer goroutine expires from the head. The table holds at
// most Options.MaxTimeWait entries, like Linux's tcp_max_tw_buckets; a
// connection that finds it full just closes, counted. Its chunks are given
// back when it empties.

// twChunk is how many entries one chunk of the table holds.
const twChunk = 1024

// twEntry is one connection in TIME_WAIT.
type twEntry struct {
	remote       [16]byte // the peer's address, as netip.Addr.As16
	lport, rport uint16
	w            tcp.TimeWait
	expire       time.Duration // when TIME_WAIT ends, on the stack's clock
	hnext        int32         // next entry on the hash chain, or on the free list; -1: none
	prev, next   int32         // neighbours on the deadline list; -1: none
	local        uint16        // our address: its index in Stack.addrs, or len(Stack.addrs) + its index in twTable.foreign
}

// twKey is what the table's hash covers.
type twKey struct {
	remote       [16]byte
	lport, rport uint16
	local        uint16
}

// twTable is the stack's TIME_WAIT table. Its lock is a leaf: nothing else
// is locked while it is held.
type twTable struct {
	mu         sync.Mutex
	chunks     [][]twEntry
	buckets    []int32 // hash → first entry; -1: none
	free       int32   // first free entry; -1: none
	slots      int32   // entries ever handed out from the chunks
	head, tail int32   // the deadline list
	seed       maphash.Seed
	max        int
	n          atomic.Int32 // entries in use

	// A forwarded connection's local address is the destination its client
	// dialled, not one of ours: such addresses get indices after
	// Options.Addrs, counted by the entries that use them.
	own      int // len(Stack.addrs)
	foreign  []twForeign
	foreignI map[netip.Addr]uint16 // address → index into foreign
	freeF    []uint16              // indices of foreign whose address is gone
}

// twForeign is a foreign local address and how many entries use it.
type twForeign struct {
	addr netip.Addr
	refs int32
}

func (tw *twTable) init(max, own int) {
	tw.max, tw.own, tw.seed = max, own, maphash.MakeSeed()
	tw.free, tw.head, tw.tail = -1, -1, -1
}

func (tw *twTable) at(i int32) *twEntry { return &tw.chunks[i/twChunk][i%twChunk] }

func (e *twEntry) key() twKey { return twKey{e.remote, e.lport, e.rport, e.local} }

func (tw *twTable) bucket(k twKey) *int32 {
	return &tw.buckets[maphash.Comparable(tw.seed, k)&uint64(len(tw.buckets)-1)]
}

// find returns the entry of k, or -1 (tw.mu held).
func (tw *twTable) find(k twKey) int32 {
	if tw.buckets == nil {
		return -1
	}
	for i := *tw.bucket(k); i >= 0; i = tw.at(i).hnext {
		if tw.at(i).key() == k {
			return i
		}
	}
	return -1
}

// insert adds an entry for k, or replaces k's; it reports false when the
// table is full (tw.mu held).
func (tw *twTable) insert(k twKey, w tcp.TimeWait, expire time.Duration) bool {
	if i := tw.find(k); i >= 0 {
		tw.remove(i)
	}
	if int(tw.n.Load()) >= tw.max {
		return false
	}
	if int(tw.n.Load()) >= len(tw.buckets) {
		tw.rehash(max(64, 2*len(tw.buckets)))
	}
	i := tw.free
	if i >= 0 {
		tw.free = tw.at(i).hnext
	} else {
		if int(tw.slots) == len(tw.chunks)*twChunk {
			tw.chunks = append(tw.chunks, make([]twEntry, twChunk))
		}
		i = tw.slots
		tw.slots++
	}
	e := tw.at(i)
	*e = twEntry{remote: k.remote, lport: k.lport, rport: k.rport, local: k.local, w: w, expire: expire}
	b := tw.bucket(k)
	e.hnext, *b = *b, i
	tw.append(i)
	tw.n.Add(1)
	return true
}

// rehash moves the hash chains to n buckets.
func (tw *twTable) rehash(n int) {
	tw.buckets = make([]int32, n)
	for i := range tw.buckets {
		tw.buckets[i] = -1
	}
	for i := tw.head; i >= 0; i = tw.at(i).next {
		b := tw.bucket(tw.at(i).key())
		tw.at(i).hnext, *b = *b, i
	}
}

// append puts entry i at the tail of the deadline list.
func (tw *twTable) append(i int32) {
	e := tw.at(i)
	e.prev, e.next = tw.tail, -1
	if tw.tail >= 0 {
		tw.at(tw.tail).next = i
	} else {
		tw.head = i
	}
	tw.tail = i
}

// unlink takes entry i off the deadline list.
func (tw *twTable) unlink(i int32) {
	e := tw.at(i)
	if e.prev >= 0 {
		tw.at(e.prev).next = e.next
	} else {
		tw.head = e.next
	}
	if e.next >= 0 {
		tw.at(e.next).prev = e.prev
	} else {
		tw.tail = e.prev
	}
}

// remove frees entry i, and the whole table once it is empty.
func (tw *twTable) remove(i int32) {
	e := tw.at(i)
	tw.unlink(i)
	for p := tw.bucket(e.key()); *p >= 0; p = &tw.at(*p).hnext {
		if *p == i {
			*p = e.hnext
			break
		}
	}
	e.hnext, tw.free = tw.free, i
	tw.release(e.local)
	if tw.n.Add(-1) == 0 {
		tw.chunks, tw.buckets, tw.free, tw.slots = nil, nil, -1, 0
	}
}

// release drops an entry's use of a foreign local address (tw.mu held).
func (tw *twTable) release(local uint16) {
	i := int(local) - tw.own
	if i < 0 {
		return
	}
	f := &tw.foreign[i]
	if f.refs--; f.refs == 0 {
		delete(tw.foreignI, f.addr)
		f.addr = netip.Addr{}
		tw.freeF = append(tw.freeF, uint16(i))
	}
}

// localIndex returns the index of our address a for a key: its place in
// Options.Addrs, else a foreign address's, made and counted when intern
// (an entry is about to use it) (tw.mu held). It reports false for a
// foreign address not in the table, or when the indices run out.
func (tw *twTable) localIndex(addrs []netip.Prefix, a netip.Addr, intern bool) (uint16, bool) {
	for i, p := range addrs {
		if p.Addr() == a {
			return uint16(i), true
		}
	}
	if i, ok := tw.foreignI[a]; ok {
		if intern {
			tw.foreign[i].refs++
		}
		return uint16(tw.own) + i, true
	}
	if !intern {
		return 0, false
	}
	var i uint16
	switch {
	case len(tw.freeF) > 0:
		i = tw.freeF[len(tw.freeF)-1]
		tw.freeF = tw.freeF[:len(tw.freeF)-1]
	case tw.own+len(tw.foreign) < 1<<16:
		i = uint16(len(tw.foreign))
		tw.foreign = append(tw.foreign, twForeign{})
	default:
		return 0, false
	}
	if tw.foreignI == nil {
		tw.foreignI = make(map[netip.Addr]uint16)
	}
	tw.foreign[i] = twForeign{addr: a, refs: 1}
	tw.foreignI[a] = i
	return uint16(tw.own) + i, true
}

// clear forgets every entry: the stack is closing.
func (tw *twTable) clear() {
	tw.mu.Lock()
	tw.chunks, tw.buckets, tw.free, tw.slots, tw.head, tw.tail = nil, nil, -1, 0, -1, -1
	tw.foreign, tw.foreignI, tw.freeF = nil, nil, nil
	tw.n.Store(0)
	tw.mu.Unlock()
}

// restart moves entry i's deadline to expire, at the tail of the list.
func (tw *twTable) restart(i int32, expire time.Duration) {
	tw.at(i).expire = expire
	tw.unlink(i)
	tw.append(i)
}

// twKeyOf returns the table's key for a flow; intern when an entry is
// about to use it (tw.mu held). It reports false for a flow no entry can
// have.
func (s *Stack) twKeyOf(k flowKey, intern bool) (twKey, bool) {
	local, ok := s.tw.localIndex(s.addrs, k.local.Addr(), intern)
	if !ok {
		return twKey{}, false
	}
	return twKey{k.remote.Addr().As16(), k.local.Port(), k.remote.Port(), local}, true
}

// flowOf returns the flow of a table key (tw.mu held).
func (s *Stack) flowOf(k twKey) flowKey {
	var local netip.Addr
	if int(k.local) < len(s.addrs) {
		local = s.addrs[k.local].Addr()
	} else {
		local = s.tw.foreign[int(k.local)-len(s.addrs)].addr
	}
	remote := netip.AddrFrom16(k.remote)
	if local.Is4() {
		remote = remote.Unmap()
	}
	return flowKey{netip.AddrPortFrom(local, k.lport), netip.AddrPortFrom(remote, k.rport)}
}

// enterTimeWait moves a connection that has just entered TIME_WAIT from
// its TCB to the table (c.mu held). The TCB is closed either way; a
// connection that finds the table full (Options.MaxTimeWait) gets no
// TIME_WAIT, as on Linux, and is counted.
func (c *Conn) enterTimeWait() {
	s := c.s
	w, ok := c.tcb.TakeTimeWait()
	if !ok {
		return
	}
	now := s.now()
	s.tw.mu.Lock()
	k, ok := s.twKeyOf(c.key, true)
	if ok {
		if ok = s.tw.insert(k, w, now+s.timeWait(c.key)); !ok {
			s.tw.release(k.local)
		}
	}
	s.tw.mu.Unlock()
	if !ok {
		s.ctr.timeWaitOverflow.Add(1)
		s.traceState(c.key, tcp.StateTimeWait, tcp.StateClosed, "time-wait table full")
		return
	}
	s.timers.wakeBy(now + s.timeWait(c.key))
}

// timeWait is how long TIME_WAIT lasts for a flow's family.
func (s *Stack) timeWait(k flowKey) time.Duration {
	return s.config(k.remote.Addr()).TimeWaitDuration()
}

// timeWaitInput hands a segment that reached no connection to its
// 4-tuple's TIME_WAIT entry, if there is one (tcp.TimeWait.Input), and
// reports whether it was handled. A SYN that may open a new incarnation
// (RFC 6191) while a listener waits for it ends the entry instead and is
// not handled: iss is then the ISS the new connection should use.
func (s *Stack) timeWaitInput(key flowKey, seg *wire.TCPSegment, tx *txBatch) (handled bool, iss tcp.Seq) {
	// Whether a listener or a forwarder waits for a SYN first: s.mu must
	// not be taken inside tw.mu.
	listening := false
	if seg.Flags&(wire.SYN|wire.ACK|wire.RST) == wire.SYN {
		_, m := s.bound(wire.ProtoTCP, key, s.isLocal(key.local.Addr()))
		listening = m != inet.NoMatch
	}
	tw := &s.tw
	tw.mu.Lock()
	k, ok := s.twKeyOf(key, false)
	if !ok {
		tw.mu.Unlock()
		return false, 0
	}
	i := tw.find(k)
	if i < 0 {
		tw.mu.Unlock()
		return false, 0
	}
	e := tw.at(i)
	if listening && e.w.AcceptsNewSYN(seg) {
		iss = e.w.NextISS()
		tw.remove(i)
		tw.mu.Unlock()
		s.ctr.timeWaitReused.Add(1)
		s.traceState(key, tcp.StateTimeWait, tcp.StateClosed, "abort")
		return false, iss
	}
	// The clock only for a segment that has an entry (the SYN of every
	// new connection has none), and read now rather than at the read
	// batch (txBatch.now): the connection's last segments may have left
	// since, with later timestamps.
	now := s.now()
	v := e.w.Input(seg, now, s.tsOffset, s.replies, &tx.scratch)
	switch {
	case v&tcp.TimeWaitClose != 0:
		tw.remove(i)
	case v&tcp.TimeWaitRestart != 0:
		tw.restart(i, now+s.timeWait(key))
	}
	tw.mu.Unlock()
	if v&tcp.TimeWaitClose != 0 {
		s.traceState(key, tcp.StateTimeWait, tcp.StateClosed, "rcvd RST")
	}
	if v&tcp.TimeWaitReply != 0 {
		tx.to(key.local.Addr(), key.remote.Addr())
		tx.Emit(&tx.scratch)
	}
	return true, 0
}

// expireTimeWait ends every TIME_WAIT due at now, and returns when the
// next one is due (tcp.NoDeadline if none).
func (s *Stack) expireTimeWait(now time.Duration) time.Duration {
	tw := &s.tw
	if tw.n.Load() == 0 {
		return tcp.NoDeadline
	}
	for {
		tw.mu.Lock()
		if tw.head < 0 {
			tw.mu.Unlock()
			return tcp.NoDeadline
		}
		e := tw.at(tw.head)
		if at := e.expire; at > now {
			tw.mu.Unlock()
			return at
		}
		var key flowKey
		if s.tracer != nil {
			key = s.flowOf(e.key())
		}
		tw.remove(tw.head)
		tw.mu.Unlock()
		if s.tracer != nil {
			s.trace(&trace.Event{Kind: trace.Timer, Local: key.local, Remote: key.remote, Why: "time-wait"})
			s.traceState(key, tcp.StateTimeWait, tcp.StateClosed, "timeout")
		}
	}
}

// appendTimeWait appends the connections in TIME_WAIT to dst.
func (s *Stack) appendTimeWait(dst []ConnInfo) []ConnInfo {
	tw := &s.tw
	tw.mu.Lock()
	defer tw.mu.Unlock()
	for i := tw.head; i >= 0; i = tw.at(i).next {
		k := s.flowOf(tw.at(i).key())
		dst = append(dst, ConnInfo{Local: k.local, Remote: k.remote,
			Stats: tcp.Stats{State: tcp.StateTimeWait, Established: true}})
	}
	return dst
}

// inTimeWait reports whether a flow's 4-tuple is in TIME_WAIT.
func (s *Stack) inTimeWait(key flowKey) bool {
	if s.tw.n.Load() == 0 {
		return false
	}
	s.tw.mu.Lock()
	defer s.tw.mu.Unlock()
	k, ok := s.twKeyOf(key, false)
	return ok && s.tw.find(k) >= 0
}

// traceState traces a state change the stack makes for a connection that
// has no TCB any more.
func (s *Stack) traceState(key flowKey, from, to tcp.State, why string) {
	if s.tracer != nil {
		s.trace(&trace.Event{Kind: trace.StateChange, Local: key.local, Remote: key.remote,
			From: from.String(), To: to.String(), Why: why})
	}
}
