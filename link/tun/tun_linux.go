//go:build linux

package tun

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/synack-go/synack/link"
)

// Device is an open TUN device. Its methods implement link.Endpoint: it is
// safe for one reader and any number of concurrent writers, and Close may be
// called at any time.
type Device struct {
	f     *os.File        // the non-blocking descriptor, in Go's poller
	rc    syscall.RawConn // f's raw access, for reads and writes that park
	name  string
	index int
	mtu   int
	nl    *rtnl // route netlink in the device's namespace

	closeOnce sync.Once
	closed    chan struct{} // closed by Close, before the descriptor

	// The reader's state, used by readFn; one ReadBatch at a time.
	rbufs  [][]byte
	rsizes []int
	rn     int
	rerr   error
	readFn func(fd uintptr) bool

	wmu     sync.Mutex // serializes writers; guards the fields below
	wpkts   [][]byte
	wi      int // next packet to write
	wsent   int // packets the kernel took
	werr    error
	writeFn func(fd uintptr) bool

	ctr counters
}

var _ link.Endpoint = (*Device)(nil)

// tunDev is the clone device every TUN is opened through.
const tunDev = "/dev/net/tun"

// Open creates the TUN device called name, or attaches to it if a
// persistent device of that name exists, in the network namespace of the
// calling goroutine's thread (see package internal/netns for running it in
// another). An empty name lets the kernel pick one (tun0, tun1, ...); Name
// says which. The device starts down and without addresses: see SetUp and
// AddHostAddr. It disappears when Close releases it, unless it was made
// persistent elsewhere.
//
// Open needs CAP_NET_ADMIN. Errors wrap the failing system call's errno:
// os.ErrPermission without the capability, syscall.EBUSY when another
// process holds the device, syscall.EINVAL for a bad name or an MTU the
// kernel refuses.
func Open(name string, cfg Config) (*Device, error) {
	if len(name) >= unix.IFNAMSIZ {
		return nil, fmt.Errorf("tun: name %q longer than %d bytes", name, unix.IFNAMSIZ-1)
	}
	// The device and the netlink socket must be made in one namespace:
	// that of one thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	fd, err := unix.Open(tunDev, unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: tunDev, Err: err}
	}
	ifr, err := unix.NewIfreq(name)
	if err == nil {
		ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
		err = unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr)
	}
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("tun: TUNSETIFF %q: %w", name, err)
	}
	return newDevice(fd, ifr.Name(), cfg)
}

// OpenFile makes a Device of f, an already open TUN descriptor (one passed
// in by a parent process, for instance), which must have been set up with
// IFF_TUN and IFF_NO_PI and without IFF_VNET_HDR. OpenFile takes f over: it
// closes f and keeps a non-blocking duplicate. It must run in the network
// namespace the device lives in, where its netlink calls act.
func OpenFile(f *os.File, cfg Config) (*Device, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("tun: %w", err)
	}
	// Dup without f.Fd, which would switch f to blocking mode.
	fd := -1
	cerr := rc.Control(func(s uintptr) {
		fd, err = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	})
	if cerr != nil {
		return nil, fmt.Errorf("tun: %w", cerr)
	}
	if err != nil {
		return nil, fmt.Errorf("tun: dup: %w", err)
	}
	ifr, err := unix.NewIfreq("")
	if err == nil {
		err = unix.IoctlIfreq(fd, unix.TUNGETIFF, ifr)
	}
	if err == nil {
		err = unix.SetNonblock(fd, true)
	}
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("tun: not a TUN descriptor: %w", err)
	}
	if flags := ifr.Uint16(); flags&(unix.IFF_TUN|unix.IFF_TAP|unix.IFF_NO_PI|unix.IFF_VNET_HDR) != unix.IFF_TUN|unix.IFF_NO_PI {
		unix.Close(fd)
		return nil, fmt.Errorf("tun: %s has flags %#x, want IFF_TUN|IFF_NO_PI without IFF_VNET_HDR", ifr.Name(), flags)
	}
	f.Close()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return newDevice(fd, ifr.Name(), cfg)
}

// newDevice wraps fd, a non-blocking TUN descriptor for the device called
// name, on a locked thread in the device's namespace. It closes fd on
// failure.
func newDevice(fd int, name string, cfg Config) (d *Device, err error) {
	defer func() {
		if err != nil {
			unix.Close(fd)
		}
	}()
	nl, err := openRtnl()
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			nl.close()
		}
	}()
	index, mtu, err := nl.getLink(name)
	if err != nil {
		return nil, fmt.Errorf("tun: looking up %s: %w", name, err)
	}
	if cfg.MTU > 0 && cfg.MTU != mtu {
		if err := nl.setMTU(index, cfg.MTU); err != nil {
			return nil, fmt.Errorf("tun: setting the MTU of %s to %d: %w", name, cfg.MTU, err)
		}
		mtu = cfg.MTU
	}
	// os.NewFile sees the descriptor is non-blocking and registers it
	// with the poller.
	f := os.NewFile(uintptr(fd), tunDev)
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("tun: %w", err)
	}
	d = &Device{f: f, rc: rc, name: name, index: index, mtu: mtu, nl: nl, closed: make(chan struct{})}
	d.readFn = d.readSome
	d.writeFn = d.writeAll
	return d, nil
}

// Name returns the device's name in the kernel.
func (d *Device) Name() string { return d.name }

// Index returns the device's interface index in its namespace.
func (d *Device) Index() int { return d.index }

// MTU returns the device's MTU.
func (d *Device) MTU() int { return d.mtu }

// BatchSize returns 64.
func (d *Device) BatchSize() int { return batchSize }

// Stats returns the device's counters so far.
func (d *Device) Stats() Stats { return d.ctr.snapshot() }

// ReadBatch waits until the kernel has queued a packet for the device, then
// reads it and whatever else is already queued, without waiting again, up to
// len(bufs) packets. A packet longer than its buffer is cut short (the
// buffers are MTU bytes, so only a device whose MTU was raised elsewhere
// does that). After Close it returns net.ErrClosed; a device that vanished
// (deleted by an administrator) also reads as closed.
func (d *Device) ReadBatch(bufs [][]byte, sizes []int) (int, error) {
	d.rbufs = bufs[:min(len(bufs), len(sizes))]
	d.rsizes = sizes
	d.rn, d.rerr = 0, nil
	if len(d.rbufs) == 0 {
		return 0, nil
	}
	err := d.rc.Read(d.readFn)
	n := d.rn
	if err == nil && n == 0 {
		err = d.rerr
	}
	d.rbufs, d.rsizes = nil, nil
	if n > 0 {
		d.ctr.packetsIn.Add(uint64(n))
		d.ctr.readBatches.Add(1)
		return n, nil
	}
	return 0, d.translate(err)
}

// readSome is the poller callback of ReadBatch: it reads until the queue is
// empty or the buffers are full, and asks to wait only if it read nothing.
func (d *Device) readSome(fd uintptr) bool {
	for d.rn < len(d.rbufs) {
		n, err := unix.Read(int(fd), d.rbufs[d.rn])
		switch err {
		case nil:
			d.rsizes[d.rn] = n
			d.rn++
		case unix.EINTR:
		case unix.EAGAIN:
			return d.rn > 0
		default:
			d.rerr = err
			return true
		}
	}
	return true
}

// WriteBatch hands each of pkts to the kernel as a packet arriving on the
// device, waiting (parked in the poller) only if the kernel pushes back.
// Packets the kernel refuses, for instance while the device is down, are
// dropped and counted in Stats.WriteDrops, as a wire would lose them. After
// Close, or once the device has vanished, it returns net.ErrClosed.
func (d *Device) WriteBatch(pkts [][]byte) error {
	if len(pkts) == 0 {
		return nil
	}
	d.wmu.Lock()
	defer d.wmu.Unlock()
	d.wpkts, d.wi, d.wsent, d.werr = pkts, 0, 0, nil
	err := d.rc.Write(d.writeFn)
	sent := d.wsent
	if err == nil {
		err = d.werr
	}
	d.wpkts = nil
	d.ctr.packetsOut.Add(uint64(sent))
	return d.translate(err)
}

// writeAll is the poller callback of WriteBatch.
func (d *Device) writeAll(fd uintptr) bool {
	for d.wi < len(d.wpkts) {
		_, err := unix.Write(int(fd), d.wpkts[d.wi])
		switch err {
		case nil:
			d.wi++
			d.wsent++
		case unix.EINTR:
		case unix.EAGAIN:
			return false
		case unix.EBADFD:
			d.werr = err
			return true
		default:
			// EIO (device down), EINVAL (not an IP packet), ...: the
			// packet is lost, the batch goes on.
			d.ctr.writeDrops.Add(1)
			d.wi++
		}
	}
	return true
}

// translate turns the errors of a closed or vanished device into
// net.ErrClosed and wraps the others.
func (d *Device) translate(err error) error {
	if err == nil {
		return nil
	}
	select {
	case <-d.closed:
		return net.ErrClosed
	default:
	}
	// EBADFD: the device was deleted under the descriptor.
	if errors.Is(err, unix.EBADFD) || errors.Is(err, os.ErrClosed) {
		return net.ErrClosed
	}
	return &os.PathError{Op: "tun", Path: d.name, Err: err}
}

// Close releases the device, which the kernel deletes unless it is
// persistent, and wakes a pending ReadBatch, which returns net.ErrClosed.
// It is safe to call more than once; later calls return nil.
func (d *Device) Close() error {
	var err error
	d.closeOnce.Do(func() {
		close(d.closed)
		err = d.f.Close()
		d.nl.close()
	})
	return err
}
