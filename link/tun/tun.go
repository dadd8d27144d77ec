// Package tun connects a synack stack to the Linux kernel through a TUN
// device: the kernel routes IP packets for the device's subnet into it, and
// every packet the stack writes comes out of the device as if it had
// arrived from a wire. A [Device] is a [link.Endpoint] carrying whole IPv4
// and IPv6 packets (IFF_TUN with IFF_NO_PI: no link header, no packet
// information prefix).
//
// The descriptor is non-blocking and registered with Go's poller, so a
// ReadBatch waiting for packets parks its goroutine instead of holding a
// thread, and Close wakes it.
//
// The kernel's side of the link is set over route netlink, in the network
// namespace the device was opened in: its MTU by [Open] from [Config], its
// addresses by [Device.AddHostAddr], its state by [Device.SetUp].
//
// With Config.Offload the device speaks virtio-net headers (IFF_VNET_HDR)
// and asks the kernel for its offloads (TUNSETOFFLOAD): checksums left to
// the kernel both ways, TCP packets of up to 64 KiB that the kernel cuts
// into segments (TSO), and the kernel's own large TCP packets handed over
// whole. [Device.Offloads] says what the kernel granted; ReadPackets and
// WritePackets use it ([link.OffloadEndpoint]), while ReadBatch and
// WriteBatch keep meaning plain packets within the MTU. With
// Config.Queues > 1 the device has several queues (IFF_MULTI_QUEUE), one
// reader each ([link.MultiQueue]).
package tun

import "sync/atomic"

// Config describes how to open a device. The zero value keeps the device's
// MTU (1500 for a new device), one queue and no offloads. A Config is read
// once by Open or OpenFile and never modified.
type Config struct {
	// MTU is the device's MTU in bytes, set when the device is opened; the
	// kernel accepts 68 to 65535. 0 (or negative) keeps the device's
	// current MTU.
	MTU int

	// Offload asks for virtio-net headers and the kernel's offloads:
	// checksums (TUN_F_CSUM), TCP segmentation both ways (TUN_F_TSO4,
	// TUN_F_TSO6) and UDP segmentation (TUN_F_USO4|TUN_F_USO6) where the
	// kernel has it. A kernel that refuses some gets asked for fewer, down
	// to none; Device.Offloads reports what was granted. false: plain
	// packets, no header.
	Offload bool

	// Queues is the number of queues (IFF_MULTI_QUEUE), each its own
	// descriptor with its own reader; the kernel steers each flow to the
	// queue that last carried it from us. 0 or 1: one queue, without
	// IFF_MULTI_QUEUE. At most MaxQueues. A device that exists already
	// without IFF_MULTI_QUEUE is opened with one queue.
	Queues int

	// setOffload replaces the TUNSETOFFLOAD ioctl, so that tests can play
	// a kernel that refuses some offloads. nil: the ioctl.
	setOffload func(fd int, flags uint) error
}

// MaxQueues is the most queues a device may have: Linux's MAX_TAP_QUEUES.
const MaxQueues = 256

// TUN_F_* of <linux/if_tun.h>: the offloads TUNSETOFFLOAD asks for.
const (
	tunFCsum = 0x01
	tunFTSO4 = 0x02
	tunFTSO6 = 0x04
	tunFUSO4 = 0x20
	tunFUSO6 = 0x40
)

// batchSize is what BatchSize reports: enough packets per call to amortize
// the stack's per-batch work, few enough that a batch of 64 KiB packets
// stays a few megabytes.
const batchSize = 64

// Stats counts a device's traffic since Open.
type Stats struct {
	PacketsIn   uint64 // packets ReadBatch and ReadPackets returned, over every queue
	PacketsOut  uint64 // packets the kernel accepted from WriteBatch and WritePackets
	ReadBatches uint64 // read calls that returned packets
	WriteDrops  uint64 // packets the kernel refused (device down, malformed), dropped
	GSOIn       uint64 // packets read larger than the MTU: the kernel's TSO or GRO
	GSOOut      uint64 // packets written with a GSO type, for the kernel to cut
	ReadDrops   uint64 // packets read and dropped: a bad virtio-net header, cut short
}

// counters holds Stats as atomics: the readers and the writers update them
// concurrently.
type counters struct {
	packetsIn, packetsOut, readBatches, writeDrops atomic.Uint64
	gsoIn, gsoOut, readDrops                       atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		PacketsIn:   c.packetsIn.Load(),
		PacketsOut:  c.packetsOut.Load(),
		ReadBatches: c.readBatches.Load(),
		WriteDrops:  c.writeDrops.Load(),
		GSOIn:       c.gsoIn.Load(),
		GSOOut:      c.gsoOut.Load(),
		ReadDrops:   c.readDrops.Load(),
	}
}
