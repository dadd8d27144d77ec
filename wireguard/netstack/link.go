package netstack

import (
	"net"
	"sync"

	"github.com/synack-go/synack/link"
)

// Queue sizes. The direction toward the stack drops when full, as a
// kernel TUN device's backlog does, so wireguard-go's receive goroutine
// never waits for the stack; the direction toward wireguard-go makes the
// stack wait instead, so a fast sender is paced by encryption rather than
// losing segments before they leave the host.
const (
	inboundPackets  = 2048 // wireguard-go → stack
	outboundPackets = 1024 // stack → wireguard-go
)

// batchSize is what the device and the endpoint report as BatchSize:
// wireguard-go's conn.IdealBatchSize, the most its UDP binds move per
// system call.
const batchSize = 128

// endpoint is the stack's side of the in-memory link: a link.Endpoint
// whose ReadBatch takes what wireguard-go wrote to the device and whose
// WriteBatch hands packets to the device's Read. It is safe for one
// reader and any number of writers, as link.Endpoint asks.
type endpoint struct {
	mtu int
	in  *queue // device Write → stack ReadBatch
	out *queue // stack WriteBatch → device Read

	once sync.Once
}

var _ link.Endpoint = (*endpoint)(nil)

func newEndpoint(mtu int) *endpoint {
	return &endpoint{
		mtu: mtu,
		in:  newQueue(inboundPackets, false),
		out: newQueue(outboundPackets, true),
	}
}

// MTU returns the device's MTU.
func (e *endpoint) MTU() int { return e.mtu }

// BatchSize returns 128.
func (e *endpoint) BatchSize() int { return batchSize }

// ReadBatch waits for packets that wireguard-go wrote to the device.
func (e *endpoint) ReadBatch(bufs [][]byte, sizes []int) (int, error) {
	n, err := e.in.pop(bufs, sizes, 0)
	if err != nil {
		return 0, net.ErrClosed
	}
	return n, nil
}

// WriteBatch queues pkts for the device's Read, waiting while the queue
// is full.
func (e *endpoint) WriteBatch(pkts [][]byte) error {
	if err := e.out.push(pkts, 0); err != nil {
		return net.ErrClosed
	}
	return nil
}

// Close closes both directions; blocked calls on either side return.
func (e *endpoint) Close() error {
	e.once.Do(func() {
		e.in.close()
		e.out.close()
	})
	return nil
}
