package script

import (
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// The failure messages show both segments as tcpdump prints them (with
// -n, sequence numbers relative as in the script), so that the expected
// and the actual line up:
//
//	IP 192.168.0.1.8080 > 192.0.2.1.45678: Flags [P.], seq 1:1001, ack 1, win 256, options [nop,nop,TS val 5 ecr 100], length 1000

// tcpdumpLine builds one line from its parts. win < 0 is left out; opts is
// the text inside options [...] ("" for none).
func tcpdumpLine(src, dst netip.Addr, sport, dport uint16, flags string, seq uint32, n int, ack uint32, hasAck bool, win int, urg uint16, opts string) string {
	var b strings.Builder
	if src.Is6() {
		b.WriteString("IP6 ")
	} else {
		b.WriteString("IP ")
	}
	b.WriteString(src.String() + "." + strconv.Itoa(int(sport)) + " > " + dst.String() + "." + strconv.Itoa(int(dport)))
	b.WriteString(": Flags [" + flags + "]")
	b.WriteString(", seq " + strconv.FormatUint(uint64(seq), 10))
	if n > 0 {
		b.WriteString(":" + strconv.FormatUint(uint64(seq+uint32(n)), 10))
	}
	if hasAck {
		b.WriteString(", ack " + strconv.FormatUint(uint64(ack), 10))
	}
	if win >= 0 {
		b.WriteString(", win " + strconv.Itoa(win))
	}
	if urg != 0 {
		b.WriteString(", urg " + strconv.Itoa(int(urg)))
	}
	if opts != "" {
		b.WriteString(", options [" + opts + "]")
	}
	b.WriteString(", length " + strconv.Itoa(n))
	return b.String()
}

// tcpdumpFlags prints flags as tcpdump does: F S R P then '.' for ACK,
// then U E W; "none" for no flags.
func tcpdumpFlags(flags uint8, ae bool) string {
	var b strings.Builder
	for _, f := range [...]struct {
		c   byte
		bit uint8
	}{{'F', flagFIN}, {'S', flagSYN}, {'R', flagRST}, {'P', flagPSH}, {'.', flagACK}, {'U', flagURG}, {'E', flagECE}, {'W', flagCWR}} {
		if flags&f.bit != 0 {
			b.WriteByte(f.c)
		}
	}
	if ae {
		b.WriteString("A")
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}

// scriptOptionsText prints a script's options as tcpdump would.
func scriptOptionsText(opts []Option) string {
	parts := make([]string, 0, len(opts))
	for _, o := range opts {
		switch o.Kind {
		case OptNOP:
			parts = append(parts, "nop")
		case OptEOL:
			parts = append(parts, "eol")
		case OptMSS:
			parts = append(parts, "mss "+strconv.Itoa(int(o.MSS)))
		case OptWScale:
			parts = append(parts, "wscale "+strconv.Itoa(int(o.WScale)))
		case OptSACKOK:
			parts = append(parts, "sackOK")
		case OptSACK:
			s := "sack " + strconv.Itoa(len(o.SACK)) + " "
			for _, blk := range o.SACK {
				s += "{" + strconv.FormatUint(uint64(blk[0]), 10) + ":" + strconv.FormatUint(uint64(blk[1]), 10) + "}"
			}
			parts = append(parts, s)
		case OptTS:
			parts = append(parts, "TS val "+strconv.FormatUint(uint64(o.TSVal), 10)+" ecr "+strconv.FormatUint(uint64(o.TSEcr), 10))
		case OptMD5:
			parts = append(parts, "md5")
		case OptFO, OptFOExp:
			parts = append(parts, "tfo cookie "+hex.EncodeToString(o.Data))
		case OptECN:
			parts = append(parts, "accecn")
		}
	}
	return strings.Join(parts, ",")
}

// liveOptionsText prints a live packet's options as tcpdump would, SACK
// blocks with sackBase subtracted and TS vals with tsBase.
func liveOptionsText(opts []rawOpt, sackBase, tsBase uint32) string {
	parts := make([]string, 0, len(opts))
	for _, o := range opts {
		d := o.data
		switch {
		case o.kind == kindNOP:
			parts = append(parts, "nop")
		case o.kind == kindEOL:
			parts = append(parts, "eol")
		case o.kind == kindMSS && len(d) == 2:
			parts = append(parts, "mss "+strconv.Itoa(int(binary.BigEndian.Uint16(d))))
		case o.kind == kindWScale && len(d) == 1:
			parts = append(parts, "wscale "+strconv.Itoa(int(d[0])))
		case o.kind == kindSACKOK && len(d) == 0:
			parts = append(parts, "sackOK")
		case o.kind == kindSACK && len(d)%8 == 0:
			s := "sack " + strconv.Itoa(len(d)/8) + " "
			for i := 0; i+8 <= len(d); i += 8 {
				s += "{" + strconv.FormatUint(uint64(binary.BigEndian.Uint32(d[i:])-sackBase), 10) + ":" +
					strconv.FormatUint(uint64(binary.BigEndian.Uint32(d[i+4:])-sackBase), 10) + "}"
			}
			parts = append(parts, s)
		case o.kind == kindTS && len(d) == 8:
			parts = append(parts, "TS val "+strconv.FormatUint(uint64(binary.BigEndian.Uint32(d)-tsBase), 10)+
				" ecr "+strconv.FormatUint(uint64(binary.BigEndian.Uint32(d[4:])), 10))
		default:
			parts = append(parts, "unknown-"+strconv.Itoa(int(o.kind))+" 0x"+hex.EncodeToString(d))
		}
	}
	return strings.Join(parts, ",")
}

// secs prints a run time as seconds with microseconds.
func secs(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 6, 64)
}
