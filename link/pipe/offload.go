package pipe

import (
	"encoding/binary"
	"net"

	"github.com/synack-go/synack/link"
)

// maxGSOPacket is the largest packet with a GSO type the pipe carries:
// IPv4's total length limit.
const maxGSOPacket = 65535

// Offloads returns, with Config.Offload, what both ends agree on: a
// virtio-net header as headroom, checksums left to the link, TSO4, TSO6
// and packets of up to 65535 bytes delivered whole; without, none.
func (e *Endpoint) Offloads() link.Offloads {
	if !e.pair.offload {
		return link.Offloads{MaxPacket: e.pair.mtu}
	}
	return link.Offloads{Headroom: link.VirtioNetHdrLen, MaxPacket: maxGSOPacket,
		TxChecksum: true, TSO4: true, TSO6: true, RxCoalesce: true}
}

// NumQueues returns the number of receive queues of each end.
func (e *Endpoint) NumQueues() int { return len(e.in) }

// Queue returns this end's receive queue i as an endpoint: reads take
// packets from queue i, writes go to the other end like the Endpoint's.
func (e *Endpoint) Queue(i int) link.Endpoint { return e.qs[i] }

// ReadPackets reads the first receive queue with metadata: see
// link.OffloadEndpoint. Each bufs[i] must hold Offloads().Headroom +
// Offloads().MaxPacket bytes.
func (e *Endpoint) ReadPackets(bufs [][]byte, sizes []int, meta []link.Meta) (int, error) {
	return e.readPackets(0, bufs, sizes, meta)
}

func (e *Endpoint) readPackets(q int, bufs [][]byte, sizes []int, meta []link.Meta) (int, error) {
	n, err := e.in[q].pop(bufs[:min(len(bufs), len(meta))], sizes)
	if !e.pair.offload {
		clear(meta[:n])
		return n, err
	}
	for i := range n {
		if sizes[i] < link.VirtioNetHdrLen || link.DecodeVirtioNetHdr(bufs[i][:sizes[i]], &meta[i]) != nil {
			// Damaged by Corrupt: an empty packet, which the reader
			// drops as malformed.
			meta[i], sizes[i] = link.Meta{}, 0
			continue
		}
		sizes[i] -= link.VirtioNetHdrLen
	}
	return n, err
}

// WritePackets sends pkts with their metadata to the other end: packet i is
// pkts[i][Offloads().Headroom:]. Packets larger than the MTU without a GSO
// type, or than 65535 bytes with one, are dropped as TooBig, and so are
// GSO packets on a pipe without Config.Offload.
func (e *Endpoint) WritePackets(pkts [][]byte, meta []link.Meta) error {
	if e.pair.closed.Load() {
		return net.ErrClosed
	}
	e.written.Add(uint64(len(pkts)))
	hr := e.Offloads().Headroom
	start := 0
	for i, p := range pkts {
		m := meta[i]
		limit := e.pair.mtu
		if m.GSO != link.GSONone {
			limit = maxGSOPacket
			if !e.pair.offload {
				limit = -1
			}
		}
		ok := len(p) >= hr && len(p)-hr <= limit
		if ok && (e.pair.corrupt || !e.pair.offload) {
			// Fill the checksum before the wire can damage the packet.
			ok = link.CompleteChecksum(p[hr:], &m) == nil
		}
		if !ok {
			e.path.SendBatch(pkts[start:i])
			e.tooBig.Add(1)
			start = i + 1
			continue
		}
		if m.GSO != link.GSONone {
			e.gso.Add(1)
		}
		if hr > 0 {
			link.EncodeVirtioNetHdr(p, &m)
		}
	}
	e.path.SendBatch(pkts[start:])
	return nil
}

// writePlain sends plain packets on a pipe with offloads, each behind an
// empty virtio-net header.
func (e *Endpoint) writePlain(pkts [][]byte) error {
	e.plainMu.Lock()
	defer e.plainMu.Unlock()
	if e.plainBuf == nil {
		e.plainBuf = make([]byte, link.VirtioNetHdrLen+e.pair.mtu)
	}
	for _, p := range pkts {
		if len(p) > e.pair.mtu {
			e.tooBig.Add(1)
			continue
		}
		clear(e.plainBuf[:link.VirtioNetHdrLen])
		n := copy(e.plainBuf[link.VirtioNetHdrLen:], p)
		e.path.Send(e.plainBuf[:link.VirtioNetHdrLen+n])
	}
	return nil
}

// readBatch is ReadBatch on receive queue q.
func (e *Endpoint) readBatch(q int, bufs [][]byte, sizes []int) (int, error) {
	if !e.pair.offload {
		return e.in[q].pop(bufs, sizes)
	}
	return e.readPlain(q, bufs, sizes)
}

// readPlain serves ReadBatch on a pipe with offloads: it takes one packet
// at a time and hands out its plain segments (link.Splitter), waiting only
// while it has none. One reader per queue.
func (e *Endpoint) readPlain(q int, bufs [][]byte, sizes []int) (int, error) {
	s := e.in[q].splitter()
	n := 0
	for n < min(len(bufs), len(sizes)) {
		if s.Pending() {
			sizes[n] = s.Next(bufs[n])
			n++
			continue
		}
		if n > 0 && e.in[q].empty() {
			break
		}
		k, err := e.in[q].pop(s.bufs[:], s.sizes[:])
		if err != nil {
			if n > 0 {
				return n, nil
			}
			return 0, err
		}
		if k == 1 {
			s.Load(s.bufs[0][:s.sizes[0]]) // a damaged packet yields nothing
		}
	}
	return n, nil
}

// plainSplit is a queue's state for readPlain.
type plainSplit struct {
	link.Splitter
	bufs  [1][]byte
	sizes [1]int
}

// arrive takes the packets the impairments let through to this end and
// spreads them over the receive queues by flow.
func (e *Endpoint) arrive(pkts [][]byte) {
	if len(e.in) == 1 {
		e.deliver(0, pkts)
		return
	}
	start, cur := 0, -1
	for i, p := range pkts {
		q := int(e.flowHash(p) % uint32(len(e.in)))
		if q != cur && i > start {
			e.deliver(cur, pkts[start:i])
			start = i
		}
		cur = q
	}
	if cur >= 0 {
		e.deliver(cur, pkts[start:])
	}
}

// flowHash is receive-side scaling: a hash of the packet's addresses and,
// for TCP and UDP, ports, the same for both directions of a flow, so that
// each end handles a flow on the same queue. Anything else hashes to 0.
func (e *Endpoint) flowHash(p []byte) uint32 {
	if e.pair.offload {
		if len(p) < link.VirtioNetHdrLen {
			return 0
		}
		p = p[link.VirtioNetHdrLen:]
	}
	var a, ports uint32
	var proto byte
	th := 0
	switch {
	case len(p) >= 20 && p[0]>>4 == 4:
		a = binary.BigEndian.Uint32(p[12:]) + binary.BigEndian.Uint32(p[16:])
		proto, th = p[9], int(p[0]&0x0f)*4
	case len(p) >= 40 && p[0]>>4 == 6:
		for i := 8; i < 40; i += 4 {
			a += binary.BigEndian.Uint32(p[i:])
		}
		proto, th = p[6], 40
	default:
		return 0
	}
	if (proto == 6 || proto == 17) && len(p) >= th+4 {
		ports = uint32(binary.BigEndian.Uint16(p[th:])) + uint32(binary.BigEndian.Uint16(p[th+2:]))
	}
	h := a ^ ports*0x9e3779b1
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	return h ^ h>>16
}

// queueEnd is one receive queue of an Endpoint, as an endpoint of its own.
type queueEnd struct {
	e *Endpoint
	q int
}

func (qe *queueEnd) MTU() int                       { return qe.e.MTU() }
func (qe *queueEnd) BatchSize() int                 { return qe.e.BatchSize() }
func (qe *queueEnd) Offloads() link.Offloads        { return qe.e.Offloads() }
func (qe *queueEnd) WriteBatch(pkts [][]byte) error { return qe.e.WriteBatch(pkts) }
func (qe *queueEnd) Close() error                   { return qe.e.Close() }

func (qe *queueEnd) ReadBatch(bufs [][]byte, sizes []int) (int, error) {
	return qe.e.readBatch(qe.q, bufs, sizes)
}

func (qe *queueEnd) ReadPackets(bufs [][]byte, sizes []int, meta []link.Meta) (int, error) {
	return qe.e.readPackets(qe.q, bufs, sizes, meta)
}

func (qe *queueEnd) WritePackets(pkts [][]byte, meta []link.Meta) error {
	return qe.e.WritePackets(pkts, meta)
}
