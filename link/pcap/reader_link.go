package pcap

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Link-layer header types a Reader's packets may carry, from the tcpdump.org
// registry (https://www.tcpdump.org/linktypes.html); LinkTypeRaw is in
// writer.go. IP unwraps each of them.
const (
	// LinkTypeNull is BSD loopback: a 4-byte address family in the byte
	// order of the host that captured.
	LinkTypeNull = 0
	// LinkTypeEthernet is Ethernet II, possibly with 802.1Q or 802.1ad VLAN
	// tags. Linux's loopback device captures as Ethernet too.
	LinkTypeEthernet = 1
	// LinkTypeDLTRaw and LinkTypeDLTRawOpenBSD are DLT_RAW as some
	// systems number it in files, instead of LINKTYPE_RAW: a bare IP packet.
	LinkTypeDLTRaw        = 12
	LinkTypeDLTRawOpenBSD = 14
	// LinkTypeLoop is OpenBSD loopback: a 4-byte address family in network
	// byte order.
	LinkTypeLoop = 108
	// LinkTypeLinuxSLL is Linux "cooked" capture (tcpdump -i any before
	// libpcap 1.10): a 16-byte header ending in the EtherType.
	LinkTypeLinuxSLL = 113
	// LinkTypeIPv4 and LinkTypeIPv6 are bare packets of one IP version.
	LinkTypeIPv4 = 228
	LinkTypeIPv6 = 229
	// LinkTypeLinuxSLL2 is Linux cooked capture v2 (tcpdump -i any since
	// libpcap 1.10): a 20-byte header starting with the EtherType.
	LinkTypeLinuxSLL2 = 276
)

// EtherTypes that carry IP, and the VLAN tags IP skips.
const (
	etherIPv4  = 0x0800
	etherIPv6  = 0x86dd
	etherVLAN  = 0x8100 // 802.1Q
	etherQinQ  = 0x88a8 // 802.1ad
	etherQinQ9 = 0x9100 // pre-standard QinQ
)

// Errors of IP.
var (
	// ErrNotIP reports a frame that carries something other than IPv4 or
	// IPv6, such as ARP: not an error in the capture, a packet to skip.
	ErrNotIP = errors.New("pcap: frame carries no IP packet")
	// ErrLinkType reports a link type IP cannot unwrap.
	ErrLinkType = errors.New("pcap: unsupported link type")
)

// IP returns the IPv4 or IPv6 packet inside frame, a packet of the given
// link type, without copying. It returns an error wrapping ErrNotIP for a
// frame that carries another protocol, ErrLinkType for a link type it does
// not know, and ErrFormat for a frame too short for its header.
func IP(linkType uint32, frame []byte) ([]byte, error) {
	switch linkType {
	case LinkTypeRaw, LinkTypeDLTRaw, LinkTypeDLTRawOpenBSD, LinkTypeIPv4, LinkTypeIPv6:
		return frame, nil
	case LinkTypeEthernet:
		if len(frame) < 14 {
			return nil, fmt.Errorf("%w: Ethernet frame of %d bytes", ErrFormat, len(frame))
		}
		return etherPayload(binary.BigEndian.Uint16(frame[12:]), frame[14:])
	case LinkTypeLinuxSLL:
		if len(frame) < 16 {
			return nil, fmt.Errorf("%w: Linux cooked header of %d bytes", ErrFormat, len(frame))
		}
		return etherPayload(binary.BigEndian.Uint16(frame[14:]), frame[16:])
	case LinkTypeLinuxSLL2:
		if len(frame) < 20 {
			return nil, fmt.Errorf("%w: Linux cooked v2 header of %d bytes", ErrFormat, len(frame))
		}
		return etherPayload(binary.BigEndian.Uint16(frame), frame[20:])
	case LinkTypeNull, LinkTypeLoop:
		if len(frame) < 4 {
			return nil, fmt.Errorf("%w: loopback header of %d bytes", ErrFormat, len(frame))
		}
		af := binary.BigEndian.Uint32(frame)
		if linkType == LinkTypeNull && af > 0xffff {
			af = binary.LittleEndian.Uint32(frame) // captured on a little-endian host
		}
		switch af {
		case 2: // AF_INET everywhere
			return frame[4:], nil
		case 10, 24, 28, 30: // AF_INET6 on Linux, the BSDs, FreeBSD, Darwin
			return frame[4:], nil
		}
		return nil, fmt.Errorf("%w: loopback address family %d", ErrNotIP, af)
	}
	return nil, fmt.Errorf("%w %d", ErrLinkType, linkType)
}

// etherPayload returns the IP packet after an EtherType, skipping VLAN
// tags (each a 2-byte tag control field and the next EtherType).
func etherPayload(typ uint16, b []byte) ([]byte, error) {
	for typ == etherVLAN || typ == etherQinQ || typ == etherQinQ9 {
		if len(b) < 4 {
			return nil, fmt.Errorf("%w: VLAN tag cut short", ErrFormat)
		}
		typ, b = binary.BigEndian.Uint16(b[2:]), b[4:]
	}
	if typ != etherIPv4 && typ != etherIPv6 {
		return nil, fmt.Errorf("%w: EtherType %#04x", ErrNotIP, typ)
	}
	return b, nil
}
