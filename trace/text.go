package trace

import (
	"io"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/synack-go/synack/wire"
)

// TimeFormat chooses the time stamp that starts each line of a [Text].
type TimeFormat uint8

// The time stamp formats.
const (
	// TimeRelative prints the seconds since the first event the Text
	// printed, with six decimals ("0.000123"), as tcpdump -ttttt does in
	// another layout. Events of another stack whose clock started later can
	// print a negative time. It is the zero value.
	TimeRelative TimeFormat = iota
	// TimeStack prints Event.At, the seconds since the event's stack
	// started, with six decimals.
	TimeStack
	// TimeNone prints no time stamp, as tcpdump -t.
	TimeNone
)

// SegmentFilter chooses which segment events a [Text] prints.
//
// A Text cannot tell that two events are the same segment: when one tracer
// watches both ends of a link and prints every segment event, each segment
// appears twice, once as it leaves one stack and once as it enters the other.
// To see each segment once, print [OutSegments] of both stacks (as a capture
// on the wire between them would), or [BothSegments] of one stack (as
// tcpdump on that host would).
type SegmentFilter uint8

// The segment filters.
const (
	// BothSegments prints SegmentIn and SegmentOut events. It is the zero
	// value.
	BothSegments SegmentFilter = iota
	// OutSegments prints SegmentOut events only.
	OutSegments
	// InSegments prints SegmentIn events only.
	InSegments
	// NoSegments prints no segment event, only state changes, timers, drops
	// and congestion window updates.
	NoSegments
)

// TextOptions configures a [Text]. The zero value prints tcpdump's relative
// sequence numbers, a relative time stamp, no stack name, and every event.
type TextOptions struct {
	// Absolute prints sequence and acknowledgment numbers, and SACK block
	// edges, as they are on the wire, like tcpdump -S. When false, they are
	// relative to the first numbers seen in each conversation, exactly as
	// tcpdump computes them.
	Absolute bool
	// FromISN prints every sequence and acknowledgment number, and SACK
	// block edges, relative to the initial sequence number of the side
	// they count, SYN and SYN-ACK included (which print "seq 0" and
	// "seq 0, ack 1"), as Wireshark's relative numbers and the ladder
	// diagrams count. tcpdump prints a conversation's first segments with
	// absolute numbers instead, so its output differs from run to run with
	// random ISNs; this does not. A side's base is the seq of its SYN, or
	// else of the first segment it sends, or else the ack - 1 the other
	// side first sends; a new SYN starts a new incarnation. Absolute takes
	// precedence.
	FromISN bool
	// Time chooses the time stamp; the zero value is TimeRelative.
	Time TimeFormat
	// Stack prefixes each line (after the time stamp) with the name of the
	// stack that saw the event, in brackets: "[client] ". Events with an
	// empty Stack get no prefix.
	Stack bool
	// Segments chooses which segment events are printed; the zero value
	// prints both directions. See [SegmentFilter] for how to avoid printing
	// a segment twice.
	Segments SegmentFilter
}

// maxConversations bounds the table of relative-numbering bases: tcpdump
// keeps every conversation forever, a long-lived stack must not. When the
// table is full an arbitrary conversation is forgotten; if it is seen again
// its next ACK-bearing segment prints absolute numbers and becomes the new
// base, as its first one did.
const maxConversations = 1 << 14

// Text is a [Tracer] that writes one line per event, segments in the format
// of tcpdump -n (numeric addresses and ports):
//
//	0.000000 IP 10.0.0.1.49152 > 10.0.0.2.80: Flags [S], seq 1234, win 65535, options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0
//	0.001012 IP 10.0.0.2.80 > 10.0.0.1.49152: Flags [S.], seq 5678, ack 1235, win 65535, options [mss 1460,sackOK,TS val 9 ecr 1,nop,wscale 7], length 0
//	0.002020 IP 10.0.0.1.49152 > 10.0.0.2.80: Flags [.], ack 1, win 502, options [nop,nop,TS val 2 ecr 9], length 0
//	0.002051 IP 10.0.0.1.49152 > 10.0.0.2.80: Flags [P.], seq 1:101, ack 1, win 502, options [nop,nop,TS val 2 ecr 9], length 100
//
// IPv6 segments start with "IP6" and print addresses as netip does
// ("2001:db8::1.80"). Sequence numbers follow tcpdump's print-tcp.c to the
// digit: segments without ACK (a SYN, a bare RST) print absolute numbers;
// the first ACK-bearing segment of a conversation (keyed by the unordered
// pair of endpoints) and every SYN-ACK print absolute numbers and record the
// bases, its seq for its sender and its ack - 1 for the peer; later
// ACK-bearing segments print seq, ack and SACK edges relative to those bases.
// "seq" is printed only for a segment with data, SYN, FIN or RST, as
// "seq N" or, with data, "seq N:N+length".
//
// A Text sees the parsed [wire.TCPSegment], not the option bytes: it prints
// the options in the order and layout in which [wire.TCPOptions.Emit] writes
// them, which is Linux's (mss, sackOK, TS, nop, wscale on a SYN; nop, nop,
// TS and nop, nop, sack on data), so a segment synack sent prints exactly as
// tcpdump prints it from a capture. A segment from a peer that orders its
// options differently prints in this order all the same. tcpdump's payload
// decoders (": HTTP" after the length of data to or from port 80, and the
// like) are not imitated: a line ends at "length N". The package's tests
// check the format against the tcpdump binary when one is installed.
//
// Other events print the connection's endpoints, local first, then what
// happened:
//
//	0.001015 [client] 10.0.0.1.49152 > 10.0.0.2.80: state SYN_SENT -> ESTABLISHED (rcvd SYN-ACK)
//	0.201000 [client] 10.0.0.1.49152 > 10.0.0.2.80: timer retransmit
//	0.201000 [client] 10.0.0.1.49152 > 10.0.0.2.80: cwnd 14600 ssthresh 4294967295
//	0.300000 [server] drop bad-checksum
//
// (the endpoints are left out when the event has neither).
//
// Text is safe for concurrent use; lines are written whole, one Write call
// each, in the order the Trace calls take its lock. It formats into a
// reused buffer and does not allocate per event in steady state. If the
// writer fails, Text keeps the first error, writes nothing more, and reports
// the error from [Text.Err]: tracing never disturbs traffic.
type Text struct {
	opts TextOptions

	mu        sync.Mutex // guards the fields below
	w         io.Writer
	buf       []byte
	haveFirst bool
	first     time.Duration
	convs     map[convKey]convBases
	err       error
}

// convKey names a conversation by its two endpoints in a canonical order,
// so both directions find the same entry.
type convKey struct {
	lo, hi netip.AddrPort
}

// convBases holds the base sequence number of each side of a conversation,
// what tcpdump subtracts to print relative numbers. loSet and hiSet say
// which bases are known; only FromISN numbering leaves one unknown.
type convBases struct {
	lo, hi       uint32
	loSet, hiSet bool
}

// NewText returns a Text that writes to w as opts says. opts is copied.
func NewText(w io.Writer, opts TextOptions) *Text {
	return &Text{opts: opts, w: w, buf: make([]byte, 0, 256), convs: make(map[convKey]convBases)}
}

// Err returns the first error the writer returned, after which the Text
// stopped writing, or nil.
func (t *Text) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// Trace writes the line for e, unless opts.Segments filters it out.
func (t *Text) Trace(e *Event) {
	switch e.Kind {
	case SegmentIn:
		if t.opts.Segments == OutSegments || t.opts.Segments == NoSegments {
			return
		}
	case SegmentOut:
		if t.opts.Segments == InSegments || t.opts.Segments == NoSegments {
			return
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err != nil {
		return
	}
	b := t.appendTime(t.buf[:0], e.At)
	if t.opts.Stack && e.Stack != "" {
		b = append(b, '[')
		b = append(b, e.Stack...)
		b = append(b, "] "...)
	}
	switch {
	case (e.Kind == SegmentIn || e.Kind == SegmentOut) && e.Seg != nil:
		src, dst := e.Remote.Addr(), e.Local.Addr()
		if e.Kind == SegmentOut {
			src, dst = dst, src
		}
		b = t.appendSegment(b, src, dst, e.Seg)
	default:
		b = appendEvent(b, e)
	}
	b = append(b, '\n')
	t.buf = b
	if _, err := t.w.Write(b); err != nil {
		t.err = err
	}
}

// appendTime appends the time stamp for at and a space, as t.opts.Time says.
func (t *Text) appendTime(b []byte, at time.Duration) []byte {
	switch t.opts.Time {
	case TimeNone:
		return b
	case TimeRelative:
		if !t.haveFirst {
			t.haveFirst, t.first = true, at
		}
		at -= t.first
	}
	return append(appendSeconds(b, at), ' ')
}

// appendSegment appends seg sent from src to dst, numbered as t.opts says,
// updating the conversation table. seg must not be nil.
func (t *Text) appendSegment(b []byte, src, dst netip.Addr, seg *wire.TCPSegment) []byte {
	seq, ack := uint32(seg.Seq), uint32(seg.Ack)
	var sackBase uint32
	if !t.opts.Absolute && t.opts.FromISN {
		seq, ack, sackBase = t.fromISN(src, dst, seg)
	} else if !t.opts.Absolute && seg.Flags&wire.ACK != 0 {
		// tcpdump's print-tcp.c: the first ACK-bearing segment of a
		// conversation, or any SYN-ACK, records the bases and prints
		// absolute numbers; later ones print relative numbers.
		k, rev := convOf(src, dst, seg)
		c, ok := t.convs[k]
		// mine and peer point at the bases of the sender and receiver.
		mine, peer := &c.lo, &c.hi
		if rev {
			mine, peer = peer, mine
		}
		if !ok || seg.Flags&wire.SYN != 0 {
			*mine, *peer = seq, ack-1
			t.keep(k, c, ok)
		} else {
			seq -= *mine
			ack -= *peer
		}
		sackBase = *peer
	}
	return appendTCP(b, src, dst, seg, seq, ack, sackBase)
}

// convOf returns the table key of the conversation seg belongs to,
// and whether its sender is the key's hi endpoint.
func convOf(src, dst netip.Addr, seg *wire.TCPSegment) (k convKey, rev bool) {
	s := netip.AddrPortFrom(src, seg.SrcPort)
	d := netip.AddrPortFrom(dst, seg.DstPort)
	rev = seg.SrcPort > seg.DstPort || seg.SrcPort == seg.DstPort && src.Compare(dst) > 0
	if rev {
		return convKey{d, s}, true
	}
	return convKey{s, d}, false
}

// keep stores c under k, first forgetting an arbitrary conversation when
// a new one (!known) would overflow the table.
func (t *Text) keep(k convKey, c convBases, known bool) {
	if !known && len(t.convs) >= maxConversations {
		for old := range t.convs {
			delete(t.convs, old)
			break
		}
	}
	t.convs[k] = c
}

// fromISN returns seg's seq, ack and SACK base numbered as
// TextOptions.FromISN says, learning the bases it can from seg.
func (t *Text) fromISN(src, dst netip.Addr, seg *wire.TCPSegment) (seq, ack, sackBase uint32) {
	k, rev := convOf(src, dst, seg)
	c, ok := t.convs[k]
	mine, peer := &c.lo, &c.hi
	mineSet, peerSet := &c.loSet, &c.hiSet
	if rev {
		mine, peer, mineSet, peerSet = peer, mine, peerSet, mineSet
	}
	changed := !ok
	if seg.Flags&wire.SYN != 0 && (!*mineSet || *mine != uint32(seg.Seq)) {
		// A new SYN: a new incarnation, whose other side is not known
		// yet unless this SYN acknowledges it.
		*mine, *mineSet, *peerSet, changed = uint32(seg.Seq), true, false, true
	}
	if !*mineSet {
		*mine, *mineSet, changed = uint32(seg.Seq), true, true
	}
	if seg.Flags&wire.ACK != 0 && !*peerSet {
		*peer, *peerSet, changed = uint32(seg.Ack)-1, true, true
	}
	if changed {
		t.keep(k, c, ok)
	}
	return uint32(seg.Seq) - *mine, uint32(seg.Ack) - *peer, *peer
}

// AppendSegment appends to b the tcpdump -n -S line for seg sent from src to
// dst, with absolute numbers and no time stamp, and returns the extended
// buffer:
//
//	IP 10.0.0.1.49152 > 10.0.0.2.80: Flags [P.], seq 1001:1101, ack 2001, win 502, length 100
//
// It is meant for test failure messages and tools that print one segment
// outside a conversation. An invalid address prints as "?".
func AppendSegment(b []byte, src, dst netip.Addr, seg *wire.TCPSegment) []byte {
	if seg == nil {
		return append(b, "no segment"...)
	}
	return appendTCP(b, src, dst, seg, uint32(seg.Seq), uint32(seg.Ack), 0)
}

// appendTCP appends seg's line with the given (possibly relative) seq and
// ack, and sackBase subtracted from SACK edges.
func appendTCP(b []byte, src, dst netip.Addr, seg *wire.TCPSegment, seq, ack, sackBase uint32) []byte {
	if src.Is6() || dst.Is6() {
		b = append(b, "IP6 "...)
	} else {
		b = append(b, "IP "...)
	}
	b = appendAddrPort(b, src, seg.SrcPort)
	b = append(b, " > "...)
	b = appendAddrPort(b, dst, seg.DstPort)
	b = append(b, ": Flags ["...)
	b = append(b, seg.Flags.String()...)
	b = append(b, ']')
	n := uint32(len(seg.Payload))
	if n > 0 || seg.Flags&(wire.SYN|wire.FIN|wire.RST) != 0 {
		b = append(b, ", seq "...)
		b = strconv.AppendUint(b, uint64(seq), 10)
		if n > 0 {
			b = append(b, ':')
			b = strconv.AppendUint(b, uint64(seq+n), 10)
		}
	}
	if seg.Flags&wire.ACK != 0 {
		b = append(b, ", ack "...)
		b = strconv.AppendUint(b, uint64(ack), 10)
	}
	b = append(b, ", win "...)
	b = strconv.AppendUint(b, uint64(seg.Window), 10)
	if seg.Flags&wire.URG != 0 {
		b = append(b, ", urg "...)
		b = strconv.AppendUint(b, uint64(seg.Urgent), 10)
	}
	b = appendOptions(b, &seg.Options, sackBase)
	b = append(b, ", length "...)
	return strconv.AppendUint(b, uint64(n), 10)
}

// appendOptions appends ", options [...]" for o, listing the options in the
// order and layout wire.TCPOptions.Emit writes them, or nothing when o
// encodes to no bytes.
func appendOptions(b []byte, o *wire.TCPOptions, sackBase uint32) []byte {
	total := o.Len()
	if total == 0 {
		return b
	}
	b = append(b, ", options ["...)
	start := len(b)
	sep := func(b []byte) []byte {
		if len(b) > start {
			b = append(b, ',')
		}
		return b
	}
	n := 0 // bytes before the SACK option, as Emit lays them out
	if o.MSS != 0 {
		b = append(b, "mss "...)
		b = strconv.AppendUint(b, uint64(o.MSS), 10)
		n += 4
	}
	switch {
	case o.HasTS:
		if o.SACKPermitted {
			b = append(sep(b), "sackOK"...)
		} else {
			b = append(sep(b), "nop,nop"...)
		}
		b = append(sep(b), "TS val "...)
		b = strconv.AppendUint(b, uint64(o.TSVal), 10)
		b = append(b, " ecr "...)
		b = strconv.AppendUint(b, uint64(o.TSEcr), 10)
		n += 12
	case o.SACKPermitted:
		b = append(sep(b), "nop,nop,sackOK"...)
		n += 4
	}
	if o.HasWScale {
		b = append(sep(b), "nop,wscale "...)
		b = strconv.AppendUint(b, uint64(o.WScale), 10)
		n += 4
	}
	// Emit writes only the SACK blocks that fit in 40 bytes; Len says how
	// many did.
	if nsack := (total - n - 4) / 8; total > n && nsack > 0 {
		b = append(sep(b), "nop,nop,sack "...)
		b = strconv.AppendUint(b, uint64(nsack), 10)
		b = append(b, ' ')
		for _, blk := range o.SACK[:min(nsack, len(o.SACK))] {
			b = append(b, '{')
			b = strconv.AppendUint(b, uint64(uint32(blk.Left)-sackBase), 10)
			b = append(b, ':')
			b = strconv.AppendUint(b, uint64(uint32(blk.Right)-sackBase), 10)
			b = append(b, '}')
		}
	}
	return append(b, ']')
}

// appendAddrPort appends addr.port as tcpdump -n prints an endpoint, or
// "?.port" for an invalid address.
func appendAddrPort(b []byte, a netip.Addr, port uint16) []byte {
	if a.IsValid() {
		b = a.AppendTo(b)
	} else {
		b = append(b, '?')
	}
	b = append(b, '.')
	return strconv.AppendUint(b, uint64(port), 10)
}

// appendEvent appends the text of a non-segment event: its endpoints, local
// first, when it has any, then what happened.
func appendEvent(b []byte, e *Event) []byte {
	if e.Local.IsValid() || e.Remote.IsValid() {
		b = appendAddrPort(b, e.Local.Addr(), e.Local.Port())
		b = append(b, " > "...)
		b = appendAddrPort(b, e.Remote.Addr(), e.Remote.Port())
		b = append(b, ": "...)
	}
	switch e.Kind {
	case StateChange:
		b = append(b, "state "...)
		if e.From != "" { // an initial state, as a capture shows it
			b = append(b, e.From...)
			b = append(b, " -> "...)
		}
		b = append(b, e.To...)
		b = appendWhy(b, e.Why)
	case Timer:
		b = append(b, "timer "...)
		b = append(b, e.Why...)
	case Drop:
		b = append(b, "drop "...)
		b = append(b, e.Why...)
	case Congestion:
		b = append(b, "cwnd "...)
		b = strconv.AppendUint(b, uint64(e.Cwnd), 10)
		b = append(b, " ssthresh "...)
		b = strconv.AppendUint(b, uint64(e.Ssthresh), 10)
		b = appendWhy(b, e.Why)
	case SegmentIn, SegmentOut: // without a Seg
		b = append(b, e.Kind.String()...)
		b = append(b, " (no segment)"...)
	default:
		b = append(b, "event "...)
		b = append(b, e.Kind.String()...)
	}
	return b
}

// appendWhy appends " (why)", or nothing when why is empty. A why that
// ends in a parenthesis of its own ("rcvd SYN (simultaneous open)") is
// written "(rcvd SYN: simultaneous open)": no parentheses in parentheses.
func appendWhy(b []byte, why string) []byte {
	if why == "" {
		return b
	}
	b = append(b, " ("...)
	b = append(b, flatWhy(why)...)
	return append(b, ')')
}

// flatWhy returns why with a trailing parenthesis turned into a colon.
func flatWhy(why string) string {
	if i := strings.LastIndex(why, " ("); i > 0 && strings.HasSuffix(why, ")") {
		return why[:i] + ": " + why[i+2:len(why)-1]
	}
	return why
}
