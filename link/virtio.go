package link

import (
	"encoding/binary"
	"errors"
)

// VirtioNetHdrLen is the length of the virtio-net header without
// num_buffers (struct virtio_net_hdr, virtio 1.2 §5.1.6): what a TUN device
// with IFF_VNET_HDR puts in front of every packet by default.
const VirtioNetHdrLen = 10

// virtio_net_hdr's fields, in order: flags u8, gso_type u8, hdr_len,
// gso_size, csum_start, csum_offset (each 16 bits).
const (
	vnetFlags      = 0
	vnetGSOType    = 1
	vnetHdrLen     = 2
	vnetGSOSize    = 4
	vnetCsumStart  = 6
	vnetCsumOffset = 8
)

// gsoECN is virtio-net's VIRTIO_NET_HDR_GSO_ECN bit of gso_type: the
// segments carry ECN's CWR on the first one only. We never ask for it and
// accept it from the kernel.
const gsoECN = 0x80

// ErrBadVirtioHdr is returned by DecodeVirtioNetHdr for a header that
// names an unknown GSO type or flag.
var ErrBadVirtioHdr = errors.New("link: malformed virtio-net header")

// The header is in the machine's byte order: a Linux TUN device speaks
// legacy virtio (native endian) unless told otherwise (TUNSETVNETLE/BE),
// which we never do.
var vnetOrder = binary.NativeEndian

// EncodeVirtioNetHdr writes m as a virtio-net header into
// b[:VirtioNetHdrLen].
func EncodeVirtioNetHdr(b []byte, m *Meta) {
	b = b[:VirtioNetHdrLen]
	b[vnetFlags] = byte(m.Flags)
	b[vnetGSOType] = byte(m.GSO)
	vnetOrder.PutUint16(b[vnetHdrLen:], m.HdrLen)
	vnetOrder.PutUint16(b[vnetGSOSize:], m.GSOSize)
	vnetOrder.PutUint16(b[vnetCsumStart:], m.CsumStart)
	vnetOrder.PutUint16(b[vnetCsumOffset:], m.CsumOffset)
}

// DecodeVirtioNetHdr reads the virtio-net header in b[:VirtioNetHdrLen]
// into m. It fails with ErrBadVirtioHdr on a short header, an unknown GSO
// type or unknown flags, and never panics.
func DecodeVirtioNetHdr(b []byte, m *Meta) error {
	if len(b) < VirtioNetHdrLen {
		return ErrBadVirtioHdr
	}
	f := MetaFlags(b[vnetFlags])
	if f&^(NeedsChecksum|ChecksumValid) != 0 {
		return ErrBadVirtioHdr
	}
	g := GSOType(b[vnetGSOType] &^ gsoECN)
	switch g {
	case GSONone, GSOTCPv4, GSOTCPv6, GSOUDPL4:
	default:
		return ErrBadVirtioHdr
	}
	*m = Meta{
		Flags:      f,
		GSO:        g,
		HdrLen:     vnetOrder.Uint16(b[vnetHdrLen:]),
		GSOSize:    vnetOrder.Uint16(b[vnetGSOSize:]),
		CsumStart:  vnetOrder.Uint16(b[vnetCsumStart:]),
		CsumOffset: vnetOrder.Uint16(b[vnetCsumOffset:]),
	}
	return nil
}
