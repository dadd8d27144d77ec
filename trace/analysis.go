package trace

import (
	"errors"
	"net/netip"
	"slices"
	"time"

	"github.com/synack-go/synack/wire"
)

// errNoConn is what the drawings return when no connection is chosen.
var errNoConn = errors.New("trace: no connection in the events")

// flowSeg is one segment of a connection, as the graphs and summaries see
// it: its time, direction, and numbers relative to its sender's initial
// sequence number, unwrapped past 2^32.
type flowSeg struct {
	at       time.Duration
	fromLeft bool
	flags    wire.TCPFlags
	seq, ack int64 // relative; ack only with ACK
	n        int   // payload length
	win      int64 // the window in bytes (scaled when the scale is known)
	mark     segMark
	sack     []sackRange // relative to the data's sender
}

// segMark says what a data segment was.
type segMark uint8

const (
	markNew     segMark = iota
	markRetrans         // carries sequence space its sender had sent before
	markLost            // sent and never received (only when both ends are traced)
)

// sackRange is a SACK block, relative.
type sackRange struct{ lo, hi int64 }

// timePoint is one sample of a value over time: an RTT in microseconds, a
// congestion window or bytes in flight.
type timePoint struct {
	at time.Duration
	v  int64
}

// connFlow is everything the graphs and the summary need about one
// connection, from one pass over its events.
type connFlow struct {
	conn    Conn
	segs    []flowSeg // at the vantage host, in event order
	dataFwd bool      // the data flows left to right (else right to left)
	bytes   [2]int64  // distinct payload bytes sent left→right, right→left
	count   [2]int    // segments each way
	retrans [2]int    // retransmitted segments each way
	lost    [2]int    // lost segments each way (both ends traced)
	rtt     []timePoint
	cwnd    []timePoint // from the data sender's Congestion events
	start   time.Duration
	end     time.Duration
	states  [2][]string // the states each side entered, in order, deduplicated
	ended   string
	wscale  [2]int // window scale of each side's windows, -1 unknown
}

// sideIdx is 0 for the left endpoint, 1 for the right.
func sideIdx(left bool) int {
	if left {
		return 0
	}
	return 1
}

// unwrapper turns 32-bit sequence numbers into 64-bit offsets from a base.
type unwrapper struct {
	base, last wire.Seq
	pos        int64
	set        bool
}

func (u *unwrapper) rel(s wire.Seq) int64 {
	if !u.set {
		u.base, u.last, u.set = s, s, true
		return 0
	}
	u.pos += int64(s.Sub(u.last))
	u.last = s
	return u.pos
}

// flowsOf splits events by connection (of those conns chooses, all when
// nil) and analyses each.
func flowsOf(events []Event, conns []Conn) []*connFlow {
	all := Conns(events)
	if len(conns) > 0 {
		all = slices.DeleteFunc(all, func(c Conn) bool {
			return !slices.ContainsFunc(conns, c.Same)
		})
	}
	byKey := make(map[Conn]int, 2*len(all))
	for i, c := range all {
		byKey[c] = i
		byKey[Conn{c.Right, c.Left}] = i
	}
	idx := make([][]int, len(all))
	for i := range events {
		e := &events[i]
		if j, ok := byKey[Conn{e.Local, e.Remote}]; ok {
			idx[j] = append(idx[j], i)
		}
	}
	flows := make([]*connFlow, len(all))
	for i, c := range all {
		flows[i] = analyzeFlow(events, idx[i], c)
	}
	return flows
}

// analyzeFlow analyses the events of one connection, at indexes idx.
func analyzeFlow(events []Event, idx []int, c Conn) *connFlow {
	f := &connFlow{conn: c, wscale: [2]int{-1, -1}}
	// Which host's view to take for each direction: a segment traced as
	// sent by its sender, else as received by its receiver. traced[s][k]
	// says side s traced segments of kind k (0 out, 1 in).
	var traced [2][2]bool
	var synScale [2]int
	synSeen := [2]bool{}
	for _, i := range idx {
		e := &events[i]
		if e.Seg == nil {
			continue
		}
		left := e.Local == c.Left
		switch e.Kind {
		case SegmentOut:
			traced[sideIdx(left)][0] = true
			if e.Seg.Flags&wire.SYN != 0 {
				s := sideIdx(left)
				synSeen[s] = true
				synScale[s] = -1
				if e.Seg.Options.HasWScale {
					synScale[s] = int(min(e.Seg.Options.WScale, 14))
				}
			}
		case SegmentIn:
			traced[sideIdx(left)][1] = true
			if e.Seg.Flags&wire.SYN != 0 && !traced[1-sideIdx(left)][0] {
				s := 1 - sideIdx(left)
				synSeen[s] = true
				synScale[s] = -1
				if e.Seg.Options.HasWScale {
					synScale[s] = int(min(e.Seg.Options.WScale, 14))
				}
			}
		}
	}
	if synSeen[0] && synSeen[1] {
		// RFC 7323 §2.2: scaling is on only when both SYNs carry the option.
		if synScale[0] >= 0 && synScale[1] >= 0 {
			f.wscale = synScale
		} else {
			f.wscale = [2]int{0, 0}
		}
	}
	// useOut[s]: segments sent by side s are taken from s's SegmentOut,
	// else from the other side's SegmentIn. Both directions are taken at
	// one host where it can be (the data's sender, when it traced what it
	// received too): each stack has its own clock, and a graph mixing two
	// would shift the ACKs against the data.
	useOut := [2]bool{traced[0][0], traced[1][0]}
	var sent [2]int
	for _, i := range idx {
		if e := &events[i]; e.Kind == SegmentOut && e.Seg != nil {
			sent[sideIdx(e.Local == c.Left)] += len(e.Seg.Payload)
		}
	}
	vantage := 0
	if sent[1] > sent[0] {
		vantage = 1
	}
	if traced[vantage][0] && traced[vantage][1] {
		useOut[1-vantage] = false
	}
	// Lost segments are known only where the receiver traced its arrivals.
	var arrived [2]map[segKey]int
	for s := range 2 {
		if useOut[s] && traced[1-s][1] {
			arrived[s] = make(map[segKey]int)
		}
	}
	for _, i := range idx {
		e := &events[i]
		if e.Kind == SegmentIn && e.Seg != nil {
			s := 1 - sideIdx(e.Local == c.Left) // the sender
			if arrived[s] != nil {
				arrived[s][keyOf(e.Remote, e.Local, e.Seg)]++
			}
		}
	}
	// Walk the sends backwards so that the latest copy of a resent segment
	// takes the arrival, as the ladder's matchSent does.
	lostAt := make(map[int]bool)
	for k := len(idx) - 1; k >= 0; k-- {
		e := &events[idx[k]]
		if e.Kind != SegmentOut || e.Seg == nil {
			continue
		}
		s := sideIdx(e.Local == c.Left)
		if arrived[s] == nil {
			continue
		}
		key := keyOf(e.Local, e.Remote, e.Seg)
		if arrived[s][key] > 0 {
			arrived[s][key]--
		} else {
			lostAt[idx[k]] = true
		}
	}

	var seqU [2]unwrapper
	var high, highData, dataStart [2]int64
	var highSet, dataSet [2]bool
	var finSent, rstFrom [2]bool
	first := true
	for _, i := range idx {
		e := &events[i]
		if first || e.At < f.start {
			f.start = e.At
		}
		if first || e.At > f.end {
			f.end = e.At
		}
		first = false
		left := e.Local == c.Left
		switch e.Kind {
		case StateChange:
			s := sideIdx(left)
			if n := len(f.states[s]); n == 0 || f.states[s][n-1] != e.To {
				f.states[s] = append(f.states[s], e.To)
			}
			continue
		case Congestion:
			f.cwnd = append(f.cwnd, timePoint{e.At, int64(e.Cwnd)})
			continue
		case SegmentOut, SegmentIn:
		default:
			continue
		}
		if e.Seg == nil {
			continue
		}
		s := sideIdx(left) // the sender
		if e.Kind == SegmentIn {
			s = 1 - s
		}
		if useOut[s] != (e.Kind == SegmentOut) {
			continue // the other view of the same segment
		}
		seg := e.Seg
		u := &seqU[s]
		if seg.Flags&wire.SYN != 0 && u.set && seg.Seq != u.base && highSet[s] {
			// A new incarnation of the 4-tuple: start counting afresh.
			seqU, high, highData, highSet, dataSet = [2]unwrapper{}, [2]int64{}, [2]int64{}, [2]bool{}, [2]bool{}
		}
		fs := flowSeg{at: e.At, fromLeft: s == 0, flags: seg.Flags, seq: u.rel(seg.Seq), n: len(seg.Payload)}
		if seg.Flags&wire.ACK != 0 {
			if !seqU[1-s].set {
				seqU[1-s].rel(seg.Ack - 1)
			}
			fs.ack = seqU[1-s].rel(seg.Ack)
		}
		fs.win = int64(seg.Window)
		if seg.Flags&wire.SYN == 0 && f.wscale[s] > 0 {
			fs.win <<= f.wscale[s]
		}
		if seg.Options.NumSACK > 0 && seqU[1-s].set {
			for _, b := range seg.Options.SACK[:min(seg.Options.NumSACK, wire.MaxSACKBlocks)] {
				lo := fs.ack + int64(b.Left.Sub(seg.Ack))
				hi := fs.ack + int64(b.Right.Sub(seg.Ack))
				fs.sack = append(fs.sack, sackRange{lo, hi})
			}
		}
		end := fs.seq + int64(seg.SeqLen())
		if seg.SeqLen() > 0 {
			if highSet[s] && end <= high[s] {
				fs.mark = markRetrans
				f.retrans[s]++
			}
			if !highSet[s] || end > high[s] {
				high[s], highSet[s] = end, true
			}
		}
		// Distinct bytes: from the first data byte to the highest (a
		// capture past a lossy link sees only the resent copy of a hole).
		if fs.n > 0 && !dataSet[s] {
			dataStart[s], highData[s], dataSet[s] = fs.seq, fs.seq, true
		}
		if dataEnd := fs.seq + int64(fs.n); fs.n > 0 && dataEnd > highData[s] {
			highData[s] = dataEnd
			f.bytes[s] = dataEnd - dataStart[s]
		}
		if lostAt[i] {
			fs.mark = markLost
			f.lost[s]++
		}
		if seg.Flags&wire.FIN != 0 {
			finSent[s] = true
		}
		if seg.Flags&wire.RST != 0 {
			rstFrom[s] = true
		}
		f.count[s]++
		f.segs = append(f.segs, fs)
	}
	f.dataFwd = f.bytes[0] >= f.bytes[1]
	f.rtt = rttSamples(f.segs, f.dataFwd)
	// cwnd only from the data sender.
	sender := c.Left
	if !f.dataFwd {
		sender = c.Right
	}
	f.cwnd = f.cwnd[:0]
	for _, i := range idx {
		if e := &events[i]; e.Kind == Congestion && e.Local == sender {
			f.cwnd = append(f.cwnd, timePoint{e.At, int64(e.Cwnd)})
		}
	}
	switch {
	case rstFrom[0] || rstFrom[1]:
		who := c.Left
		if !rstFrom[0] {
			who = c.Right
		}
		f.ended = "reset by " + who.String()
	case finSent[0] && finSent[1]:
		f.ended = "closed (FIN both ways)"
	case finSent[0] || finSent[1]:
		who := c.Left
		if !finSent[0] {
			who = c.Right
		}
		f.ended = "half-closed by " + who.String() + " at the end of the trace"
	default:
		f.ended = "open at the end of the trace"
	}
	return f
}

// rttSamples measures round trips in the data direction as the vantage
// host saw them: from a segment's sending to the first ACK that covers
// it, skipping segments that were resent (Karn's rule, RFC 6298 §3).
func rttSamples(segs []flowSeg, fwd bool) []timePoint {
	type pending struct {
		hi    int64
		at    time.Duration
		valid bool
	}
	var q []pending
	var out []timePoint
	var maxHi int64
	for i := range segs {
		s := &segs[i]
		if s.fromLeft == fwd {
			seqLen := int64(s.n)
			if s.flags&(wire.SYN|wire.FIN) != 0 {
				seqLen++
			}
			if seqLen == 0 {
				continue
			}
			hi := s.seq + seqLen
			if hi > maxHi || len(q) == 0 && s.mark == markNew {
				q = append(q, pending{hi, s.at, s.mark == markNew})
				maxHi = max(maxHi, hi)
				continue
			}
			for j := range q { // a resend: its entries give no sample
				if q[j].hi > s.seq && q[j].hi-seqLen <= hi {
					q[j].valid = false
				}
			}
			continue
		}
		if s.flags&wire.ACK == 0 {
			continue
		}
		var last *pending
		k := 0
		for k < len(q) && q[k].hi <= s.ack {
			last = &q[k]
			k++
		}
		if last != nil && last.valid && s.at >= last.at {
			out = append(out, timePoint{s.at, int64((s.at - last.at) / time.Microsecond)})
		}
		q = q[k:]
	}
	return out
}

// sender returns the endpoint that sends the connection's data.
func (f *connFlow) sender() netip.AddrPort {
	if f.dataFwd {
		return f.conn.Left
	}
	return f.conn.Right
}

// receiver returns the endpoint that receives the connection's data.
func (f *connFlow) receiver() netip.AddrPort {
	if f.dataFwd {
		return f.conn.Right
	}
	return f.conn.Left
}
