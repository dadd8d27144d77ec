package script

import (
	"encoding/hex"
	"strings"
)

// TCP flag bits in their wire positions (byte 13 of the header).
const (
	flagFIN uint8 = 1 << iota
	flagSYN
	flagRST
	flagPSH
	flagACK
	flagURG
	flagECE
	flagCWR
)

// parsePacket parses what follows '<' or '>'.
func (p *parser) parsePacket(dir Direction, line int) (*Packet, error) {
	pk := &Packet{Dir: dir, ECN: ECNNone, TOS: -1, TTL: -1, FlowLabel: -1}
	t, err := p.peek()
	if err != nil {
		return nil, err
	}
	if t.is("[") || t.is("(") {
		if err := p.parseIPInfo(pk); err != nil {
			return nil, err
		}
	}
	if t, err = p.peek(); err != nil {
		return nil, err
	}
	switch {
	case t.is("udp"):
		p.next()
		pk.Proto = ProtoUDP
		if _, err := p.expect("(", "'(' before the UDP length"); err != nil {
			return nil, err
		}
		n, _, err := p.intToken("UDP length", 0, 65507)
		if err != nil {
			return nil, err
		}
		pk.Len = int(n)
		_, err = p.expect(")", "')'")
		return pk, err
	case t.is("icmp"):
		p.next()
		pk.Proto = ProtoICMP
		return pk, p.parseICMP(pk)
	}
	// Optional SPORT>DPORT.
	if t.kind == tokInt {
		if t2, err := p.lx.peek(1); err != nil {
			return nil, err
		} else if t2.is(">") {
			sp, _, err := p.intToken("source port", 1, 65535)
			if err != nil {
				return nil, err
			}
			p.next()
			dp, _, err := p.intToken("destination port", 1, 65535)
			if err != nil {
				return nil, err
			}
			pk.SrcPort, pk.DstPort = uint16(sp), uint16(dp)
		}
	}
	if err := p.parseFlags(pk); err != nil {
		return nil, err
	}
	if err := p.parseSeq(pk); err != nil {
		return nil, err
	}
	for {
		t, err := p.peek()
		if err != nil {
			return nil, err
		}
		switch {
		case t.is("ack"):
			p.next()
			v, _, err := p.intToken("ack", 0, 1<<32-1)
			if err != nil {
				return nil, err
			}
			pk.Ack, pk.HasAck = uint32(v), true
		case t.is("win"):
			p.next()
			v, _, err := p.intToken("win", 0, 65535)
			if err != nil {
				return nil, err
			}
			pk.Win, pk.HasWin = uint16(v), true
		case t.is("urg"):
			p.next()
			v, _, err := p.intToken("urg", 0, 65535)
			if err != nil {
				return nil, err
			}
			pk.Urg = uint16(v)
		case t.is("<"):
			p.next()
			if err := p.parseOptions(pk, t.line); err != nil {
				return nil, err
			}
		default:
			if dir == Inbound && !pk.HasWin {
				return nil, p.errorf(line, "an inbound packet needs a window: add win N")
			}
			if dir == Inbound && pk.AnyOptions {
				return nil, p.errorf(line, "<...> is only allowed on outbound packets: an inbound packet is built from its options")
			}
			if pk.Flags&flagACK == 0 && pk.HasAck && pk.Ack != 0 {
				return nil, p.errorf(line, "ack %d on a packet without the ACK flag (write %s.)", pk.Ack, flagString(pk))
			}
			return pk, nil
		}
	}
}

// parseIPInfo parses [ect0], [tos 0x4], (ce), [ttl 64], [flowlabel 0x12].
func (p *parser) parseIPInfo(pk *Packet) error {
	open, _ := p.next()
	closer := "]"
	if open.text == "(" {
		closer = ")"
	}
	for {
		t, err := p.next()
		if err != nil {
			return err
		}
		if t.is(closer) {
			return nil
		}
		if t.is(",") {
			continue
		}
		if t.kind != tokWord {
			return p.errorf(t.line, "expected ECN codepoint, tos, ttl or flowlabel in the IP info, got %s", t)
		}
		switch t.text {
		case "noecn":
			pk.ECN = ECNNotCT
		case "ect0":
			pk.ECN = ECNECT0
		case "ect1":
			pk.ECN = ECNECT1
		case "ce":
			pk.ECN = ECNCE
		case "ect01":
			pk.ECN = ECNECT01
		case "tos":
			v, _, err := p.intToken("tos", 0, 255)
			if err != nil {
				return err
			}
			pk.TOS = int(v)
		case "ttl":
			v, _, err := p.intToken("ttl", 0, 255)
			if err != nil {
				return err
			}
			pk.TTL = int(v)
		case "flowlabel":
			v, _, err := p.intToken("flowlabel", 0, 0xfffff)
			if err != nil {
				return err
			}
			pk.FlowLabel = int(v)
		default:
			return p.errorf(t.line, "unknown IP info %q (want noecn, ect0, ect1, ect01, ce, tos N, ttl N, flowlabel N)", t.text)
		}
	}
}

// parseFlags parses S, S., P., ., -, FP., SEW, and AccECN digits.
func (p *parser) parseFlags(pk *Packet) error {
	t, err := p.next()
	if err != nil {
		return err
	}
	word := ""
	switch {
	case t.is("."):
		pk.Flags |= flagACK
		return nil
	case t.is("-"):
		return nil
	case t.kind == tokWord || t.kind == tokInt:
		word = t.text
	default:
		return p.errorf(t.line, "expected TCP flags (such as S, S., P., F., R, ., -), got %s", t)
	}
	for _, c := range word {
		switch c {
		case 'F':
			pk.Flags |= flagFIN
		case 'S':
			pk.Flags |= flagSYN
		case 'R':
			pk.Flags |= flagRST
		case 'P':
			pk.Flags |= flagPSH
		case 'U':
			pk.Flags |= flagURG
		case 'E':
			pk.Flags |= flagECE
		case 'W':
			pk.Flags |= flagCWR
		case 'A':
			pk.AE = true
		case '0', '1', '2', '3', '4', '5', '6', '7':
			if pk.HasACE {
				return p.errorf(t.line, "two AccECN ACE digits in flags %q", word)
			}
			pk.HasACE, pk.ACE = true, uint8(c-'0')
		default:
			return p.errorf(t.line, "unknown TCP flag %q in %q (flags are F S R P U E W A, ACE digits 0-7, then . for ACK)", c, word)
		}
	}
	if pk.HasACE && (pk.AE || pk.Flags&(flagECE|flagCWR) != 0) {
		return p.errorf(t.line, "flags %q mix an ACE digit with E, W or A", word)
	}
	if ok, err := p.accept("."); err != nil {
		return err
	} else if ok {
		pk.Flags |= flagACK
	}
	return nil
}

// parseSeq parses START:END(LEN).
func (p *parser) parseSeq(pk *Packet) error {
	start, line, err := p.intToken("sequence number", 0, 1<<32-1)
	if err != nil {
		return err
	}
	if _, err := p.expect(":", "':' in START:END(LEN)"); err != nil {
		return err
	}
	end, _, err := p.intToken("end sequence number", 0, 1<<32-1)
	if err != nil {
		return err
	}
	if _, err := p.expect("(", "'(' in START:END(LEN)"); err != nil {
		return err
	}
	n, _, err := p.intToken("payload length", 0, 1<<20)
	if err != nil {
		return err
	}
	if _, err := p.expect(")", "')' in START:END(LEN)"); err != nil {
		return err
	}
	if uint32(start)+uint32(n) != uint32(end) {
		return p.errorf(line, "%d:%d(%d): END must be START+LEN (SYN and FIN do not count)", start, end, n)
	}
	pk.Seq, pk.Len = uint32(start), int(n)
	return nil
}

// parseOptions parses the TCP options after '<' (on line), through '>'.
func (p *parser) parseOptions(pk *Packet, line int) error {
	if ok, err := p.accept("..."); err != nil {
		return err
	} else if ok {
		pk.AnyOptions = true
		_, err := p.expect(">", "'>' after <...")
		return err
	}
	if ok, err := p.accept(">"); err != nil || ok {
		return err
	}
	for {
		t, err := p.next()
		if err != nil {
			return err
		}
		if t.kind != tokWord {
			return p.errorf(t.line, "expected a TCP option, got %s", t)
		}
		o := Option{}
		switch t.text {
		case "nop":
			o.Kind = OptNOP
		case "eol":
			o.Kind = OptEOL
		case "mss":
			v, _, err := p.intToken("mss", 0, 65535)
			if err != nil {
				return err
			}
			o.Kind, o.MSS = OptMSS, uint16(v)
		case "wscale":
			v, _, err := p.intToken("wscale", 0, 255)
			if err != nil {
				return err
			}
			o.Kind, o.WScale = OptWScale, uint8(v)
		case "sackOK":
			o.Kind = OptSACKOK
		case "sack":
			o.Kind = OptSACK
			for {
				nt, err := p.peek()
				if err != nil {
					return err
				}
				if nt.kind != tokInt {
					break
				}
				l, _, err := p.intToken("SACK block start", 0, 1<<32-1)
				if err != nil {
					return err
				}
				if _, err := p.expect(":", "':' in a SACK block L:R"); err != nil {
					return err
				}
				r, _, err := p.intToken("SACK block end", 0, 1<<32-1)
				if err != nil {
					return err
				}
				o.SACK = append(o.SACK, [2]uint32{uint32(l), uint32(r)})
			}
			if len(o.SACK) == 0 || len(o.SACK) > 4 {
				return p.errorf(t.line, "sack wants 1 to 4 blocks L:R, got %d", len(o.SACK))
			}
		case "TS":
			o.Kind = OptTS
			if _, err := p.expect("val", "'val' after TS"); err != nil {
				return err
			}
			v, _, err := p.intToken("TS val", 0, 1<<32-1)
			if err != nil {
				return err
			}
			if _, err := p.expect("ecr", "'ecr' after TS val N"); err != nil {
				return err
			}
			e, _, err := p.intToken("TS ecr", 0, 1<<32-1)
			if err != nil {
				return err
			}
			o.TSVal, o.TSEcr = uint32(v), uint32(e)
		case "md5":
			o.Kind = OptMD5
			b, err := p.hexBlob("md5 digest")
			if err != nil {
				return err
			}
			if len(b) != 0 && len(b) != 16 {
				return p.errorf(t.line, "md5 wants 16 bytes of hex, got %d", len(b))
			}
			if len(b) == 0 {
				b = make([]byte, 16)
			}
			o.Data = b
		case "FO", "FOEXP":
			o.Kind = OptFO
			if t.text == "FOEXP" {
				o.Kind = OptFOExp
			}
			b, err := p.hexBlob("Fast Open cookie")
			if err != nil {
				return err
			}
			if len(b) != 0 && (len(b) < 4 || len(b) > 16 || len(b)%2 != 0) {
				return p.errorf(t.line, "a Fast Open cookie is 4 to 16 bytes (an even number), got %d", len(b))
			}
			o.Data = b
		case "ECN", "AccECN":
			o.Kind = OptECN
			first := true
			for {
				nt, err := p.peek()
				if err != nil {
					return err
				}
				if !nt.is("e0b") && !nt.is("ceb") && !nt.is("e1b") {
					break
				}
				p.next()
				if first && nt.text == "e1b" {
					o.ECNOrder = 1
				}
				first = false
				v, _, err := p.intToken(nt.text, 0, 1<<24-1)
				if err != nil {
					return err
				}
				o.ECNVals = append(o.ECNVals, uint32(v))
			}
			if len(o.ECNVals) > 3 {
				return p.errorf(t.line, "an AccECN option has at most three counters")
			}
		default:
			return p.errorf(t.line, "unknown TCP option %q (want nop, eol, mss, wscale, sackOK, sack, TS val N ecr N, md5, FO, FOEXP, ECN)", t.text)
		}
		pk.Options = append(pk.Options, o)
		t, err = p.next()
		if err != nil {
			return err
		}
		if t.is(">") {
			break
		}
		if !t.is(",") {
			return p.errorf(t.line, "expected ',' or '>' in the TCP options, got %s", t)
		}
	}
	if n := optionsLen(pk.Options); n%4 != 0 || n > 40 {
		return p.errorf(line, "the TCP options take %d bytes: they must be a multiple of 4 and at most 40 (pad with nop)", n)
	}
	return nil
}

// hexBlob reads an optional hex value (a word or an integer token, 0x
// allowed); absent gives nil.
func (p *parser) hexBlob(what string) ([]byte, error) {
	t, err := p.peek()
	if err != nil {
		return nil, err
	}
	if t.kind != tokWord && t.kind != tokInt {
		return nil, nil
	}
	s := strings.TrimPrefix(strings.TrimPrefix(t.text, "0x"), "0X")
	if t.kind == tokWord && !isHexString(s) {
		return nil, nil // the next option's name, not a blob
	}
	p.next()
	if len(s)%2 != 0 {
		s = "0" + s
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, p.errorf(t.line, "%s: bad hex %q", what, t.text)
	}
	return b, nil
}

func isHexString(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if !isHex(s[i]) {
			return false
		}
	}
	return true
}

// parseICMP parses TYPE [CODE] [mtu N] [id N] [quoted segment].
func (p *parser) parseICMP(pk *Packet) error {
	t, err := p.next()
	if err != nil {
		return err
	}
	if t.kind != tokWord {
		return p.errorf(t.line, "expected an ICMP type (unreachable, time_exceeded, packet_too_big, ...), got %s", t)
	}
	if _, ok := icmpTypes[t.text]; !ok {
		return p.errorf(t.line, "unknown ICMP type %q", t.text)
	}
	pk.ICMPType = t.text
	for {
		t, err := p.peek()
		if err != nil {
			return err
		}
		switch {
		case t.is("mtu"):
			p.next()
			v, _, err := p.intToken("mtu", 0, 65535)
			if err != nil {
				return err
			}
			pk.MTU = int(v)
		case t.is("id"):
			p.next()
			if _, _, err := p.intToken("id", 0, 65535); err != nil {
				return err
			}
		case t.is("["):
			p.next()
			if ok, err := p.accept("udp"); err != nil {
				return err
			} else if ok {
				pk.QuoteUDP = true
				if _, err := p.expect("(", "'('"); err != nil {
					return err
				}
				n, _, err := p.intToken("UDP length", 0, 65507)
				if err != nil {
					return err
				}
				pk.QuoteLen = int(n)
				if _, err := p.expect(")", "')'"); err != nil {
					return err
				}
			} else {
				q := &Packet{}
				if err := p.parseSeq(q); err != nil {
					return err
				}
				pk.QuoteSeq, pk.QuoteLen = q.Seq, q.Len
			}
			pk.HasQuote = true
			if _, err := p.expect("]", "']' after the quoted segment"); err != nil {
				return err
			}
		case t.kind == tokWord && pk.ICMPCode == "" && !t.is("ack") && !t.is("win"):
			if _, ok := icmpCodes[t.text]; !ok {
				return p.errorf(t.line, "unknown ICMP code %q", t.text)
			}
			p.next()
			pk.ICMPCode = t.text
		default:
			return nil
		}
	}
}

// flagString prints a packet's flags as a script writes them.
func flagString(pk *Packet) string {
	return flagWord(pk.Flags, pk.AE, pk.HasACE, pk.ACE)
}

// flagWord prints flags in the script's notation: letters in the order
// F S R P U E W A, then an ACE digit, then '.' for ACK; "-" for none.
func flagWord(flags uint8, ae, hasACE bool, ace uint8) string {
	var b strings.Builder
	for _, f := range [...]struct {
		c   byte
		bit uint8
	}{{'F', flagFIN}, {'S', flagSYN}, {'R', flagRST}, {'P', flagPSH}, {'U', flagURG}, {'E', flagECE}, {'W', flagCWR}} {
		if flags&f.bit != 0 {
			b.WriteByte(f.c)
		}
	}
	if ae {
		b.WriteByte('A')
	}
	if hasACE {
		b.WriteByte('0' + ace)
	}
	if flags&flagACK != 0 {
		b.WriteByte('.')
	}
	if b.Len() == 0 {
		return "-"
	}
	return b.String()
}
