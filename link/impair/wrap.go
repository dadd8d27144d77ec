package impair

import (
	"errors"
	"net"
	"sync/atomic"

	"github.com/synack-go/synack/link"
)

// Endpoint is a [link.Endpoint] whose outgoing packets cross an impaired
// [Path] before they reach the endpoint it wraps; incoming packets pass
// through untouched. It is safe for one reader and any number of writers.
type Endpoint struct {
	inner       link.Endpoint
	path        *Path
	closed      atomic.Bool
	innerClosed atomic.Bool // the wrapped endpoint said net.ErrClosed
}

var _ link.Endpoint = (*Endpoint)(nil)

// Wrap returns an Endpoint that impairs, as cfg says, every packet written
// through it before handing it to inner.WriteBatch. Impair both directions of
// a link by wrapping both of its ends. When cfg delays packets, a goroutine
// delivers them; Close stops it.
func Wrap(inner link.Endpoint, cfg Config) *Endpoint {
	e := &Endpoint{inner: inner}
	batch := inner.BatchSize()
	e.path = New(cfg, func(pkts [][]byte) {
		for len(pkts) > 0 {
			n := len(pkts)
			if batch > 0 && n > batch {
				n = batch
			}
			// The packets are on the wire: like a real link, a failure
			// downstream loses them. Only a closed endpoint is reported.
			if err := inner.WriteBatch(pkts[:n]); errors.Is(err, net.ErrClosed) {
				e.innerClosed.Store(true)
			}
			pkts = pkts[n:]
		}
	})
	return e
}

// MTU returns the wrapped endpoint's MTU.
func (e *Endpoint) MTU() int { return e.inner.MTU() }

// BatchSize returns the wrapped endpoint's batch size.
func (e *Endpoint) BatchSize() int { return e.inner.BatchSize() }

// ReadBatch reads from the wrapped endpoint, unimpaired.
func (e *Endpoint) ReadBatch(bufs [][]byte, sizes []int) (int, error) {
	return e.inner.ReadBatch(bufs, sizes)
}

// WriteBatch sends pkts through the impairments toward the wrapped endpoint.
// Delayed packets are delivered later, so a failure of the wrapped endpoint
// is not reported here, except net.ErrClosed once it has been seen. After
// Close it returns net.ErrClosed.
func (e *Endpoint) WriteBatch(pkts [][]byte) error {
	if e.closed.Load() || e.innerClosed.Load() {
		return net.ErrClosed
	}
	e.path.SendBatch(pkts)
	if e.innerClosed.Load() {
		return net.ErrClosed
	}
	return nil
}

// Close drops the packets still in flight, stops the delivery goroutine and
// closes the wrapped endpoint, returning its error.
func (e *Endpoint) Close() error {
	e.closed.Store(true)
	e.path.Close()
	return e.inner.Close()
}

// Stats returns what the impairments have done to written packets.
func (e *Endpoint) Stats() Stats { return e.path.Stats() }
