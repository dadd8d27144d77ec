package pcap

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"
	"time"
)

// FuzzReader throws arbitrary bytes at the Reader and at IP: they must
// return errors, never panic, never return more data than the file holds,
// and stop (the file is finite).
func FuzzReader(f *testing.F) {
	ts := time.Unix(1_700_000_000, 5000)
	p := udp4(1, "fuzz")
	eth := append(make([]byte, 12), 0x81, 0x00, 0, 1, 0x08, 0x00)
	eth = append(eth, p...)
	f.Add(classicFile(binary.LittleEndian, false, LinkTypeRaw, []rec{{ts: ts, data: p}}))
	f.Add(classicFile(binary.BigEndian, true, LinkTypeEthernet, []rec{{ts: ts, data: eth}, {ts: ts, data: eth[:20], orig: len(eth)}}))
	f.Add(classicFile(binary.LittleEndian, false, LinkTypeLinuxSLL2, []rec{{ts: ts, data: append(make([]byte, 20), p...)}}))
	for _, order := range []byteOrder{binary.LittleEndian, binary.BigEndian} {
		w := &ngWriter{order: order}
		w.shb()
		w.idb(LinkTypeEthernet, 0, 9, 100)
		w.idb(LinkTypeNull, 64, 0x80|20, 0)
		w.epb(0, 123456789, eth, len(eth))
		w.epb(1, 1<<40, append([]byte{2, 0, 0, 0}, p...), 100)
		w.spb(eth, len(eth))
		w.pb(1, 7, p)
		w.shb()
		w.idb(LinkTypeLinuxSLL, 0, -1, 0)
		w.epb(0, 1, append(make([]byte, 16), p...), 0)
		f.Add(w.b)
	}
	f.Fuzz(func(t *testing.T, file []byte) {
		r, err := NewReader(bytes.NewReader(file))
		if err != nil {
			return
		}
		for range len(file) + 1 { // each packet consumes at least a byte
			pkt, err := r.Next()
			if err != nil {
				if err == io.EOF && r.off != int64(len(file)) {
					t.Fatalf("io.EOF at offset %d of %d", r.off, len(file))
				}
				return
			}
			if len(pkt.Data) > len(file) || pkt.OrigLen < len(pkt.Data) {
				t.Fatalf("packet of %d bytes (%d on the wire) from a file of %d", len(pkt.Data), pkt.OrigLen, len(file))
			}
			if ip, err := IP(pkt.LinkType, pkt.Data); err == nil && len(ip) > len(pkt.Data) {
				t.Fatalf("IP returned %d bytes of a %d-byte frame", len(ip), len(pkt.Data))
			}
		}
		t.Fatal("Reader did not stop")
	})
}
