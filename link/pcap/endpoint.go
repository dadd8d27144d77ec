package pcap

import (
	"io"
	"sync"
	"time"

	"github.com/synack-go/synack/link"
)

// Config tunes Wrap. The zero value writes microsecond timestamps from the
// real clock.
type Config struct {
	// Now returns the time stamped on each captured batch. nil means
	// time.Now; tests pass a fake clock for reproducible files.
	Now func() time.Time

	// Nanosecond selects nanosecond timestamps (see NewWriterNano).
	Nanosecond bool
}

// Endpoint is a [link.Endpoint] that records every packet it reads or writes
// in a pcap file and otherwise passes everything through to the endpoint it
// wraps. The capture never takes traffic down: the first write error stops
// it, and Err reports that error. Endpoint is safe for one reader and any
// number of writers, as link.Endpoint requires; a mutex orders the records.
type Endpoint struct {
	inner link.Endpoint
	now   func() time.Time

	mu  sync.Mutex
	w   *Writer
	err error // first capture error; no more records after it
}

var _ link.Endpoint = (*Endpoint)(nil)

// Wrap writes a pcap file header to w and returns an Endpoint that records
// inner's traffic in it: packets written are recorded before they are handed
// to inner, packets read after inner returns them. The caller keeps
// ownership of w: Close neither flushes nor closes it. Wrap returns the
// error of writing the file header, and no Endpoint then.
func Wrap(inner link.Endpoint, w io.Writer, cfg Config) (*Endpoint, error) {
	pw, err := newWriter(w, cfg.Nanosecond)
	if err != nil {
		return nil, err
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Endpoint{inner: inner, now: now, w: pw}, nil
}

// MTU returns the wrapped endpoint's MTU.
func (e *Endpoint) MTU() int { return e.inner.MTU() }

// BatchSize returns the wrapped endpoint's batch size.
func (e *Endpoint) BatchSize() int { return e.inner.BatchSize() }

// ReadBatch reads from the wrapped endpoint and records what it read.
func (e *Endpoint) ReadBatch(bufs [][]byte, sizes []int) (int, error) {
	n, err := e.inner.ReadBatch(bufs, sizes)
	if n > 0 {
		e.mu.Lock()
		if e.err == nil {
			ts := e.now()
			for i := range n {
				pkt := bufs[i][:min(max(sizes[i], 0), len(bufs[i]))]
				if e.err = e.w.WritePacket(ts, pkt); e.err != nil {
					break
				}
			}
		}
		e.mu.Unlock()
	}
	return n, err
}

// WriteBatch records pkts and writes them to the wrapped endpoint, returning
// its error.
func (e *Endpoint) WriteBatch(pkts [][]byte) error {
	if len(pkts) > 0 {
		e.mu.Lock()
		if e.err == nil {
			ts := e.now()
			for _, p := range pkts {
				if e.err = e.w.WritePacket(ts, p); e.err != nil {
					break
				}
			}
		}
		e.mu.Unlock()
	}
	return e.inner.WriteBatch(pkts)
}

// Close closes the wrapped endpoint and returns its error. It does not
// close the capture's writer.
func (e *Endpoint) Close() error { return e.inner.Close() }

// Err returns the error that stopped the capture, or nil if every packet so
// far has been recorded.
func (e *Endpoint) Err() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}
