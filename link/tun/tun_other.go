//go:build !linux

package tun

import (
	"errors"
	"net/netip"
	"os"

	"github.com/synack-go/synack/link"
)

// Device is an open TUN device. TUN devices are only supported on Linux:
// elsewhere no Device can be opened.
type Device struct{}

// Open fails with errors.ErrUnsupported: TUN devices are only supported on
// Linux.
func Open(name string, cfg Config) (*Device, error) { return nil, errors.ErrUnsupported }

// OpenFile fails with errors.ErrUnsupported: TUN devices are only supported
// on Linux.
func OpenFile(f *os.File, cfg Config) (*Device, error) { return nil, errors.ErrUnsupported }

// Name returns "".
func (d *Device) Name() string { return "" }

// Index returns 0.
func (d *Device) Index() int { return 0 }

// MTU returns 0.
func (d *Device) MTU() int { return 0 }

// BatchSize returns 64.
func (d *Device) BatchSize() int { return batchSize }

// Stats returns zero counters.
func (d *Device) Stats() Stats { return Stats{} }

// ReadBatch fails with errors.ErrUnsupported.
func (d *Device) ReadBatch(bufs [][]byte, sizes []int) (int, error) {
	return 0, errors.ErrUnsupported
}

// WriteBatch fails with errors.ErrUnsupported.
func (d *Device) WriteBatch(pkts [][]byte) error { return errors.ErrUnsupported }

// Close returns nil.
func (d *Device) Close() error { return nil }

// Offloads returns none.
func (d *Device) Offloads() link.Offloads { return link.Offloads{} }

// NumQueues returns 1.
func (d *Device) NumQueues() int { return 1 }

// Queue returns d.
func (d *Device) Queue(i int) link.Endpoint { return d }

// ReadPackets fails with errors.ErrUnsupported.
func (d *Device) ReadPackets(bufs [][]byte, sizes []int, meta []link.Meta) (int, error) {
	return 0, errors.ErrUnsupported
}

// WritePackets fails with errors.ErrUnsupported.
func (d *Device) WritePackets(pkts [][]byte, meta []link.Meta) error { return errors.ErrUnsupported }

// SetUp fails with errors.ErrUnsupported.
func (d *Device) SetUp() error { return errors.ErrUnsupported }

// AddHostAddr fails with errors.ErrUnsupported.
func (d *Device) AddHostAddr(p netip.Prefix) error { return errors.ErrUnsupported }
