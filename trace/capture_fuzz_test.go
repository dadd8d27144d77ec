package trace

import (
	"encoding/binary"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/synack-go/synack/wire"
)

// FuzzCapture feeds a Capture arbitrary segment streams between up to four
// endpoints and draws them: no panic, one SegmentOut per segment, and the
// renderers accept whatever the inference made of it.
func FuzzCapture(f *testing.F) {
	// Each segment is 11 bytes: ends, flags, seq, ack, payload length.
	enc := func(steps ...[5]uint32) []byte {
		var b []byte
		for _, s := range steps {
			b = append(b, byte(s[0]), byte(s[1]))
			b = binary.BigEndian.AppendUint32(b, s[2])
			b = binary.BigEndian.AppendUint32(b, s[3])
			b = append(b, byte(s[4]))
		}
		return b
	}
	f.Add(enc([5]uint32{0, 0x02, 100, 0, 0}, [5]uint32{1, 0x12, 500, 101, 0}, [5]uint32{0, 0x10, 101, 501, 0},
		[5]uint32{0, 0x11, 101, 501, 0}, [5]uint32{1, 0x11, 501, 102, 0}, [5]uint32{0, 0x10, 102, 502, 0}))
	f.Add(enc([5]uint32{0, 0x02, 1, 0, 0}, [5]uint32{1, 0x02, 9, 0, 0}, [5]uint32{0, 0x12, 1, 10, 0}, [5]uint32{1, 0x04, 10, 0, 0}))
	f.Add(enc([5]uint32{2, 0x18, 7, 9, 40}, [5]uint32{3, 0x14, 9, 47, 0}, [5]uint32{2, 0x02, 7, 0, 0}))
	eps := [4]netip.AddrPort{cli4, srv4, netip.MustParseAddrPort("10.0.0.3:5"), netip.MustParseAddrPort("10.0.0.2:80")}
	f.Fuzz(func(t *testing.T, stream []byte) {
		var c Capture
		t0 := time.Unix(0, 0)
		n := 0
		for i := 0; i+11 <= len(stream) && n < 200; i += 11 {
			b := stream[i:]
			from := eps[b[0]%4]
			to := eps[(b[0]>>2)%4]
			if from == to {
				to = eps[(b[0]%4+1)%4]
			}
			seg := wire.TCPSegment{Flags: wire.TCPFlags(b[1]), Seq: wire.Seq(binary.BigEndian.Uint32(b[2:])),
				Ack: wire.Seq(binary.BigEndian.Uint32(b[6:])), Window: 100, Payload: make([]byte, b[10])}
			if err := c.Add(t0.Add(time.Duration(i)*time.Millisecond), ipPacket(from, to, seg), 0); err != nil {
				t.Fatal(err)
			}
			n++
		}
		events := c.Events()
		outs := 0
		for _, e := range events {
			if e.Kind == SegmentOut {
				outs++
			}
		}
		if outs != n {
			t.Fatalf("%d SegmentOut events for %d segments", outs, n)
		}
		if n == 0 {
			return
		}
		for _, draw := range []func(io.Writer, []Event, LadderOptions) error{WriteLadder, WriteSVG, WriteHTML} {
			if err := draw(io.Discard, events, LadderOptions{Times: true}); err != nil {
				t.Fatal(err)
			}
		}
		tx := NewText(io.Discard, TextOptions{FromISN: true})
		for i := range events {
			tx.Trace(&events[i])
		}
	})
}
