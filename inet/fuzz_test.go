package inet

import (
	"testing"
	"time"

	"github.com/synack-go/synack/wire"
)

// pattern is the byte at payload offset i of the datagram with the given
// id in FuzzReassembly: fragments are cut from it, so a datagram put back
// right reads the pattern again.
func pattern(id uint32, i int) byte { return byte(i*7 + int(id)) }

// FuzzReassembly feeds a reassembler fragments described by the input, 5
// bytes each: family and ID, offset, length, flags. Properties: no panic;
// memory within the cap; every datagram completed reads its pattern; after
// the timeouts nothing is held.
func FuzzReassembly(f *testing.F) {
	f.Add([]byte{0, 0, 0, 2, 1, 0, 0, 2, 1, 0})
	f.Add([]byte{1, 0, 0, 4, 1, 1, 0, 4, 0, 0, 1, 0, 2, 4, 1})
	f.Add([]byte{0, 0, 0, 3, 1, 0, 0, 1, 3, 1, 0, 0, 1, 1, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		const limit = 16 << 10
		ra := NewReassembler(ReassemblyConfig{MaxBytes: limit, MaxFragments: 16})
		now := time.Duration(0)
		for ; len(data) >= 5; data = data[5:] {
			v6, id := data[0]&1 != 0, uint32(data[0]>>1&3)
			off := int(data[1]) * 8
			n := int(data[2]) * 8
			if data[3]&1 != 0 { // an odd length now and then
				n += int(data[3] >> 1 & 7)
			}
			more := data[4]&1 != 0
			now += time.Duration(data[4]>>1) * time.Second
			payload := make([]byte, n)
			for i := range payload {
				payload[i] = pattern(id, off+i)
			}
			var pkt []byte
			if v6 {
				pkt = frag6(id, wire.ProtoUDP, off, more, payload)
			} else {
				pkt = frag4(uint16(id), off, more, payload)
			}
			var p wire.IPPacket
			err := wire.ParseIP(pkt, &p)
			if err != wire.ErrFragment {
				continue // offset 0 without M: a whole packet
			}
			whole := ra.Add(pkt, &p, now)
			if ra.Memory() > limit {
				t.Fatalf("memory %d over %d", ra.Memory(), limit)
			}
			if whole == nil {
				continue
			}
			var w wire.IPPacket
			if err := wire.ParseIP(whole, &w); err != nil {
				t.Fatalf("reassembled packet does not parse: %v", err)
			}
			for i, b := range w.Payload {
				if b != pattern(id, i) {
					t.Fatalf("reassembled byte %d = %d, want %d", i, b, pattern(id, i))
				}
			}
		}
		ra.Expire(now + time.Hour)
		if ra.Memory() != 0 || ra.Pending() != 0 {
			t.Fatalf("after the timeouts: memory %d pending %d", ra.Memory(), ra.Pending())
		}
	})
}
