package synack

import (
	"sync"
	"sync/atomic"
	"unsafe"
)

// flowTable holds every flow by its exact 4-tuple: TCP connections and
// connected or forwarded UDP sockets, the first step of the lookup order
// (inet.Table holds the rest: bindings and forwarders, under Stack.mu). It
// is cut into shards, each under its own lock on its own cache line, so
// that the read loops of a multi-queue link (one per core) look up their
// flows without meeting on one lock: a shard is chosen by a hash of the
// 4-tuple, and different flows rarely share one. Linux's established hash
// is the same idea, with a lock per bucket. A forwarded flow's entry is
// the exact 4-tuple with the original destination as its local address,
// so its packets find it here whatever that address is.
type flowTable struct {
	shards [flowShards]flowShard
	count  atomic.Int64 // TCP connections in the table, for Options.MaxConns
}

// flowShards is a power of two well above the cores a stack runs on.
const flowShards = 64

// flowShard is one shard: a map per protocol, the UDP one made on first
// use.
type flowShard struct {
	mu  sync.RWMutex
	tcp map[connKey]*Conn
	udp map[connKey]*UDPConn
	_   [64 - (unsafe.Sizeof(sync.RWMutex{})+2*unsafe.Sizeof(map[connKey]*Conn(nil)))%64]byte
}

// connKey is a flowKey packed for the table: 36 bytes rather than 64, which
// the table holds once per flow. The addresses are in their 16-byte
// form; the local one tells the families apart.
type connKey struct {
	local, remote [16]byte
	lport, rport  uint16
}

func (k flowKey) packed() connKey {
	return connKey{k.local.Addr().As16(), k.remote.Addr().As16(), k.local.Port(), k.remote.Port()}
}

func (t *flowTable) init() {
	for i := range t.shards {
		t.shards[i].tcp = make(map[connKey]*Conn)
	}
}

// shard returns k's shard. The hash is cheap, not keyed: the remote port
// and address vary between flows, the local side rarely does.
func (t *flowTable) shard(k flowKey) *flowShard {
	r := k.remote.Addr().As16()
	h := uint32(r[12])<<24 | uint32(r[13])<<16 | uint32(r[14])<<8 | uint32(r[15])
	h ^= uint32(k.remote.Port())<<16 | uint32(k.local.Port())
	h *= 0x9e3779b1
	return &t.shards[h>>(32-6)]
}

// get returns the TCP connection of k, or nil.
func (t *flowTable) get(k flowKey) *Conn {
	sh := t.shard(k)
	pk := k.packed()
	sh.mu.RLock()
	c := sh.tcp[pk]
	sh.mu.RUnlock()
	return c
}

// insert enters c under k unless k is taken or the stack is closing (so
// that Stack.Close, which sets closing first and then empties each shard,
// misses no connection).
func (t *flowTable) insert(k flowKey, c *Conn, closing func() bool) bool {
	sh := t.shard(k)
	pk := k.packed()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, ok := sh.tcp[pk]; ok || closing() {
		return false
	}
	sh.tcp[pk] = c
	t.count.Add(1)
	return true
}

// used reports whether k is taken by a TCP connection.
func (t *flowTable) used(k flowKey) bool { return t.get(k) != nil }

// remove deletes c's entry, if it is still c's, and tells the read loops'
// caches (flowCache) that c is gone.
func (t *flowTable) remove(c *Conn) {
	c.unlisted.Store(true)
	sh := t.shard(c.key)
	pk := c.key.packed()
	sh.mu.Lock()
	if sh.tcp[pk] == c {
		delete(sh.tcp, pk)
		t.count.Add(-1)
	}
	sh.mu.Unlock()
}

// flowCache remembers a read loop's last connection: the packets of a
// read batch mostly belong to one flow, and the table's hash of a 4-tuple
// costs more than comparing it. A connection taken out of the table is
// never returned from the cache; one taken out just after is no different
// from one the table returned just before.
type flowCache struct {
	key  flowKey
	conn *Conn
}

// lookup returns k's connection, from the cache or the table.
func (fc *flowCache) lookup(t *flowTable, k flowKey) *Conn {
	if c := fc.conn; c != nil && fc.key == k && !c.unlisted.Load() {
		return c
	}
	c := t.get(k)
	fc.key, fc.conn = k, c
	return c
}

// appendAll appends every connection to dst, one shard at a time.
func (t *flowTable) appendAll(dst []*Conn) []*Conn {
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.RLock()
		for _, c := range sh.tcp {
			dst = append(dst, c)
		}
		sh.mu.RUnlock()
	}
	return dst
}

// getUDP returns the UDP socket of exactly k, or nil.
func (t *flowTable) getUDP(k flowKey) *UDPConn {
	sh := t.shard(k)
	pk := k.packed()
	sh.mu.RLock()
	c := sh.udp[pk]
	sh.mu.RUnlock()
	return c
}

// insertUDP enters a connected or forwarded UDP socket under k unless k
// is taken or the stack is closing.
func (t *flowTable) insertUDP(k flowKey, c *UDPConn, closing func() bool) bool {
	sh := t.shard(k)
	pk := k.packed()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, ok := sh.udp[pk]; ok || closing() {
		return false
	}
	if sh.udp == nil {
		sh.udp = make(map[connKey]*UDPConn)
	}
	sh.udp[pk] = c
	return true
}

// removeUDP deletes k's entry if it is still c's.
func (t *flowTable) removeUDP(k flowKey, c *UDPConn) {
	sh := t.shard(k)
	pk := k.packed()
	sh.mu.Lock()
	if sh.udp[pk] == c {
		delete(sh.udp, pk)
	}
	sh.mu.Unlock()
}
