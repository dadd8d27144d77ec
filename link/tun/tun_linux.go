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

// Device is an open TUN device. Its methods implement link.Endpoint on its
// first queue, link.OffloadEndpoint and link.MultiQueue: it is safe for one
// reader per queue and any number of concurrent writers, and Close may be
// called at any time.
type Device struct {
	name  string
	index int
	mtu   int
	nl    *rtnl // route netlink in the device's namespace
	q     []*Queue
	vnet  bool // every packet on the descriptors carries a virtio-net header
	off   link.Offloads

	closeOnce sync.Once
	closed    chan struct{} // closed by Close, before the descriptors

	ctr counters
}

var (
	_ link.OffloadEndpoint = (*Device)(nil)
	_ link.MultiQueue      = (*Device)(nil)
	_ link.OffloadEndpoint = (*Queue)(nil)
)

// tunDev is the clone device every TUN is opened through.
const tunDev = "/dev/net/tun"

// Open creates the TUN device called name, or attaches to it if a
// persistent device of that name exists, in the network namespace of the
// calling goroutine's thread (see package internal/netns for running it in
// another). An empty name lets the kernel pick one (tun0, tun1, ...); Name
// says which. The device starts down and without addresses: see SetUp and
// AddHostAddr. It disappears when Close releases it, unless it was made
// persistent elsewhere. Config.Offload and Config.Queues are asked for and
// fall back to what the kernel grants (see Offloads and NumQueues).
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
	nq := min(max(cfg.Queues, 1), MaxQueues)
	flags := uint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if cfg.Offload {
		flags |= unix.IFF_VNET_HDR
	}
	if nq > 1 {
		flags |= unix.IFF_MULTI_QUEUE
	}
	fd, ifname, err := attach(name, &flags)
	if err != nil {
		return nil, err
	}
	if flags&unix.IFF_MULTI_QUEUE == 0 {
		nq = 1
	}
	fds := []int{fd}
	for len(fds) < nq {
		fd, _, err := attach(ifname, &flags)
		if err != nil {
			closeAll(fds)
			return nil, err
		}
		fds = append(fds, fd)
	}
	return newDevice(fds, ifname, flags&unix.IFF_VNET_HDR != 0, cfg)
}

// attach opens the clone device and attaches it to the device called name
// (creating it) with *flags. What this kernel lacks is dropped from *flags
// first (TUNGETFEATURES): IFF_VNET_HDR and IFF_MULTI_QUEUE; and
// IFF_MULTI_QUEUE again if name is an existing single-queue device.
func attach(name string, flags *uint16) (int, string, error) {
	for {
		fd, err := unix.Open(tunDev, unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
		if err != nil {
			return -1, "", &os.PathError{Op: "open", Path: tunDev, Err: err}
		}
		if feats, err := unix.IoctlGetUint32(fd, unix.TUNGETFEATURES); err == nil {
			*flags &^= (unix.IFF_VNET_HDR | unix.IFF_MULTI_QUEUE) &^ uint16(feats)
		}
		ifr, err := unix.NewIfreq(name)
		if err == nil {
			ifr.SetUint16(*flags)
			err = unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr)
		}
		if err == nil {
			return fd, ifr.Name(), nil
		}
		unix.Close(fd)
		if errors.Is(err, unix.EINVAL) && *flags&unix.IFF_MULTI_QUEUE != 0 {
			// An existing device made with one queue: take it as it is.
			*flags &^= unix.IFF_MULTI_QUEUE
			continue
		}
		return -1, "", fmt.Errorf("tun: TUNSETIFF %q: %w", name, err)
	}
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// OpenFile makes a Device of f, an already open TUN descriptor (one passed
// in by a parent process, for instance), which must have been set up with
// IFF_TUN and IFF_NO_PI. If it has IFF_VNET_HDR, packets carry virtio-net
// headers, and Config.Offload asks for offloads; without it, Config.Offload
// is ignored and the device has none. The device has one queue, whatever
// Config.Queues says. OpenFile takes f over: it closes f and keeps a
// non-blocking duplicate. It must run in the network namespace the device
// lives in, where its netlink calls act.
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
	flags := ifr.Uint16()
	if flags&(unix.IFF_TUN|unix.IFF_TAP|unix.IFF_NO_PI) != unix.IFF_TUN|unix.IFF_NO_PI {
		unix.Close(fd)
		return nil, fmt.Errorf("tun: %s has flags %#x, want IFF_TUN|IFF_NO_PI", ifr.Name(), flags)
	}
	f.Close()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return newDevice([]int{fd}, ifr.Name(), flags&unix.IFF_VNET_HDR != 0, cfg)
}

// newDevice wraps fds, the non-blocking descriptors of the queues of the
// TUN device called name, on a locked thread in the device's namespace,
// and negotiates the offloads if vnet. It closes fds on failure.
func newDevice(fds []int, name string, vnet bool, cfg Config) (d *Device, err error) {
	defer func() {
		if err != nil {
			closeAll(fds)
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
	d = &Device{name: name, index: index, mtu: mtu, nl: nl, vnet: vnet, closed: make(chan struct{})}
	d.off.MaxPacket = mtu
	if vnet {
		if d.off, err = negotiate(fds[0], mtu, cfg); err != nil {
			return nil, fmt.Errorf("tun: %s: %w", name, err)
		}
	}
	for i, fd := range fds {
		// os.NewFile sees the descriptor is non-blocking and registers
		// it with the poller.
		f := os.NewFile(uintptr(fd), tunDev)
		rc, err := f.SyscallConn()
		if err != nil {
			for _, q := range d.q {
				q.f.Close()
			}
			closeAll(fds[i+1:])
			fds = nil // closed above or by f
			f.Close()
			return nil, fmt.Errorf("tun: %w", err)
		}
		d.q = append(d.q, newQueue(d, f, rc))
	}
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

// Stats returns the device's counters so far, summed over its queues.
func (d *Device) Stats() Stats { return d.ctr.snapshot() }

// Offloads returns what the kernel granted: the zero value without
// Config.Offload; with it, a 10-byte virtio-net header as headroom and
// packets up to 65535 bytes with TSO.
func (d *Device) Offloads() link.Offloads { return d.off }

// NumQueues returns the number of queues the device was opened with.
func (d *Device) NumQueues() int { return len(d.q) }

// Queue returns queue i as an endpoint with its own reader. Its Close
// closes the whole device.
func (d *Device) Queue(i int) link.Endpoint { return d.q[i] }

// ReadBatch reads from the first queue: see Queue.ReadBatch.
func (d *Device) ReadBatch(bufs [][]byte, sizes []int) (int, error) {
	return d.q[0].ReadBatch(bufs, sizes)
}

// WriteBatch writes on the first queue: see Queue.WriteBatch.
func (d *Device) WriteBatch(pkts [][]byte) error { return d.q[0].WriteBatch(pkts) }

// ReadPackets reads from the first queue: see Queue.ReadPackets.
func (d *Device) ReadPackets(bufs [][]byte, sizes []int, meta []link.Meta) (int, error) {
	return d.q[0].ReadPackets(bufs, sizes, meta)
}

// WritePackets writes on the first queue: see Queue.WritePackets.
func (d *Device) WritePackets(pkts [][]byte, meta []link.Meta) error {
	return d.q[0].WritePackets(pkts, meta)
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
// persistent, and wakes pending reads, which return net.ErrClosed. It is
// safe to call more than once; later calls return nil.
func (d *Device) Close() error {
	var err error
	d.closeOnce.Do(func() {
		close(d.closed)
		for _, q := range d.q {
			err = errors.Join(err, q.f.Close())
		}
		d.nl.close()
	})
	return err
}

// Queue is one queue of a Device: its own descriptor, read by one
// goroutine at a time and written by any number. Its methods implement
// link.OffloadEndpoint; Close closes the whole device.
type Queue struct {
	d  *Device
	f  *os.File        // the non-blocking descriptor, in Go's poller
	rc syscall.RawConn // f's raw access, for reads and writes that park

	// The reader's state, used by readFn; one read call at a time.
	rbufs  [][]byte
	rsizes []int
	rmeta  []link.Meta // nil: ReadBatch
	rn     int
	rerr   error
	readFn func(fd uintptr) bool
	plain  *plainReader // ReadBatch on a device with virtio-net headers

	wmu     sync.Mutex // serializes writers; guards the fields below
	wpkts   [][]byte
	wmeta   []link.Meta // nil: WriteBatch
	wi      int         // next packet to write
	wsent   int         // packets the kernel took
	werr    error
	wbuf    []byte // WriteBatch with virtio-net headers: header and packet
	writeFn func(fd uintptr) bool
}

func newQueue(d *Device, f *os.File, rc syscall.RawConn) *Queue {
	q := &Queue{d: d, f: f, rc: rc}
	q.readFn = q.readSome
	q.writeFn = q.writeAll
	return q
}

// MTU returns the device's MTU.
func (q *Queue) MTU() int { return q.d.mtu }

// BatchSize returns 64.
func (q *Queue) BatchSize() int { return batchSize }

// Offloads returns the device's offloads.
func (q *Queue) Offloads() link.Offloads { return q.d.off }

// Close closes the whole device.
func (q *Queue) Close() error { return q.d.Close() }

// ReadBatch waits until the kernel has queued a packet for this queue,
// then reads it and whatever else is already queued, without waiting
// again, up to len(bufs) plain packets. On a device with offloads, the
// kernel's large TCP packets are cut into segments of at most the MTU and
// their checksums completed, as a NIC without offloads would deliver them.
// A packet longer than its buffer is cut short (the buffers are MTU bytes,
// so only a device whose MTU was raised elsewhere does that). After Close
// it returns net.ErrClosed; a device that vanished (deleted by an
// administrator) also reads as closed.
func (q *Queue) ReadBatch(bufs [][]byte, sizes []int) (int, error) {
	return q.read(bufs, sizes, nil)
}

// ReadPackets is ReadBatch with the kernel's metadata: each bufs[i] must
// hold Offloads().Headroom + Offloads().MaxPacket bytes (MTU bytes without
// offloads), and packet i is read into bufs[i][Headroom:], virtio-net
// header in front, whole, up to 64 KiB.
func (q *Queue) ReadPackets(bufs [][]byte, sizes []int, meta []link.Meta) (int, error) {
	return q.read(bufs, sizes, meta[:min(len(meta), len(bufs))])
}

func (q *Queue) read(bufs [][]byte, sizes []int, meta []link.Meta) (int, error) {
	n := min(len(bufs), len(sizes))
	if meta != nil {
		n = min(n, len(meta))
	}
	q.rbufs, q.rsizes, q.rmeta = bufs[:n], sizes, meta
	q.rn, q.rerr = 0, nil
	if n == 0 {
		return 0, nil
	}
	if q.plain == nil && meta == nil && q.d.vnet {
		q.plain = newPlainReader(q.d)
	}
	var err error
	if meta == nil && q.plain != nil && q.plain.Pending() {
		// Segments of a packet read before: no need to wait.
		q.readSome(0)
	} else {
		err = q.rc.Read(q.readFn)
	}
	n = q.rn
	if err == nil && n == 0 {
		err = q.rerr
	}
	q.rbufs, q.rsizes, q.rmeta = nil, nil, nil
	if n > 0 {
		q.d.ctr.packetsIn.Add(uint64(n))
		q.d.ctr.readBatches.Add(1)
		return n, nil
	}
	return 0, q.d.translate(err)
}

// readSome is the poller callback of the reads: it reads until the queue
// is empty or the buffers are full, and asks to wait only if it read
// nothing. fd 0 means: only hand out pending segments.
func (q *Queue) readSome(fd uintptr) bool {
	for q.rn < len(q.rbufs) {
		if q.rmeta == nil && q.plain != nil && q.plain.Pending() {
			q.rsizes[q.rn] = q.plain.Next(q.rbufs[q.rn])
			q.rn++
			continue
		}
		if fd == 0 {
			return true
		}
		buf := q.rbufs[q.rn]
		switch {
		case q.rmeta == nil && q.plain != nil:
			buf = q.plain.buf
		case q.rmeta != nil:
			buf = buf[:min(len(buf), q.d.off.Headroom+q.d.off.MaxPacket)]
		}
		n, err := unix.Read(int(fd), buf)
		switch err {
		case nil:
			q.took(n)
		case unix.EINTR:
		case unix.EAGAIN:
			return q.rn > 0
		default:
			q.rerr = err
			return true
		}
	}
	return true
}

// took accounts for a read of n bytes into the current buffer (or the
// plain reader's).
func (q *Queue) took(n int) {
	d := q.d
	switch {
	case q.rmeta == nil && q.plain != nil:
		switch segs := q.plain.load(n); {
		case segs == 0:
			d.ctr.readDrops.Add(1)
		case segs > 1:
			d.ctr.gsoIn.Add(1)
		}
	case q.rmeta != nil && d.vnet:
		m := &q.rmeta[q.rn]
		if n < link.VirtioNetHdrLen || link.DecodeVirtioNetHdr(q.rbufs[q.rn], m) != nil {
			d.ctr.readDrops.Add(1)
			return
		}
		q.rsizes[q.rn] = n - link.VirtioNetHdrLen
		if m.GSO != link.GSONone {
			d.ctr.gsoIn.Add(1)
		}
		q.rn++
	case q.rmeta != nil:
		q.rmeta[q.rn] = link.Meta{}
		q.rsizes[q.rn] = n
		q.rn++
	default:
		q.rsizes[q.rn] = n
		q.rn++
	}
}

// WriteBatch hands each of pkts to the kernel as a plain packet arriving
// on the device, waiting (parked in the poller) only if the kernel pushes
// back. Packets the kernel refuses, for instance while the device is down,
// are dropped and counted in Stats.WriteDrops, as a wire would lose them.
// After Close, or once the device has vanished, it returns net.ErrClosed.
func (q *Queue) WriteBatch(pkts [][]byte) error { return q.write(pkts, nil) }

// WritePackets is WriteBatch with metadata: packet i is
// pkts[i][Offloads().Headroom:], and its virtio-net header is written in
// front of it. A packet asking for an offload the kernel did not grant, or
// larger than the MTU without a GSO type, is dropped and counted in
// Stats.WriteDrops.
func (q *Queue) WritePackets(pkts [][]byte, meta []link.Meta) error {
	return q.write(pkts, meta[:len(pkts)])
}

func (q *Queue) write(pkts [][]byte, meta []link.Meta) error {
	if len(pkts) == 0 {
		return nil
	}
	q.wmu.Lock()
	defer q.wmu.Unlock()
	if meta == nil && q.d.vnet && q.wbuf == nil {
		q.wbuf = make([]byte, link.VirtioNetHdrLen+maxPacket)
	}
	q.wpkts, q.wmeta, q.wi, q.wsent, q.werr = pkts, meta, 0, 0, nil
	err := q.rc.Write(q.writeFn)
	sent := q.wsent
	if err == nil {
		err = q.werr
	}
	q.wpkts, q.wmeta = nil, nil
	q.d.ctr.packetsOut.Add(uint64(sent))
	return q.d.translate(err)
}

// writeAll is the poller callback of the writes.
func (q *Queue) writeAll(fd uintptr) bool {
	d := q.d
	for q.wi < len(q.wpkts) {
		b, ok := q.wpkts[q.wi], true
		switch {
		case q.wmeta != nil:
			b, ok = q.framed(b, &q.wmeta[q.wi])
		case d.vnet:
			// A plain packet behind an all-zero header.
			clear(q.wbuf[:link.VirtioNetHdrLen])
			n := copy(q.wbuf[link.VirtioNetHdrLen:], b)
			b = q.wbuf[:link.VirtioNetHdrLen+n]
		}
		if !ok {
			d.ctr.writeDrops.Add(1)
			q.wi++
			continue
		}
		_, err := unix.Write(int(fd), b)
		switch err {
		case nil:
			if q.wmeta != nil && q.wmeta[q.wi].GSO != link.GSONone {
				d.ctr.gsoOut.Add(1)
			}
			q.wi++
			q.wsent++
		case unix.EINTR:
		case unix.EAGAIN:
			return false
		case unix.EBADFD:
			q.werr = err
			return true
		default:
			// EIO (device down), EINVAL (not an IP packet, a header
			// the kernel rejects), ...: the packet is lost, the batch
			// goes on.
			d.ctr.writeDrops.Add(1)
			q.wi++
		}
	}
	return true
}

// framed checks pkt (headroom included) against its metadata and what the
// kernel granted, and writes the virtio-net header into the headroom. It
// returns the bytes to write, or false to drop the packet.
func (q *Queue) framed(pkt []byte, meta *link.Meta) ([]byte, bool) {
	d := q.d
	off := d.off
	m := *meta // the caller's stays as it was
	if len(pkt) < off.Headroom {
		return nil, false
	}
	size := len(pkt) - off.Headroom
	switch m.GSO {
	case link.GSONone:
		if size > d.mtu {
			return nil, false
		}
	case link.GSOTCPv4:
		if !off.TSO4 || size > off.MaxPacket {
			return nil, false
		}
	case link.GSOTCPv6:
		if !off.TSO6 || size > off.MaxPacket {
			return nil, false
		}
	default:
		if !off.USO || size > off.MaxPacket {
			return nil, false
		}
	}
	if !d.vnet {
		// No header to carry the metadata: only plain packets go.
		if m.GSO != link.GSONone || link.CompleteChecksum(pkt, &m) != nil {
			return nil, false
		}
		return pkt, true
	}
	if m.Flags&link.NeedsChecksum != 0 && !off.TxChecksum {
		if link.CompleteChecksum(pkt[off.Headroom:], &m) != nil {
			return nil, false
		}
	}
	link.EncodeVirtioNetHdr(pkt[off.Headroom-link.VirtioNetHdrLen:], &m)
	return pkt[off.Headroom-link.VirtioNetHdrLen:], true
}
