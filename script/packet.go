package script

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"time"

	"github.com/synack-go/synack/wire"
)

// TCP option kinds on the wire (IANA).
const (
	kindEOL    = 0
	kindNOP    = 1
	kindMSS    = 2
	kindWScale = 3
	kindSACKOK = 4
	kindSACK   = 5
	kindTS     = 8
	kindMD5    = 19
	kindFO     = 34
	kindAccECN = 172 // order 0; 174 is order 1
	kindExp    = 254
)

// rawOpt is one option as found on the wire: its kind and its bytes after
// the kind and length (nil for NOP and EOL).
type rawOpt struct {
	kind byte
	data []byte
}

// encodeOptions writes opts in the written order, with the ts values and
// sack blocks given (already translated).
func encodeOptions(opts []Option) []byte {
	var b []byte
	for _, o := range opts {
		switch o.Kind {
		case OptNOP:
			b = append(b, kindNOP)
		case OptEOL:
			b = append(b, kindEOL)
		case OptMSS:
			b = append(b, kindMSS, 4, byte(o.MSS>>8), byte(o.MSS))
		case OptWScale:
			b = append(b, kindWScale, 3, o.WScale)
		case OptSACKOK:
			b = append(b, kindSACKOK, 2)
		case OptSACK:
			b = append(b, kindSACK, byte(2+8*len(o.SACK)))
			for _, blk := range o.SACK {
				b = binary.BigEndian.AppendUint32(b, blk[0])
				b = binary.BigEndian.AppendUint32(b, blk[1])
			}
		case OptTS:
			b = append(b, kindTS, 10)
			b = binary.BigEndian.AppendUint32(b, o.TSVal)
			b = binary.BigEndian.AppendUint32(b, o.TSEcr)
		case OptMD5:
			b = append(b, kindMD5, byte(2+len(o.Data)))
			b = append(b, o.Data...)
		case OptFO:
			b = append(b, kindFO, byte(2+len(o.Data)))
			b = append(b, o.Data...)
		case OptFOExp:
			b = append(b, kindExp, byte(4+len(o.Data)), 0xf9, 0x89)
			b = append(b, o.Data...)
		case OptECN:
			b = append(b, byte(kindAccECN+2*o.ECNOrder), byte(2+3*len(o.ECNVals)))
			for _, v := range o.ECNVals {
				b = append(b, byte(v>>16), byte(v>>8), byte(v))
			}
		}
	}
	return b
}

// optionsLen is the encoded length of opts.
func optionsLen(opts []Option) int { return len(encodeOptions(opts)) }

// parseRawOptions splits an options area into options, in order. A
// malformed area gives what was read and an error.
func parseRawOptions(b []byte) ([]rawOpt, error) {
	var out []rawOpt
	for len(b) > 0 {
		switch b[0] {
		case kindEOL, kindNOP:
			out = append(out, rawOpt{kind: b[0]})
			b = b[1:]
			continue
		}
		if len(b) < 2 || b[1] < 2 || int(b[1]) > len(b) {
			return out, errors.New("malformed TCP options")
		}
		out = append(out, rawOpt{kind: b[0], data: b[2:b[1]]})
		b = b[b[1]:]
	}
	return out, nil
}

// livePacket is a packet the stack sent, parsed.
type livePacket struct {
	at    time.Duration
	raw   []byte
	v6    bool
	src   netip.Addr
	dst   netip.Addr
	proto byte

	ipHdrLen  int
	totalLen  int
	tos       byte
	ttl       byte
	flowLabel uint32
	ipSumOK   bool
	ipOptions bool

	// TCP
	sport, dport uint16
	seq, ack     uint32
	dataOff      int
	flags        uint8
	ae           bool
	reserved     uint8 // the three reserved bits of byte 12
	win, urg     uint16
	optBytes     []byte
	opts         []rawOpt
	optErr       error
	payload      []byte

	// ICMP
	icmpType, icmpCode byte
}

// ecn is the IP packet's ECN codepoint.
func (p *livePacket) ecn() int { return int(p.tos & 3) }

// parseLive parses an IP packet the stack emitted. It fails for a packet
// that is not a well-formed IPv4 or IPv6 packet; TCP and ICMP are parsed
// further.
func parseLive(raw []byte, at time.Duration) (*livePacket, error) {
	p := &livePacket{at: at, raw: raw}
	if len(raw) < 1 {
		return nil, errors.New("empty packet")
	}
	var l4 []byte
	switch raw[0] >> 4 {
	case 4:
		if len(raw) < 20 {
			return nil, errors.New("short IPv4 header")
		}
		p.ipHdrLen = int(raw[0]&15) * 4
		p.totalLen = int(binary.BigEndian.Uint16(raw[2:]))
		if p.ipHdrLen < 20 || p.totalLen < p.ipHdrLen || p.totalLen > len(raw) {
			return nil, errors.New("bad IPv4 lengths")
		}
		p.tos, p.ttl, p.proto = raw[1], raw[8], raw[9]
		p.src = netip.AddrFrom4([4]byte(raw[12:16]))
		p.dst = netip.AddrFrom4([4]byte(raw[16:20]))
		p.ipSumOK = wire.Fold(wire.Sum(raw[:p.ipHdrLen], 0)) == 0
		p.ipOptions = p.ipHdrLen > 20
		l4 = raw[p.ipHdrLen:p.totalLen]
	case 6:
		if len(raw) < 40 {
			return nil, errors.New("short IPv6 header")
		}
		p.v6 = true
		p.ipHdrLen = 40
		p.totalLen = 40 + int(binary.BigEndian.Uint16(raw[4:]))
		if p.totalLen > len(raw) {
			return nil, errors.New("bad IPv6 payload length")
		}
		p.tos = byte(binary.BigEndian.Uint16(raw[0:]) >> 4)
		p.flowLabel = binary.BigEndian.Uint32(raw[0:]) & 0xfffff
		p.proto, p.ttl = raw[6], raw[7]
		p.src = netip.AddrFrom16([16]byte(raw[8:24]))
		p.dst = netip.AddrFrom16([16]byte(raw[24:40]))
		p.ipSumOK = true
		l4 = raw[40:p.totalLen]
	default:
		return nil, errors.New("not an IP packet")
	}
	switch p.proto {
	case 6:
		if len(l4) < 20 {
			return nil, errors.New("short TCP header")
		}
		p.sport = binary.BigEndian.Uint16(l4[0:])
		p.dport = binary.BigEndian.Uint16(l4[2:])
		p.seq = binary.BigEndian.Uint32(l4[4:])
		p.ack = binary.BigEndian.Uint32(l4[8:])
		p.dataOff = int(l4[12]>>4) * 4
		p.ae = l4[12]&1 != 0
		p.reserved = (l4[12] >> 1) & 7
		p.flags = l4[13]
		p.win = binary.BigEndian.Uint16(l4[14:])
		p.urg = binary.BigEndian.Uint16(l4[18:])
		if p.dataOff < 20 || p.dataOff > len(l4) {
			return nil, errors.New("bad TCP data offset")
		}
		p.optBytes = l4[20:p.dataOff]
		p.opts, p.optErr = parseRawOptions(p.optBytes)
		p.payload = l4[p.dataOff:]
	case 1, 58:
		if len(l4) >= 2 {
			p.icmpType, p.icmpCode = l4[0], l4[1]
		}
		p.payload = l4
	case 17:
		if len(l4) >= 8 {
			p.sport = binary.BigEndian.Uint16(l4[0:])
			p.dport = binary.BigEndian.Uint16(l4[2:])
			p.payload = l4[8:]
		}
	}
	return p, nil
}

// buildIP wraps an L4 payload in an IPv4 or IPv6 header the way packetdrill
// builds inbound packets: IP ID 0, DF clear, TTL 255 unless given.
func buildIP(src, dst netip.Addr, proto byte, tos byte, ttl int, flowLabel int, l4 []byte) []byte {
	if ttl < 0 {
		ttl = 255
	}
	if src.Is4() {
		b := make([]byte, 20+len(l4))
		b[0] = 0x45
		b[1] = tos
		binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
		b[8] = byte(ttl)
		b[9] = proto
		s, d := src.As4(), dst.As4()
		copy(b[12:], s[:])
		copy(b[16:], d[:])
		binary.BigEndian.PutUint16(b[10:], wire.Fold(wire.Sum(b[:20], 0)))
		copy(b[20:], l4)
		return b
	}
	b := make([]byte, 40+len(l4))
	fl := uint32(0)
	if flowLabel > 0 {
		fl = uint32(flowLabel)
	}
	binary.BigEndian.PutUint32(b[0:], 6<<28|uint32(tos)<<20|fl)
	binary.BigEndian.PutUint16(b[4:], uint16(len(l4)))
	b[6] = proto
	b[7] = byte(ttl)
	s, d := src.As16(), dst.As16()
	copy(b[8:], s[:])
	copy(b[24:], d[:])
	copy(b[40:], l4)
	return b
}

// tcpHeader is what buildTCP puts in a TCP header.
type tcpHeader struct {
	sport, dport uint16
	seq, ack     uint32
	flags        uint8
	ae           bool
	win, urg     uint16
	opts         []byte
	payloadLen   int
}

// buildTCP returns the TCP segment (zero payload) with its checksum for
// src and dst.
func buildTCP(src, dst netip.Addr, h *tcpHeader) []byte {
	hl := 20 + len(h.opts)
	b := make([]byte, hl+h.payloadLen)
	binary.BigEndian.PutUint16(b[0:], h.sport)
	binary.BigEndian.PutUint16(b[2:], h.dport)
	binary.BigEndian.PutUint32(b[4:], h.seq)
	binary.BigEndian.PutUint32(b[8:], h.ack)
	b[12] = byte(hl/4) << 4
	if h.ae {
		b[12] |= 1
	}
	b[13] = h.flags
	binary.BigEndian.PutUint16(b[14:], h.win)
	binary.BigEndian.PutUint16(b[18:], h.urg)
	copy(b[20:], h.opts)
	wire.TCP(b).SetChecksum(src, dst)
	return b
}
