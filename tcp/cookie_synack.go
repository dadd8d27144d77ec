package tcp

import (
	"net/netip"
	"time"

	"github.com/synack-go/synack/wire"
)

// SynAck fills out with the SYN-ACK that answers syn (sent from remote to
// local) without keeping any state, its initial sequence number a SYN
// cookie: RFC 4987 §3.6. It offers what a TCB made with cfg would: the MSS
// of cfg, and, only when the SYN carried timestamps (whose TSval then
// encodes them, see Make), window scale with the shift every TCB uses,
// SACK-permitted and timestamps, each unless cfg turns it off. tsOffset is
// the stack's RFC 7323 clock offset, the one its TCBs are given with
// SetTSOffset, so that the TSval is on their clock. The window is 65535,
// unscaled as in every SYN-ACK (RFC 7323 §2.2).
// https://www.rfc-editor.org/rfc/rfc4987#section-3.6
func (c *SynCookies) SynAck(cfg *Config, local, remote netip.AddrPort, syn *wire.TCPSegment,
	now time.Duration, tsOffset uint32, out *wire.TCPSegment) {
	tsNow := uint32(now/time.Millisecond) + tsOffset // TCB.tsNow's clock
	iss, tsVal := c.Make(local, remote, syn, now, tsNow)
	*out = wire.TCPSegment{SrcPort: local.Port(), DstPort: remote.Port(), Seq: iss, Ack: syn.Seq + 1,
		Flags: wire.SYN | wire.ACK, Window: 65535}
	out.Options.MSS = uint16(min(cfg.mss(), 65535))
	if syn.Options.HasTS && !cfg.DisableTimestamps {
		out.Options.HasTS, out.Options.TSVal, out.Options.TSEcr = true, tsVal, syn.Options.TSVal
		if syn.Options.HasWScale && !cfg.DisableWindowScale {
			out.Options.HasWScale, out.Options.WScale = true, cfg.WindowScale()
		}
		out.Options.SACKPermitted = syn.Options.SACKPermitted && !cfg.DisableSACK
	}
}
