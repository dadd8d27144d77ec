package tcp

import "github.com/synack-go/synack/wire"

// ReplyRST fills out with the reset RFC 9293 §3.10.7.1 sends for seg, a
// segment that reached no connection (state CLOSED), and reports whether one
// is due: never for a RST; for a segment with ACK, <SEQ=SEG.ACK><CTL=RST>;
// otherwise <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
func ReplyRST(seg *wire.TCPSegment, out *wire.TCPSegment) bool {
	if seg.Flags&wire.RST != 0 {
		return false
	}
	*out = wire.TCPSegment{SrcPort: seg.DstPort, DstPort: seg.SrcPort}
	if seg.Flags&wire.ACK != 0 {
		out.Seq = seg.Ack
		out.Flags = wire.RST
		return true
	}
	out.Ack = seg.Seq.Add(seg.SeqLen())
	out.Flags = wire.RST | wire.ACK
	return true
}
