// Package link defines how synack meets a network: an Endpoint moves whole IP
// packets (IPv4 or IPv6, no link-layer header) in batches.
package link

// Endpoint is a network interface seen from the stack: it carries IP packets
// in both directions. Implementations are safe for one reader and any number
// of concurrent writers; Close may be called at any time and unblocks a
// pending ReadBatch.
type Endpoint interface {
	// MTU returns the largest IP packet, in bytes, the link carries.
	MTU() int

	// BatchSize returns the most packets one ReadBatch or WriteBatch call
	// moves; it never changes.
	BatchSize() int

	// ReadBatch blocks until at least one packet has arrived, then copies up
	// to len(bufs) packets into bufs (each buffer at least MTU bytes), sets
	// sizes[i] to the length of packet i and returns the number of packets.
	// Instead of copying packet i, it may replace bufs[i] by a buffer of
	// its own of the same length holding the packet, and keep the caller's
	// (an in-memory link hands packets over so); callers read packet i
	// from bufs[i] after the call and hold no other reference to their
	// buffers. After Close it returns net.ErrClosed.
	ReadBatch(bufs [][]byte, sizes []int) (n int, err error)

	// WriteBatch sends each of pkts as one IP packet. The endpoint does not
	// keep pkts after it returns. A packet the link cannot carry is dropped,
	// as a real link would. After Close it returns net.ErrClosed.
	WriteBatch(pkts [][]byte) error

	// Close releases the endpoint. It is safe to call more than once.
	Close() error
}
