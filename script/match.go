package script

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"
)

// outConn is the connection whose packets > lines match, or nil when the
// script has none yet (the first packet of the stack's then makes it).
func (r *runner) outConn() *conn {
	if r.sut == nil {
		return r.stray
	}
	if r.sut.listening {
		return nil
	}
	return r.sut.conn
}

// belongs reports whether a packet the stack sent is one a > line of pk's
// kind on the connection under test may match; it learns the stack's port
// from the first SYN of a connect.
func (r *runner) belongs(pk *Packet, p *livePacket) bool {
	if p.src != r.cfg.LocalIP || p.dst != r.cfg.RemoteIP {
		return false
	}
	switch pk.Proto {
	case ProtoICMP:
		return p.proto == 1 || p.proto == 58
	case ProtoUDP:
		return p.proto == 17
	}
	if p.proto != 6 {
		return false
	}
	if pk.SrcPort != 0 {
		return p.sport == pk.SrcPort && p.dport == pk.DstPort
	}
	c := r.outConn()
	if c == nil {
		// The first packet of a connection nobody announced: adopt it.
		c = newConn()
		c.lport, c.rport, c.lportKnown = p.sport, p.dport, true
		if r.sut == nil {
			r.stray = c
		} else if r.sut.listening {
			r.sut = &sock{scriptFD: -1, liveFD: -1, conn: c, parent: r.sut}
			r.sut.parent.pending = append(r.sut.parent.pending, c)
		} else {
			r.sut.conn = c
		}
		return true
	}
	if c.lportKnown {
		return p.sport == c.lport && p.dport == c.rport
	}
	if p.dport == c.rport && p.flags&(flagSYN|flagACK) == flagSYN {
		c.lport, c.lportKnown = p.sport, true
		return true
	}
	return false
}

// take returns the next packet the stack sent that a > line of pk's kind
// may match, waiting until deadline at most; packets of other flows are
// skipped. It returns nil if none came.
func (r *runner) take(pk *Packet, deadline time.Duration) (*livePacket, error) {
	for {
		for len(r.queue) > 0 {
			p := r.queue[0]
			r.queue = r.queue[1:]
			if r.belongs(pk, p) {
				return p, nil
			}
			logf(r.opts.Verbose, "%s: skipped a packet of another flow: %s\n", r.s.File, r.liveText(p, nil))
		}
		if err := r.checkPending(); err != nil {
			return nil, err
		}
		if r.t.Now() > deadline {
			return nil, nil
		}
		r.wait(deadline + 1)
	}
}

// unshift puts a packet back at the head of the queue.
func (r *runner) unshift(p *livePacket) {
	r.queue = append([]*livePacket{p}, r.queue...)
}

// outbound waits for the packet of a > line and checks it.
func (r *runner) outbound(ev *Event, lo, hi, tol time.Duration) error {
	pk := ev.Packet
	deadline := hi + tol
	if ev.Time.Kind == TimeAny {
		deadline = r.t.Now() + 120*time.Second // a bound, so that a run ends
	}
	p, err := r.take(pk, deadline)
	if err != nil {
		return err
	}
	if p == nil {
		when := "at " + secs(lo) + " s"
		if ev.Time.Kind == TimeAny {
			when = "at any time"
		} else if hi != lo {
			when = "between " + secs(lo) + " and " + secs(hi) + " s"
		}
		late := ""
		if ev.Time.Kind != TimeAny {
			// Say what came next, within a second: a late packet reads
			// differently from a missing one.
			if q, _ := r.take(pk, deadline+time.Second); q != nil {
				late = fmt.Sprintf("\n  (then at %s s: %s)", secs(q.at), r.liveText(q, pk))
			}
		}
		return r.errorf(ev.Line, "expected %s %s\n  got nothing by %s s%s", r.expectText(pk), when, secs(deadline), late)
	}
	if pk.Proto == ProtoTCP && !r.cfg.StrictSegments && pk.Len > len(p.payload) && len(p.payload) > 0 {
		if p, err = r.merge(pk, p, deadline); err != nil {
			return err
		}
	}
	if ev.Time.Kind != TimeAny {
		if p.at < lo-tol {
			return r.errorf(ev.Line, "expected %s at %s s\n  got %s at %s s: too early (tolerance %s)",
				r.expectText(pk), secs(lo), r.liveText(p, pk), secs(p.at), tol)
		}
		if p.at > hi+tol {
			return r.errorf(ev.Line, "expected %s at %s s\n  got %s at %s s: too late (tolerance %s)",
				r.expectText(pk), secs(hi), r.liveText(p, pk), secs(p.at), tol)
		}
	}
	if why := r.verify(pk, p); why != "" {
		return r.errorf(ev.Line, "expected %s\n  got      %s\n  %s", r.expectText(pk), r.liveText(p, pk), why)
	}
	r.record(pk, p)
	r.anchor = p.at
	return nil
}

// merge joins the packets that together carry the payload of one > line,
// as packetdrill does for TSO and GSO: consecutive in sequence, with the
// same ack, window, urgent pointer, header length and flags but FIN, PSH
// and CWR, all but the last of the first one's length. The result has the
// sequence number of the first and everything else of the last.
func (r *runner) merge(pk *Packet, first *livePacket, deadline time.Duration) (*livePacket, error) {
	m := *first
	m.payload = append([]byte(nil), first.payload...)
	const mayDiffer = flagFIN | flagPSH | flagCWR
	last := len(first.payload) // the length of the piece merged last
	for len(m.payload) < pk.Len {
		n, err := r.take(pk, deadline)
		if err != nil || n == nil {
			return &m, err
		}
		ok := n.seq == m.seq+uint32(len(m.payload)) && n.ack == m.ack && n.win == m.win && n.urg == m.urg &&
			n.dataOff == m.dataOff && n.flags&^mayDiffer == m.flags&^mayDiffer && len(n.payload) > 0 &&
			last == len(first.payload) && m.flags&flagFIN == 0
		if !ok {
			r.unshift(n)
			return &m, nil
		}
		m.payload = append(m.payload, n.payload...)
		last = len(n.payload)
		m.flags, m.ack, m.win, m.opts, m.optBytes, m.at = n.flags, n.ack, n.win, n.opts, n.optBytes, n.at
		m.ae, m.reserved, m.urg = n.ae, n.reserved, n.urg
		m.totalLen = m.ipHdrLen + m.dataOff + len(m.payload)
	}
	return &m, nil
}

// scriptSeq translates a live sequence number of the stack's into the
// script's numbering.
func (c *conn) scriptSeq(live uint32, syn bool) uint32 {
	if syn {
		return live - c.localISN + c.scriptLocalISN
	}
	return live - c.localISN
}

// scriptAck translates a live ack or SACK edge (the script's sequence
// space) into the script's numbering.
func (c *conn) scriptAck(live uint32, synAck bool) uint32 {
	if synAck {
		return live
	}
	return live - c.remoteISN
}

// learn takes the stack's ISN from its first SYN or SYN-ACK.
func (r *runner) learn(pk *Packet, p *livePacket) *conn {
	c := r.outConn()
	if c == nil {
		c = newConn()
	}
	if p.proto == 6 && p.flags&flagSYN != 0 && !c.haveLocalISN {
		c.localISN, c.scriptLocalISN, c.haveLocalISN = p.seq, pk.Seq, true
	}
	return c
}

// verify compares a live packet with the line's; it returns what differs,
// or "".
func (r *runner) verify(pk *Packet, p *livePacket) string {
	wantV6 := r.cfg.LocalIP.Is6()
	if p.v6 != wantV6 {
		return "IP version differs"
	}
	switch pk.Proto {
	case ProtoICMP:
		return r.verifyICMP(pk, p)
	case ProtoUDP:
		if len(p.payload) != pk.Len {
			return fmt.Sprintf("UDP length: expected %d, got %d", pk.Len, len(p.payload))
		}
		return ""
	}
	c := r.learn(pk, p)
	if !p.ipSumOK {
		return "bad IPv4 header checksum"
	}
	if p.ipOptions && !pk.AnyOptions {
		return "the IPv4 header carries options"
	}
	var diffs []string
	d := func(format string, args ...any) { diffs = append(diffs, fmt.Sprintf(format, args...)) }
	if !pk.HasACE && (p.flags != pk.Flags || p.ae != pk.AE) {
		d("flags: expected %s, got %s", flagString(pk), flagWord(p.flags, p.ae, false, 0))
	}
	if pk.HasACE {
		ace := uint8(0)
		if p.ae {
			ace |= 4
		}
		if p.flags&flagCWR != 0 {
			ace |= 2
		}
		if p.flags&flagECE != 0 {
			ace |= 1
		}
		if ace != pk.ACE || p.flags&^(flagECE|flagCWR) != pk.Flags&^(flagECE|flagCWR) {
			d("flags: expected %s, got %s (ACE %d)", flagString(pk), flagWord(p.flags, p.ae, false, 0), ace)
		}
	}
	if p.reserved != 0 {
		d("reserved bits set: %#x", p.reserved)
	}
	syn := p.flags&flagSYN != 0
	if got := c.scriptSeq(p.seq, syn); got != pk.Seq {
		d("seq: expected %d, got %d", pk.Seq, got)
	}
	if len(p.payload) != pk.Len {
		d("length: expected %d, got %d", pk.Len, len(p.payload))
	}
	if pk.Flags&flagACK != 0 {
		if got := c.scriptAck(p.ack, syn); got != pk.Ack {
			d("ack: expected %d, got %d", pk.Ack, got)
		}
	} else if p.ack != pk.Ack {
		d("ack field: expected %d (no ACK flag), got %d", pk.Ack, p.ack)
	}
	if p.urg != pk.Urg {
		d("urgent pointer: expected %d, got %d", pk.Urg, p.urg)
	}
	if pk.HasWin && p.win != pk.Win {
		d("win: expected %d, got %d", pk.Win, p.win)
	}
	if !pk.AnyOptions {
		if why := r.verifyOptions(pk, p, c); why != "" {
			d("%s", why)
		}
	}
	for _, b := range p.payload {
		if b != 0 {
			d("payload bytes are not the zeros the script wrote")
			break
		}
	}
	if pk.ECN >= 0 {
		got := p.ecn()
		if pk.ECN == ECNECT01 && got != ECNECT0 && got != ECNECT1 || pk.ECN != ECNECT01 && got != pk.ECN {
			d("ECN codepoint: expected %s, got %s", ecnName(pk.ECN), ecnName(got))
		}
	}
	if pk.TOS >= 0 && int(p.tos)&^3 != pk.TOS&^3 {
		d("TOS: expected %#x, got %#x", pk.TOS, p.tos)
	}
	if pk.TTL >= 0 && int(p.ttl) != pk.TTL {
		d("TTL: expected %d, got %d", pk.TTL, p.ttl)
	}
	return strings.Join(diffs, "; ")
}

func ecnName(e int) string {
	return [...]string{"noecn", "ect1", "ect0", "ce", "ect01"}[e]
}

// verifyOptions walks the options pairwise: same count, same kinds in the
// same order, equal values but TS ecr (never checked) and TS val (checked
// only with --tcp_ts_tick_usecs).
func (r *runner) verifyOptions(pk *Packet, p *livePacket, c *conn) string {
	if p.optErr != nil {
		return "malformed TCP options"
	}
	want := pk.Options
	if len(want) != len(p.opts) || optionsLen(want) != len(p.optBytes) {
		return fmt.Sprintf("options: expected <%s>, got <%s>", scriptOptionsText(want), liveOptionsText(p.opts, c.remoteISN, c.tsOff))
	}
	synAck := p.flags&flagSYN != 0
	for i, w := range want {
		g := p.opts[i]
		bad := func(what string) string {
			return fmt.Sprintf("option %d: expected %s, got %s", i+1, what, liveOptionsText([]rawOpt{g}, c.remoteISN, c.tsOff))
		}
		switch w.Kind {
		case OptNOP:
			if g.kind != kindNOP {
				return bad("nop")
			}
		case OptEOL:
			if g.kind != kindEOL {
				return bad("eol")
			}
		case OptMSS:
			if g.kind != kindMSS || len(g.data) != 2 || binary.BigEndian.Uint16(g.data) != w.MSS {
				return bad(fmt.Sprintf("mss %d", w.MSS))
			}
		case OptWScale:
			if g.kind != kindWScale || len(g.data) != 1 || g.data[0] != w.WScale {
				return bad(fmt.Sprintf("wscale %d", w.WScale))
			}
		case OptSACKOK:
			if g.kind != kindSACKOK || len(g.data) != 0 {
				return bad("sackOK")
			}
		case OptSACK:
			if g.kind != kindSACK || len(g.data) != 8*len(w.SACK) {
				return bad(scriptOptionsText([]Option{w}))
			}
			for j, blk := range w.SACK {
				l := c.scriptAck(binary.BigEndian.Uint32(g.data[8*j:]), synAck)
				rr := c.scriptAck(binary.BigEndian.Uint32(g.data[8*j+4:]), synAck)
				if l != blk[0] || rr != blk[1] {
					return fmt.Sprintf("option %d: expected %s, got %s", i+1, scriptOptionsText([]Option{w}), liveOptionsText([]rawOpt{g}, c.remoteISN, c.tsOff))
				}
			}
		case OptTS:
			if g.kind != kindTS || len(g.data) != 8 {
				return bad("TS")
			}
			if why := r.checkTSVal(w.TSVal, binary.BigEndian.Uint32(g.data), p.at, c); why != "" {
				return why
			}
		case OptMD5:
			if g.kind != kindMD5 || len(g.data) != 16 {
				return bad("md5")
			}
		default:
			enc := encodeOptions([]Option{w})
			if len(enc) < 2 || g.kind != enc[0] || string(g.data) != string(enc[2:]) {
				return bad(scriptOptionsText([]Option{w}))
			}
		}
	}
	return ""
}

// checkTSVal checks an outbound TS val when --tcp_ts_tick_usecs is set:
// the first fixes the offset between script and live values, later ones
// must be within the tolerance of the script's value under it.
func (r *runner) checkTSVal(script, live uint32, at time.Duration, c *conn) string {
	if r.cfg.TSTick <= 0 {
		return ""
	}
	if !c.haveTS {
		return ""
	}
	want := script + c.tsOff
	diff := int64(int32(live - want))
	if diff < 0 {
		diff = -diff
	}
	tol := r.cfg.tolerance(at - c.tsStart)
	slack := int64(tol/r.cfg.TSTick) + 1
	if diff > slack {
		return fmt.Sprintf("TS val: expected %d, got %d (%d ticks off, at most %d allowed)", script, live-c.tsOff, diff, slack)
	}
	return ""
}

// record notes, after a > line matched, the script → live mapping of its
// TS val, so that inbound ecr values can be translated.
func (r *runner) record(pk *Packet, p *livePacket) {
	c := r.outConn()
	if c == nil || pk.AnyOptions {
		return
	}
	for i, w := range pk.Options {
		if w.Kind != OptTS || i >= len(p.opts) || len(p.opts[i].data) != 8 {
			continue
		}
		live := binary.BigEndian.Uint32(p.opts[i].data)
		c.tsVals[w.TSVal] = live
		if !c.haveTS {
			c.tsOff, c.haveTS, c.tsStart = live-w.TSVal, true, p.at
		}
	}
}

// verifyICMP compares an outbound ICMP message's type and code.
func (r *runner) verifyICMP(pk *Packet, p *livePacket) string {
	tn := icmpTypes[pk.ICMPType]
	want := tn.v4
	if p.v6 {
		want = tn.v6
	}
	if int(p.icmpType) != want {
		return fmt.Sprintf("ICMP type: expected %s (%d), got %d", pk.ICMPType, want, p.icmpType)
	}
	if pk.ICMPCode != "" {
		cn := icmpCodes[pk.ICMPCode]
		wc := cn.v4
		if p.v6 {
			wc = cn.v6
		}
		if int(p.icmpCode) != wc {
			return fmt.Sprintf("ICMP code: expected %s (%d), got %d", pk.ICMPCode, wc, p.icmpCode)
		}
	}
	return ""
}

// expectText prints a > line's packet in tcpdump form, with the
// connection's addresses and ports.
func (r *runner) expectText(pk *Packet) string {
	if pk.Proto != ProtoTCP {
		return "> " + protoText(pk)
	}
	sport, dport := r.cfg.BindPort, uint16(0)
	if c := r.outConn(); c != nil {
		sport, dport = c.lport, c.rport
	}
	if pk.SrcPort != 0 {
		sport, dport = pk.SrcPort, pk.DstPort
	}
	win := -1
	if pk.HasWin {
		win = int(pk.Win)
	}
	opts := scriptOptionsText(pk.Options)
	if pk.AnyOptions {
		opts = "..."
	}
	return tcpdumpLine(r.cfg.LocalIP, r.cfg.RemoteIP, sport, dport, tcpdumpFlags(pk.Flags, pk.AE), pk.Seq, pk.Len,
		pk.Ack, pk.Flags&flagACK != 0, win, pk.Urg, opts)
}

// protoText prints a UDP or ICMP line.
func protoText(pk *Packet) string {
	if pk.Proto == ProtoUDP {
		return fmt.Sprintf("udp (%d)", pk.Len)
	}
	return strings.TrimSpace("icmp " + pk.ICMPType + " " + pk.ICMPCode)
}

// liveText prints a live packet in tcpdump form, numbers translated to the
// script's (relative) ones when pk's connection knows them.
func (r *runner) liveText(p *livePacket, pk *Packet) string {
	if p.proto != 6 {
		return fmt.Sprintf("IP %s > %s: protocol %d, length %d", p.src, p.dst, p.proto, len(p.payload))
	}
	c := r.outConn()
	if c == nil || (pk == nil) {
		c = &conn{}
	}
	syn := p.flags&flagSYN != 0
	seq, ack := c.scriptSeq(p.seq, syn), c.scriptAck(p.ack, syn)
	if syn && !c.haveLocalISN && pk != nil {
		seq = pk.Seq
	}
	return tcpdumpLine(p.src, p.dst, p.sport, p.dport, tcpdumpFlags(p.flags, p.ae), seq, len(p.payload),
		ack, p.flags&flagACK != 0, int(p.win), p.urg, liveOptionsText(p.opts, c.remoteISN, c.tsOff))
}
