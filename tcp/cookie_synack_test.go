package tcp

import (
	"net/netip"
	"testing"
	"time"

	"github.com/synack-go/synack/wire"
)

// segs collects what a TCB emits.
type segs []wire.TCPSegment

func (s *segs) Emit(seg *wire.TCPSegment) { *s = append(*s, *seg) }

// TestSynAckMatchesTCB: a cookie SYN-ACK offers what a TCB's own SYN-ACK
// offers for the same SYN and configuration (only the sequence number and
// TSval, which carry the cookie, differ; without timestamps there is
// nowhere to keep window scale and SACK, so a cookie offers neither, as
// Linux's), and the cookie's ACK opens a TCB.
func TestSynAckMatchesTCB(t *testing.T) {
	c := NewSynCookies([32]byte{3})
	local := netip.MustParseAddrPort("10.0.0.2:80")
	remote := netip.MustParseAddrPort("10.0.0.1:40000")
	full := wire.TCPOptions{MSS: 1460, HasWScale: true, WScale: 9, SACKPermitted: true, HasTS: true, TSVal: 1000}
	for _, tc := range []struct {
		name string
		syn  wire.TCPOptions
		cfg  Config
	}{
		{"every option", full, Config{MSS: 1400}},
		{"no timestamps: MSS only", wire.TCPOptions{MSS: 1460, HasWScale: true, WScale: 9, SACKPermitted: true}, Config{MSS: 1400}},
		{"SACK off", full, Config{MSS: 1400, DisableSACK: true}},
		{"window scale off", full, Config{MSS: 1400, DisableWindowScale: true}},
		{"timestamps off", full, Config{MSS: 1400, DisableTimestamps: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			syn := &wire.TCPSegment{SrcPort: remote.Port(), DstPort: local.Port(), Seq: 5000, Flags: wire.SYN, Window: 64240, Options: tc.syn}
			now := 3 * time.Second
			const tsOffset = 777
			var sa wire.TCPSegment
			c.SynAck(&tc.cfg, local, remote, syn, now, tsOffset, &sa)

			tcb := New(&tc.cfg, local.Port(), remote.Port())
			tcb.SetTSOffset(tsOffset)
			tcb.Listen(1)
			tcb.Input(syn, now)
			var out segs
			tcb.Poll(now, &out)
			if len(out) != 1 || out[0].Flags != wire.SYN|wire.ACK {
				t.Fatalf("TCB sent %+v", out)
			}
			want := out[0]
			got := sa
			if got.Options.HasTS {
				// The cookie's TSval is the clock with its low bits spent on
				// the options, never ahead of it.
				if d := int32(want.Options.TSVal - got.Options.TSVal); d < 0 || d >= 64 {
					t.Fatalf("TSval %d, the TCB's %d", got.Options.TSVal, want.Options.TSVal)
				}
				got.Options.TSVal = want.Options.TSVal
			}
			got.Seq = want.Seq
			if !want.Options.HasTS {
				want.Options.HasWScale, want.Options.WScale, want.Options.SACKPermitted = false, 0, false
			}
			if got.Options != want.Options || got.Ack != want.Ack || got.SrcPort != want.SrcPort || got.DstPort != want.DstPort {
				t.Fatalf("cookie SYN-ACK %+v\nTCB's SYN-ACK    %+v", got, want)
			}

			// The client's ACK opens a TCB through the cookie.
			ack := cookieACK(syn, sa.Seq, sa.Options.TSVal)
			ack.Window = 502
			opts, ok := c.Check(local, remote, ack, now+time.Second)
			if !ok {
				t.Fatal("the cookie does not check")
			}
			est := New(&tc.cfg, local.Port(), remote.Port())
			est.SetTSOffset(tsOffset)
			est.OpenFromCookie(ack, &opts, now+time.Second)
			if !est.Established() {
				t.Fatalf("state %v", est.State())
			}
		})
	}
}
