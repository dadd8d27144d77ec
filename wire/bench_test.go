package wire

import (
	"testing"
)

// benchSegment is a full-sized data segment as Linux sends it in bulk:
// timestamps, one SACK block, 1448 bytes of data.
func benchSegment() TCPSegment {
	return TCPSegment{SrcPort: 443, DstPort: 51000, Seq: 1e9, Ack: 2e9, Flags: PSH | ACK, Window: 501,
		Options: TCPOptions{HasTS: true, TSVal: 123456, TSEcr: 654321, NumSACK: 1, SACK: [4]SACKBlock{{100, 200}}},
		Payload: make([]byte, 1448)}
}

func BenchmarkTCPParse(b *testing.B) {
	seg := benchSegment()
	buf := make([]byte, seg.Len())
	seg.Emit(buf)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	var s TCPSegment
	for b.Loop() {
		if err := s.Parse(TCP(buf)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTCPEmit(b *testing.B) {
	seg := benchSegment()
	buf := make([]byte, seg.Len())
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		seg.Emit(buf)
	}
}

func BenchmarkChecksum1500(b *testing.B) { benchmarkChecksum(b, 1500) }

func BenchmarkChecksum64K(b *testing.B) { benchmarkChecksum(b, 65495) }

func benchmarkChecksum(b *testing.B, n int) {
	buf := make([]byte, n)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	var sink uint16
	for b.Loop() {
		sink += Fold(Sum(buf, 0))
	}
	_ = sink
}

func BenchmarkParseIP(b *testing.B) {
	seg := benchSegment()
	for _, tc := range []struct {
		name string
		pkt  []byte
	}{
		{"IPv4", buildPacket(v4a, v4b, &seg, 64)},
		{"IPv6", buildPacket(v6a, v6b, &seg, 64)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			var p IPPacket
			for b.Loop() {
				if err := ParseIP(tc.pkt, &p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestZeroAllocs(t *testing.T) {
	seg := benchSegment()
	pkt4 := buildPacket(v4a, v4b, &seg, 64)
	pkt6 := buildPacket(v6a, v6b, &seg, 64)
	buf := make([]byte, seg.Len())
	var s TCPSegment
	var p IPPacket
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"TCPSegment.Parse", func() { _ = s.Parse(TCP(pkt4[20:])) }},
		{"TCPSegment.Emit", func() { seg.Emit(buf) }},
		{"ParseIP v4", func() { _ = ParseIP(pkt4, &p) }},
		{"ParseIP v6", func() { _ = ParseIP(pkt6, &p) }},
		{"PutIPHeader", func() { PutIPHeader(buf, v6a, v6b, ProtoTCP, 100, 64); PutIPHeader(buf, v4a, v4b, ProtoTCP, 100, 64) }},
		{"SetChecksum", func() { TCP(pkt6[40:]).SetChecksum(v6a, v6b) }},
		{"VerifyChecksum", func() { _ = TCP(pkt4[20:]).VerifyChecksum(v4a, v4b) }},
		{"TCPFlags.String", func() { _ = (PSH | ACK).String() }},
	} {
		if n := testing.AllocsPerRun(100, tc.f); n != 0 {
			t.Errorf("%s: %v allocs per run, want 0", tc.name, n)
		}
	}
}
