package wire

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
)

// normalized returns what o reads back as after Emit and Parse: SACK blocks
// that do not fit are dropped and fields of absent options are zero.
func normalized(o TCPOptions) TCPOptions {
	_, k := o.layout()
	o.NumSACK = k
	for i := k; i < MaxSACKBlocks; i++ {
		o.SACK[i] = SACKBlock{}
	}
	if !o.HasWScale {
		o.WScale = 0
	}
	if !o.HasTS {
		o.TSVal, o.TSEcr = 0, 0
	}
	return o
}

// segDiff describes how two segments differ in meaning, or returns "".
func segDiff(got, want *TCPSegment) string {
	type hdr struct {
		SrcPort, DstPort uint16
		Seq, Ack         Seq
		Flags            TCPFlags
		Window, Urgent   uint16
		Options          TCPOptions
	}
	g := hdr{got.SrcPort, got.DstPort, got.Seq, got.Ack, got.Flags, got.Window, got.Urgent, got.Options}
	w := hdr{want.SrcPort, want.DstPort, want.Seq, want.Ack, want.Flags, want.Window, want.Urgent, want.Options}
	if g != w {
		return fmt.Sprintf("got  %+v\nwant %+v", g, w)
	}
	if !bytes.Equal(got.Payload, want.Payload) {
		return fmt.Sprintf("payload: got %x, want %x", got.Payload, want.Payload)
	}
	return ""
}

// randOptions returns random options, including out-of-range NumSACK now
// and then.
func randOptions(r *rand.Rand) TCPOptions {
	var o TCPOptions
	if r.IntN(2) == 0 {
		o.MSS = uint16(r.Uint32())
	}
	if r.IntN(2) == 0 {
		o.HasWScale, o.WScale = true, uint8(r.IntN(15))
	}
	o.SACKPermitted = r.IntN(2) == 0
	if r.IntN(2) == 0 {
		o.HasTS, o.TSVal, o.TSEcr = true, r.Uint32(), r.Uint32()
	}
	o.NumSACK = r.IntN(MaxSACKBlocks + 1)
	if r.IntN(20) == 0 {
		o.NumSACK = r.IntN(20) - 10
	}
	for i := range o.SACK {
		if i < o.NumSACK {
			l := Seq(r.Uint32())
			o.SACK[i] = SACKBlock{l, l.Add(r.Uint32N(65536))}
		}
	}
	return o
}

// randSegment returns a random segment with up to maxPayload bytes of data.
func randSegment(r *rand.Rand, maxPayload int) TCPSegment {
	s := TCPSegment{
		SrcPort: uint16(r.Uint32()),
		DstPort: uint16(r.Uint32()),
		Seq:     Seq(r.Uint32()),
		Ack:     Seq(r.Uint32()),
		Flags:   TCPFlags(r.Uint32()),
		Window:  uint16(r.Uint32()),
		Urgent:  uint16(r.Uint32()),
		Options: randOptions(r),
	}
	if n := r.IntN(maxPayload + 1); n > 0 {
		s.Payload = make([]byte, n)
		for i := range s.Payload {
			s.Payload[i] = byte(r.Uint32())
		}
	}
	return s
}

// randAddrs returns a random source and destination of one family.
func randAddrs(r *rand.Rand, v6 bool) (src, dst netip.Addr) {
	var a, b [16]byte
	for i := range a {
		a[i], b[i] = byte(r.Uint32()), byte(r.Uint32())
	}
	if v6 {
		a[0], b[0] = 0x20, 0x20 // not IPv4-mapped
		return netip.AddrFrom16(a), netip.AddrFrom16(b)
	}
	return netip.AddrFrom4([4]byte(a[:4])), netip.AddrFrom4([4]byte(b[:4]))
}

// buildPacket returns an IP packet from src to dst carrying seg, with the
// TCP checksum set.
func buildPacket(src, dst netip.Addr, seg *TCPSegment, ttl uint8) []byte {
	hl := IPHeaderLen(dst)
	pkt := make([]byte, hl+seg.Len())
	PutIPHeader(pkt, src, dst, ProtoTCP, seg.Len(), ttl)
	seg.Emit(pkt[hl:])
	TCP(pkt[hl:]).SetChecksum(src, dst)
	return pkt
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

func mustHex(s string) []byte {
	var out []byte
	var hi byte
	half := false
	for _, c := range []byte(s) {
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		default:
			continue // spaces and separators
		}
		if half {
			out = append(out, hi<<4|v)
		} else {
			hi = v
		}
		half = !half
	}
	if half {
		panic("odd hex digits in " + s)
	}
	return out
}
