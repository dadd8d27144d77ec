package netstack

import (
	"os"
	"sync"
	"sync/atomic"

	"golang.zx2c4.com/wireguard/tun"

	"github.com/synack-go/synack"
)

// device is the tun.Device that CreateNetTUN returns: wireguard-go reads
// the packets the stack sends and writes the packets it decrypted. It is
// safe for concurrent use.
type device struct {
	ep     *endpoint
	stack  *synack.Stack
	pings  *pingTable
	events chan tun.Event
	mtu    int

	tooBig atomic.Uint64 // written packets longer than the MTU, dropped

	closeOnce sync.Once
	closeErr  error
}

var _ tun.Device = (*device)(nil)

// File returns nil: there is no file descriptor behind the device.
func (d *device) File() *os.File { return nil }

// Name returns "synack".
func (d *device) Name() (string, error) { return "synack", nil }

// MTU returns the MTU given to CreateNetTUN.
func (d *device) MTU() (int, error) { return d.mtu, nil }

// BatchSize returns 128, wireguard-go's ideal batch: Read fills up to that
// many buffers per call and Write takes any number.
func (d *device) BatchSize() int { return batchSize }

// Events returns the device's event channel: tun.EventUp once, at
// creation. It is closed by Close.
func (d *device) Events() <-chan tun.Event { return d.events }

// Read waits for at least one packet from the stack, then copies as many
// as are waiting (up to len(bufs)) into bufs[i][offset:], with their
// lengths in sizes[i], and returns how many. After Close it returns
// os.ErrClosed, which wireguard-go takes as the device going away.
func (d *device) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	n, err := d.ep.out.pop(bufs, sizes, offset)
	if err != nil {
		return 0, os.ErrClosed
	}
	return n, nil
}

// Write hands each of bufs[i][offset:] to the stack and returns len(bufs).
// It never waits for the stack: packets that find its queue full are
// dropped, as a TUN device's backlog drops them, and so are empty packets
// and packets longer than the MTU. Echo replies to an open ping socket go
// to that socket. After Close it returns os.ErrClosed.
func (d *device) Write(bufs [][]byte, offset int) (int, error) {
	start := 0
	for i, b := range bufs {
		p := b[offset:]
		divert := false
		switch {
		case len(p) > d.mtu:
			d.tooBig.Add(1)
			divert = true
		case d.pings.open():
			divert = d.pings.deliver(p)
		}
		if divert {
			if err := d.ep.in.push(bufs[start:i], offset); err != nil {
				return 0, os.ErrClosed
			}
			start = i + 1
		}
	}
	if err := d.ep.in.push(bufs[start:], offset); err != nil {
		return 0, os.ErrClosed
	}
	return len(bufs), nil
}

// Close closes the link, then the stack (every blocked call returns
// net.ErrClosed) and the event channel. It is safe to call more than
// once. The link closes first: with nobody reading the device (wireguard-go
// stops reading as it closes it) the stack may be waiting for room in the
// outbound queue, and the RSTs that closing the stack sends to its
// connections' peers would wait for ever; they could not reach them anyway.
func (d *device) Close() error {
	d.closeOnce.Do(func() {
		d.pings.closeAll()
		d.ep.Close()
		d.closeErr = d.stack.Close()
		close(d.events)
	})
	return d.closeErr
}
