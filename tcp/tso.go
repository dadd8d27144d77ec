package tcp

import (
	"math"
	"time"

	"github.com/synack-go/synack/wire"
)

// TCP segmentation offload at the TCB. On a link that cuts large segments
// into MSS-sized ones (TSO, or the in-memory link's offload mode), the TCB
// emits one segment of up to the size the runtime allows (SetTSO) where
// it would emit many, and keeps one transmit record for it: the per-packet
// work of sending and of the record (rate snapshot, time-ordered list) is
// done once per TSO packet, as Linux does it once per skb. What goes on
// the wire is the same segments: the link gives each the header, its
// sequence number, and PSH and FIN on the last only (Linux's
// tcp_gso_segment). The record splits where recovery needs it
// (txsplit.go).

// A TSOEmitter is an Emitter whose link cuts a segment larger than the MSS
// into segments of size payload bytes, the last possibly shorter, each
// with seg's header (TCP segmentation offload). seg and its payload are
// valid only until EmitTSO returns.
type TSOEmitter interface {
	Emitter
	EmitTSO(seg *wire.TCPSegment, size int)
}

// SetTSO lets the next Polls emit data segments of up to size payload
// bytes (in whole segments; less than two segments is none) to an
// Emitter that is a TSOEmitter; 0, the default, emits segments of at most
// the MSS. A runtime whose link has TSO calls it before each Poll with the
// size it wants (as Linux's tcp_tso_autosize: about a millisecond of the
// pacing rate). With another Emitter, segments are cut to the MSS.
func (t *TCB) SetTSO(size int) { t.snd.tso = uint32(min(max(size, 0), maxTSO)) }

// maxTSO bounds SetTSO: the IPv4 total length's limit, which no TSO packet
// passes.
const maxTSO = 65535

// tsoLen is how much of the data sendNew may send now goes in one TSO
// segment, given that a full segment of seg bytes may go (it passed every
// test): whole segments as far as the windows, the pacer and SetTSO allow,
// and the short tail of the buffered data when it would go alone right
// after them (Nagle, TCP_CORK and the window permitting). avail is the
// data buffered from SND.NXT, usable what the peer's window takes.
func (t *TCB) tsoLen(now time.Duration, seg, avail, usable uint32) uint32 {
	most := min(t.snd.tso, t.paceBudget(now, seg)) / seg * seg
	if most < 2*seg {
		return seg
	}
	room := t.cwndRoom()
	lim := min(avail, usable, most)
	n := max(min(lim, room)/seg*seg, seg)
	if tail := avail - n; n < avail && lim == avail && tail < seg &&
		!t.nagleHolds() && !t.corked() && t.roomFor(room-min(room, n), tail) {
		n = avail
	}
	return n
}

// paceBudget is how many bytes the pacer lets go back to back now, in
// whole segments of seg bytes: as many as sendNew would send one by one,
// each while its departure is within paceSlack of now (paced).
func (t *TCB) paceBudget(now time.Duration, seg uint32) uint32 {
	p := &t.xs.pace
	if p.rate == 0 {
		return math.MaxUint32
	}
	ahead := now + paceSlack - p.departure(now)
	if ahead < 0 {
		return seg
	}
	b := mulDiv64(uint64(ahead), p.rate, uint64(time.Second))
	return uint32(min(b/uint64(seg)+1, math.MaxUint32/uint64(seg))) * seg
}

// segsOf is how many segments of seg bytes n bytes of payload make.
func segsOf(n, seg uint32) uint32 { return max((n+seg-1)/seg, 1) }
