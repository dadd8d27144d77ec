package link

// Offloads are what a link does for the stack beyond carrying packets of at
// most MTU bytes, each with its own checksum: segmentation of large TCP
// packets on the way out (TSO), coalescing on the way in (GRO), and
// checksums it fills or has already checked. They are virtio-net's
// offloads (virtio 1.2 §5.1.6.2), which a Linux TUN device with
// IFF_VNET_HDR, an AF_PACKET socket with PACKET_VNET_HDR and a virtio NIC
// share, so one model serves each of them and the in-memory pipe.
//
// The zero value is a link without offloads: the stack then uses ReadBatch
// and WriteBatch and never sends a packet larger than the MTU.
type Offloads struct {
	// Headroom is how many bytes the link needs in front of every packet
	// moved by ReadPackets and WritePackets: where a TUN device's
	// virtio-net header goes (VirtioNetHdrLen), so that a packet and its
	// header move in one system call without a copy.
	Headroom int

	// MaxPacket is the largest packet, headers included, that ReadPackets
	// may return and WritePackets accepts with a GSO type: up to 65535,
	// the IPv4 total length's limit. Packets without a GSO type stay
	// within the MTU.
	MaxPacket int

	// TxChecksum: WritePackets completes the checksum of a packet marked
	// NeedsChecksum (Linux's TUN_F_CSUM, CHECKSUM_PARTIAL).
	TxChecksum bool

	// TSO4 and TSO6: WritePackets accepts TCP packets of up to MaxPacket
	// bytes marked GSOTCPv4 or GSOTCPv6 (which must also be marked
	// NeedsChecksum) and cuts them into segments of GSOSize payload bytes
	// further on (Linux's TUN_F_TSO4, TUN_F_TSO6).
	TSO4, TSO6 bool

	// USO: the same for UDP, GSOUDPL4 (Linux's TUN_F_USO4|TUN_F_USO6).
	// The stack has no UDP yet; the flag is reported for completeness.
	USO bool

	// RxCoalesce: ReadPackets may return coalesced TCP packets larger than
	// the MTU, marked with a GSO type and GSOSize: several segments of one
	// flow joined by the other side's GRO, or a TSO packet that was never
	// cut.
	RxCoalesce bool
}

// Enabled reports whether the link does anything beyond the zero value.
func (o Offloads) Enabled() bool {
	return o.TxChecksum || o.TSO4 || o.TSO6 || o.USO || o.RxCoalesce
}

// GSOType says how a packet larger than the MTU is, or is to be, cut into
// segments: virtio-net's gso_type.
type GSOType uint8

// The GSO types, with virtio-net's values (VIRTIO_NET_HDR_GSO_*).
const (
	GSONone  GSOType = 0 // a packet within the MTU
	GSOTCPv4 GSOType = 1 // TCP over IPv4: TSO, or coalesced by GRO
	GSOTCPv6 GSOType = 4 // TCP over IPv6
	GSOUDPL4 GSOType = 5 // UDP segmentation (USO), either family
)

// MetaFlags are a packet's checksum state: virtio-net's flags.
type MetaFlags uint8

// The flags, with virtio-net's values (VIRTIO_NET_HDR_F_*).
const (
	// NeedsChecksum: the transport checksum is not filled. Its field holds
	// the pseudo-header sum (RFC 9293 §3.1, uncomplemented), and the sum
	// over the bytes from CsumStart to the packet's end, complemented,
	// belongs at CsumStart+CsumOffset. On the way out, the link fills it;
	// on the way in, the packet was made on this side of any wire (the
	// kernel's own or the pipe's other end) and is as good as checked.
	NeedsChecksum MetaFlags = 1
	// ChecksumValid: the link has checked the transport checksum (on the
	// way in only).
	ChecksumValid MetaFlags = 2
)

// Meta is what a link knows, or must do, about one packet beyond its
// bytes: the meaning of a virtio-net header. Its zero value is a plain
// packet within the MTU whose checksums are filled and not yet checked.
type Meta struct {
	Flags MetaFlags
	GSO   GSOType
	// HdrLen is the length of the headers, IP and transport, in front of
	// the payload, with a GSO type.
	HdrLen uint16
	// GSOSize is the payload of each segment but the last, with a GSO type:
	// the MSS the packet was or is to be cut at.
	GSOSize uint16
	// CsumStart is the offset of the transport header from the packet's
	// start and CsumOffset that of the checksum field within it (16 for
	// TCP, 6 for UDP), with NeedsChecksum.
	CsumStart, CsumOffset uint16
}

// OffloadEndpoint is an Endpoint that may offer offloads. The stack asks
// for it with a type assertion and uses ReadPackets and WritePackets only
// when Offloads reports some; wrappers that do not implement it (a pcap
// tap, an impairment) hide the offloads of what they wrap, which is
// always correct, only slower.
type OffloadEndpoint interface {
	Endpoint

	// Offloads reports what the link does. It is fixed once the endpoint
	// is made (negotiated with the kernel by a TUN device, chosen by the
	// pipe's Config) and never changes.
	Offloads() Offloads

	// ReadPackets is ReadBatch with metadata. Each bufs[i] must hold
	// Headroom+MaxPacket bytes; packet i lands at
	// bufs[i][Headroom:Headroom+sizes[i]] and meta[i] describes it. It
	// returns at most min(len(bufs), len(sizes), len(meta)) packets.
	ReadPackets(bufs [][]byte, sizes []int, meta []Meta) (n int, err error)

	// WritePackets is WriteBatch with metadata: packet i is
	// pkts[i][Headroom:], described by meta[i], and pkts[i][:Headroom] is
	// the link's to overwrite. A packet whose metadata asks for an offload
	// the link does not do, or that exceeds the MTU without a GSO type or
	// MaxPacket with one, is dropped.
	WritePackets(pkts [][]byte, meta []Meta) error
}

// MultiQueue is an Endpoint with several independent queues in each
// direction, as a multi-queue TUN device or a NIC with receive-side
// scaling: each queue has its own reader, so the packets of different flows
// are handled on different cores. The link sends all packets of one flow
// to one queue.
type MultiQueue interface {
	Endpoint

	// NumQueues returns the number of queues, at least 1; it never
	// changes.
	NumQueues() int

	// Queue returns queue i, 0 <= i < NumQueues(), as an Endpoint of its
	// own (an OffloadEndpoint if the link is one) with one reader. Packets
	// written on a queue leave by it; where a link learns a flow's queue
	// from the writes (a TUN device's automatic steering), a flow's
	// packets should always be written on the queue they are read from.
	// Closing a queue closes the whole link.
	Queue(i int) Endpoint
}
