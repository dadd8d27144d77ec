package script

import (
	"encoding/binary"
	"net/netip"

	"github.com/synack-go/synack/wire"
)

// icmp builds the ICMP message of an inbound icmp line: an error about a
// segment the stack sent on the connection under test, quoting its IP
// header and TCP header (or UDP header) with the sequence number
// translated as on an outbound line.
func (r *runner) icmp(ev *Event) (proto byte, l4 []byte, err error) {
	pk := ev.Packet
	v6 := r.cfg.LocalIP.Is6()
	tn, cn := icmpTypes[pk.ICMPType], icmpNum{0, 0}
	if pk.ICMPCode != "" {
		cn = icmpCodes[pk.ICMPCode]
	}
	typ, code := tn.v4, cn.v4
	proto = 1
	if v6 {
		typ, code, proto = tn.v6, cn.v6, 58
	}
	if typ < 0 || code < 0 {
		fam := "IPv4"
		if v6 {
			fam = "IPv6"
		}
		return 0, nil, r.errorf(ev.Line, "ICMP %s %s has no %s equivalent", pk.ICMPType, pk.ICMPCode, fam)
	}
	// The quoted datagram, as the stack sent it.
	c := r.outConn()
	var lport, rport uint16 = r.cfg.BindPort, r.cfg.ConnectPort
	var isn uint32
	if c != nil {
		lport, rport, isn = c.lport, c.rport, c.localISN
	}
	var l4q []byte
	qproto := byte(6)
	if pk.QuoteUDP {
		qproto = 17
		l4q = make([]byte, 8)
		binary.BigEndian.PutUint16(l4q[0:], lport)
		binary.BigEndian.PutUint16(l4q[2:], rport)
		binary.BigEndian.PutUint16(l4q[4:], uint16(8+pk.QuoteLen))
	} else {
		l4q = make([]byte, 20)
		binary.BigEndian.PutUint16(l4q[0:], lport)
		binary.BigEndian.PutUint16(l4q[2:], rport)
		binary.BigEndian.PutUint32(l4q[4:], pk.QuoteSeq+isn)
		if c != nil {
			binary.BigEndian.PutUint32(l4q[8:], c.remoteISN+1)
		}
		l4q[12] = 5 << 4
		l4q[13] = flagACK
	}
	quote := buildIP(r.cfg.LocalIP, r.cfg.RemoteIP, qproto, 0, 64, -1, l4q)
	// The quoted header says how long the datagram was.
	full := len(quote) + pk.QuoteLen
	if v6 {
		binary.BigEndian.PutUint16(quote[4:], uint16(full-40))
	} else {
		binary.BigEndian.PutUint16(quote[2:], uint16(full))
		quote[6] = 0x40 // DF, as the stack sends
		quote[10], quote[11] = 0, 0
		binary.BigEndian.PutUint16(quote[10:], wire.Fold(wire.Sum(quote[:20], 0)))
	}
	l4 = make([]byte, 8+len(quote))
	l4[0], l4[1] = byte(typ), byte(code)
	if pk.MTU > 0 {
		if v6 {
			binary.BigEndian.PutUint32(l4[4:], uint32(pk.MTU))
		} else {
			binary.BigEndian.PutUint16(l4[6:], uint16(pk.MTU))
		}
	}
	copy(l4[8:], quote)
	var acc uint64
	if v6 {
		acc = wire.PseudoHeaderSum(r.cfg.RemoteIP, r.cfg.LocalIP, 58, len(l4))
	}
	binary.BigEndian.PutUint16(l4[2:], wire.Fold(wire.Sum(l4, acc)))
	return proto, l4, nil
}

// udpChecksum is the checksum of a UDP datagram whose checksum field is 0.
func udpChecksum(src, dst netip.Addr, l4 []byte) uint16 {
	cs := wire.Fold(wire.Sum(l4, wire.PseudoHeaderSum(src, dst, 17, len(l4))))
	if cs == 0 {
		cs = 0xffff
	}
	return cs
}
