package wire

import (
	"bytes"
	"net/netip"
	"testing"
)

func udpSeeds() [][]byte {
	var seeds [][]byte
	for _, d := range []UDPDatagram{
		{SrcPort: 53, DstPort: 40000, Payload: []byte("\x12\x34\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00")},
		{SrcPort: 40000, DstPort: 443, Payload: bytes.Repeat([]byte{0xc3}, 1200)},
		{SrcPort: 1, DstPort: 2},
	} {
		b := make([]byte, d.Len())
		d.Emit(b, v4a, v4b)
		seeds = append(seeds, b)
	}
	return append(seeds, []byte{0, 1, 0, 2, 0, 7, 0, 0}, []byte{0, 1, 0, 2, 0xff, 0xff, 0, 0, 1}, make([]byte, 7))
}

func FuzzUDPParse(f *testing.F) {
	for _, s := range udpSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b := UDP(data)
		_ = b.VerifyChecksum(v4a, v4b) // never panics, checked or not
		_ = b.VerifyChecksum(v6a, v6b)
		var d UDPDatagram
		if err := d.Parse(b); err != nil {
			return
		}
		_ = b.SrcPort() + b.DstPort() + b.Checksum()
		if b.Length() < UDPHeaderLen || b.Length() > len(b) || len(d.Payload) != b.Length()-UDPHeaderLen ||
			(len(d.Payload) > 0 && !contains(data, d.Payload)) {
			t.Fatalf("inconsistent view: length %d payload %d len %d", b.Length(), len(d.Payload), len(b))
		}
		// Emit of the parsed meaning parses back the same, with a
		// checksum that verifies in both families and is never zero.
		for _, fam := range [][2]netip.Addr{{v4a, v4b}, {v6a, v6b}} {
			out := make([]byte, d.Len())
			if n := d.Emit(out, fam[0], fam[1]); n != len(out) {
				t.Fatalf("Emit = %d, Len = %d", n, len(out))
			}
			var back UDPDatagram
			if err := back.Parse(UDP(out)); err != nil || back.SrcPort != d.SrcPort || back.DstPort != d.DstPort ||
				!bytes.Equal(back.Payload, d.Payload) {
				t.Fatalf("round trip: %v %+v", err, back)
			}
			if UDP(out).Checksum() == 0 || !UDP(out).VerifyChecksum(fam[0], fam[1]) {
				t.Fatalf("checksum %#04x does not verify", UDP(out).Checksum())
			}
		}
	})
}

func FuzzIPv6FragmentHeader(f *testing.F) {
	f.Add([]byte{17, 0, 0x05, 0xc9, 0, 0, 0, 1})
	f.Add([]byte{6, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var h IPv6FragmentHeader
		if h.Parse(data) != nil {
			return
		}
		if h.Offset%8 != 0 || h.Offset > 65528 {
			t.Fatalf("offset %d", h.Offset)
		}
		var out [8]byte
		h.Emit(out[:])
		var back IPv6FragmentHeader
		if back.Parse(out[:]) != nil || back != h {
			t.Fatalf("round trip: %+v vs %+v", back, h)
		}
	})
}
