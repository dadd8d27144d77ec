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
package tun

import "sync/atomic"

// Config describes how to open a device. The zero value keeps the device's
// MTU (1500 for a new device). A Config is read once by Open or OpenFile and
// never modified. It is a struct so that later options, such as
// IFF_VNET_HDR segmentation offloads, can be added without changing Open.
type Config struct {
	// MTU is the device's MTU in bytes, set when the device is opened; the
	// kernel accepts 68 to 65535. 0 (or negative) keeps the device's
	// current MTU.
	MTU int
}

// batchSize is what BatchSize reports: enough packets per call to amortize
// the stack's per-batch work, few enough that a batch of 64 KiB packets
// stays a few megabytes.
const batchSize = 64

// Stats counts a device's traffic since Open.
type Stats struct {
	PacketsIn   uint64 // packets ReadBatch returned
	PacketsOut  uint64 // packets the kernel accepted from WriteBatch
	ReadBatches uint64 // ReadBatch calls that returned packets
	WriteDrops  uint64 // packets the kernel refused (device down, malformed), dropped
}

// counters holds Stats as atomics: the reader and the writers update them
// concurrently.
type counters struct {
	packetsIn, packetsOut, readBatches, writeDrops atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		PacketsIn:   c.packetsIn.Load(),
		PacketsOut:  c.packetsOut.Load(),
		ReadBatches: c.readBatches.Load(),
		WriteDrops:  c.writeDrops.Load(),
	}
}
