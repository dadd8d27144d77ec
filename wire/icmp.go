package wire

import (
	"encoding/binary"
	"net/netip"
)

// ICMPMessage is the meaning of an ICMPv4 (RFC 792) or ICMPv6 (RFC 4443)
// message: what [ICMPMessage.ParseV4] and [ICMPMessage.ParseV6] read and
// what [ICMPMessage.EmitV4] and [ICMPMessage.EmitV6] write back. The two
// families share one layout, type, code, checksum, four bytes whose meaning
// depends on the type, then a body; the type numbers differ. The four bytes
// are kept for the types below only; for every other type they are not kept
// and are written as zero ("unused" in both RFCs).
type ICMPMessage struct {
	// Type and Code are the message type and code of the family's
	// numbering: ICMPv4EchoRequest, ICMPv6PacketTooBig, ...
	Type, Code uint8
	// Ident and SeqNum are the identifier and sequence number of an echo
	// request or reply (RFC 792, RFC 4443 §4).
	Ident, SeqNum uint16
	// MTU is the next-hop MTU of an ICMPv4 fragmentation-needed message
	// (RFC 1191 §4: 16 bits, 0 from older routers) or the MTU of an ICMPv6
	// packet-too-big message (RFC 4443 §3.2).
	MTU uint32
	// Body is the echo data, or for an error message the start of the
	// packet that caused it (see [ICMPInvoking.Parse]). After a parse it
	// aliases the parsed buffer.
	Body []byte
}

// ParseV4 checks b (see [ICMPv4.Check]) and fills m from it, replacing all
// it held; m.Body aliases b. It does not verify the checksum. It returns
// ErrTruncated for a message under 8 bytes and never allocates or panics.
func (m *ICMPMessage) ParseV4(b ICMPv4) error {
	if err := b.Check(); err != nil {
		return err
	}
	*m = ICMPMessage{Type: b.Type(), Code: b.Code(), Body: b.Body()}
	switch {
	case m.Type == ICMPv4EchoRequest || m.Type == ICMPv4EchoReply:
		m.Ident, m.SeqNum = b.Ident(), b.SeqNum()
	case m.Type == ICMPv4DestUnreachable && m.Code == ICMPv4FragmentationNeeded:
		m.MTU = uint32(b.NextHopMTU())
	}
	return nil
}

// ParseV6 is ParseV4 for an ICMPv6 message.
func (m *ICMPMessage) ParseV6(b ICMPv6) error {
	if err := b.Check(); err != nil {
		return err
	}
	*m = ICMPMessage{Type: b.Type(), Code: b.Code(), Body: b.Body()}
	switch m.Type {
	case ICMPv6EchoRequest, ICMPv6EchoReply:
		m.Ident, m.SeqNum = b.Ident(), b.SeqNum()
	case ICMPv6PacketTooBig:
		m.MTU = b.MTU()
	}
	return nil
}

// Len returns the number of bytes EmitV4 and EmitV6 write: the 8-byte
// header and the body.
func (m *ICMPMessage) Len() int { return icmpHeaderLen + len(m.Body) }

// EmitV4 writes m as an ICMPv4 message into out[:m.Len()], checksum
// included, and returns m.Len(). The MTU of a fragmentation-needed message
// is written as its low 16 bits. m.Body may overlap out: it is moved as by
// copy before the header is written. EmitV4 panics only if out is shorter
// than m.Len().
func (m *ICMPMessage) EmitV4(out []byte) int {
	n := m.emit(out)
	switch {
	case m.Type == ICMPv4EchoRequest || m.Type == ICMPv4EchoReply:
		m.putEcho(out)
	case m.Type == ICMPv4DestUnreachable && m.Code == ICMPv4FragmentationNeeded:
		binary.BigEndian.PutUint16(out[icmpSeqNum:], uint16(m.MTU))
	}
	ICMPv4(out[:n]).SetChecksum()
	return n
}

// EmitV6 writes m as an ICMPv6 message sent from src to dst into
// out[:m.Len()], checksum included (see [ICMPv6.SetChecksum]), and returns
// m.Len(). Like EmitV4 it allows m.Body to overlap out and panics only if
// out is too short.
func (m *ICMPMessage) EmitV6(out []byte, src, dst netip.Addr) int {
	n := m.emit(out)
	switch m.Type {
	case ICMPv6EchoRequest, ICMPv6EchoReply:
		m.putEcho(out)
	case ICMPv6PacketTooBig:
		binary.BigEndian.PutUint32(out[icmpRest:], m.MTU)
	}
	ICMPv6(out[:n]).SetChecksum(src, dst)
	return n
}

// emit writes the body, then type and code with the rest of the header
// zeroed, and returns the length.
func (m *ICMPMessage) emit(out []byte) int {
	n := m.Len()
	out = out[:n]
	copy(out[icmpHeaderLen:], m.Body) // first: the body may lie where the header goes
	out[icmpType], out[icmpCode] = m.Type, m.Code
	binary.BigEndian.PutUint16(out[icmpChecksum:], 0)
	binary.BigEndian.PutUint32(out[icmpRest:], 0)
	return n
}

func (m *ICMPMessage) putEcho(out []byte) {
	binary.BigEndian.PutUint16(out[icmpRest:], m.Ident)
	binary.BigEndian.PutUint16(out[icmpSeqNum:], m.SeqNum)
}

// ICMPInvoking is what an ICMP error message quotes of the packet that
// caused it: RFC 792 asks for the IP header and the first 8 bytes of its
// payload, RFC 1812 §4.3.2.3 and RFC 4443 §2.4 (c) for as much as fits. That
// is enough to find the connection concerned: the addresses, the protocol
// and a TCP header's ports and sequence number.
type ICMPInvoking struct {
	// Src and Dst are the quoted packet's addresses: Src is the host that
	// sent it, normally this one.
	Src, Dst netip.Addr
	// Protocol is the quoted packet's transport protocol, after any IPv6
	// extension headers.
	Protocol uint8
	// TotalLen is the quoted packet's length as its header gives it: the
	// IPv4 Total Length, or 40 plus the IPv6 Payload Length. RFC 1191 §5
	// estimates a path MTU from it when a router reports none.
	TotalLen int
	// Transport is the quoted start of the transport header, at least 8
	// bytes, cut at TotalLen. It aliases the parsed buffer.
	Transport []byte
}

// Parse parses body, the body of an ICMP error message, by its IP version
// nibble. It returns ErrTruncated if the quoted IP header, its extension
// headers or the first 8 bytes of the transport header are not all there;
// ErrMalformed for a version other than 4 or 6, an IPv4 header length under
// 20 or a Hop-by-Hop header out of place; and ErrFragment when the quote is
// of a fragment other than the first, which holds no transport header. The
// quoted IPv4 header checksum is not verified: the quote is evidence of what
// was sent, and nothing more is read from it. Parse never allocates or
// panics; on error, p is unspecified.
func (p *ICMPInvoking) Parse(body []byte) error {
	if len(body) == 0 {
		return ErrTruncated
	}
	switch body[0] >> 4 {
	case 4:
		return p.parseV4(IPv4(body))
	case 6:
		return p.parseV6(IPv6(body))
	}
	return ErrMalformed
}

func (p *ICMPInvoking) parseV4(b IPv4) error {
	if len(b) < ipv4HeaderLen {
		return ErrTruncated
	}
	hl := b.HeaderLen()
	if hl < ipv4HeaderLen {
		return ErrMalformed
	}
	if tl := b.TotalLen(); tl >= hl && tl < len(b) {
		b = b[:tl] // bytes after the quoted packet are padding
	}
	if len(b) < hl+8 {
		return ErrTruncated
	}
	if binary.BigEndian.Uint16(b[ipv4FlagsFrag:])&ipv4FragOffset != 0 {
		return ErrFragment
	}
	*p = ICMPInvoking{Src: b.Src(), Dst: b.Dst(), Protocol: b.Protocol(), TotalLen: b.TotalLen(), Transport: b[hl:]}
	return nil
}

func (p *ICMPInvoking) parseV6(b IPv6) error {
	if len(b) < ipv6HeaderLen {
		return ErrTruncated
	}
	if tl := ipv6HeaderLen + b.PayloadLen(); tl < len(b) {
		b = b[:tl]
	}
	nh, rest, err := skipQuotedExtensions(b.NextHeader(), b[ipv6HeaderLen:])
	if err != nil {
		return err
	}
	if len(rest) < 8 {
		return ErrTruncated
	}
	*p = ICMPInvoking{Src: b.Src(), Dst: b.Dst(), Protocol: nh, TotalLen: ipv6HeaderLen + b.PayloadLen(), Transport: rest}
	return nil
}

// skipQuotedExtensions walks the extension headers of a quoted IPv6 packet
// from next header nh over b, and returns the transport protocol and what
// follows. Unlike ParseIP's walk it accepts the first fragment (offset 0),
// and a header cut short by the quote is ErrTruncated.
func skipQuotedExtensions(nh uint8, b []byte) (uint8, []byte, error) {
	// Each extension header is at least 8 bytes long, so the walk ends.
	for first := true; ; first = false {
		n := 0
		switch nh {
		case ipv6HopByHop, ipv6Routing, ipv6DestOpts:
			if nh == ipv6HopByHop && !first {
				return 0, nil, ErrMalformed // RFC 8200 §4.1
			}
			if len(b) < 8 {
				return 0, nil, ErrTruncated
			}
			n = (int(b[1]) + 1) * 8
		case ipv6Fragment:
			// RFC 8200 §4.5: 8 bytes; only the first fragment (offset 0)
			// holds the transport header.
			if len(b) < 8 {
				return 0, nil, ErrTruncated
			}
			if binary.BigEndian.Uint16(b[2:])&^7 != 0 {
				return 0, nil, ErrFragment
			}
			n = 8
		default:
			return nh, b, nil
		}
		if n > len(b) {
			return 0, nil, ErrTruncated
		}
		nh, b = b[0], b[n:]
	}
}

// SrcPort returns the source port of the quoted TCP (or UDP) header. Like
// DstPort and TCPSeq, it is valid only after a successful Parse.
func (p *ICMPInvoking) SrcPort() uint16 { return binary.BigEndian.Uint16(p.Transport[0:]) }

// DstPort returns the destination port of the quoted TCP (or UDP) header.
func (p *ICMPInvoking) DstPort() uint16 { return binary.BigEndian.Uint16(p.Transport[2:]) }

// TCPSeq returns the sequence number of the quoted TCP header, which RFC
// 5927 §4.1 checks against the connection's send window.
func (p *ICMPInvoking) TCPSeq() Seq { return Seq(binary.BigEndian.Uint32(p.Transport[4:])) }
