package tcp

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/synack-go/synack/wire"
)

// SYN cookie layout (RFC 4987 §3.6, in the form Linux uses): the ISS is
//
//	H1(tuple) + peer ISN + (counter << 24) + ((H2(tuple, counter) + mssIndex) mod 2^24)
//
// where counter ticks every 64 s. When the SYN carried timestamps, window
// scale and SACK-permitted ride in the low 6 bits of our TSval, which the
// peer echoes in the ACK.
const (
	cookieTick     = 64 * time.Second
	cookieMaxAge   = 2 // counter values accepted: the current and previous ones
	cookieOptsBits = 6
	cookieNoWScale = 0xf
	cookieSACKBit  = 1 << 4
)

// cookieMSS are the MSS values a cookie can carry, as Linux's table for
// IPv4 (2 bits). The largest not above the peer's MSS is chosen.
var cookieMSS = [4]uint16{536, 1300, 1440, 1460}

// SynCookies keeps a listener's half-open state in the ISS of a SYN-ACK when
// the SYN queue is full (RFC 4987 §3.6), so legitimate clients still connect
// under a SYN flood. It is safe for concurrent use.
type SynCookies struct{ k [4]uint64 }

// NewSynCookies returns a cookie maker with a secret key, which the stack
// draws at random.
func NewSynCookies(key [32]byte) *SynCookies {
	var c SynCookies
	for i := range c.k {
		c.k[i] = binary.LittleEndian.Uint64(key[8*i:])
	}
	return &c
}

func (c *SynCookies) hashes(local, remote netip.AddrPort, counter uint32) (h1, h2 uint32) {
	var b [40]byte
	var tb tupleBytes
	copy(b[:], tb.fill(local, remote))
	h1 = uint32(sipHash24(c.k[0], c.k[1], b[:36]))
	binary.BigEndian.PutUint32(b[36:], counter)
	h2 = uint32(sipHash24(c.k[2], c.k[3], b[:40]))
	return h1, h2
}

// Make returns the ISS for the SYN-ACK answering syn (sent from remote to
// local). If the SYN carried timestamps, tsVal is the TSval to send: at most
// tsNow (our timestamp clock), with window scale and SACK-permitted encoded
// in its low bits; otherwise tsVal is tsNow and only the MSS is kept.
func (c *SynCookies) Make(local, remote netip.AddrPort, syn *wire.TCPSegment, now time.Duration, tsNow uint32) (iss Seq, tsVal uint32) {
	counter := uint32(now / cookieTick)
	idx := 0
	for i, m := range cookieMSS {
		if syn.Options.MSS == 0 && i > 0 {
			break // no MSS option: RFC 9293 §3.7.1's default of 536
		}
		if m <= syn.Options.MSS {
			idx = i
		}
	}
	h1, h2 := c.hashes(local, remote, counter)
	iss = Seq(h1 + uint32(syn.Seq) + counter<<24 + (h2+uint32(idx))&0xffffff)
	tsVal = tsNow
	if syn.Options.HasTS {
		opts := uint32(cookieNoWScale)
		if syn.Options.HasWScale {
			opts = uint32(min(syn.Options.WScale, maxWindowScale))
		}
		if syn.Options.SACKPermitted {
			opts |= cookieSACKBit
		}
		tsVal = tsNow&^(1<<cookieOptsBits-1) | opts
		if int32(tsVal-tsNow) > 0 {
			tsVal -= 1 << cookieOptsBits
		}
	}
	return iss, tsVal
}

// Check validates ack, the segment that completes a cookie handshake (from
// remote to local, ACK set), and returns the options of the SYN the cookie
// kept: MSS always; window scale, SACK-permitted and timestamps when the
// peer echoes our encoded TSval. ok is false for a wrong or stale cookie.
func (c *SynCookies) Check(local, remote netip.AddrPort, ack *wire.TCPSegment, now time.Duration) (opts wire.TCPOptions, ok bool) {
	if ack.Flags&(wire.ACK|wire.SYN|wire.RST) != wire.ACK {
		return opts, false
	}
	iss := uint32(ack.Ack - 1)
	irs := uint32(ack.Seq - 1)
	counter := uint32(now / cookieTick)
	h1, _ := c.hashes(local, remote, 0)
	v := iss - h1 - irs
	got := v >> 24
	age := (counter - got) & 0xff
	if age >= cookieMaxAge {
		return opts, false
	}
	_, h2 := c.hashes(local, remote, counter-age)
	idx := (v - h2) & 0xffffff
	if idx >= uint32(len(cookieMSS)) {
		return opts, false
	}
	opts.MSS = cookieMSS[idx]
	if ack.Options.HasTS {
		enc := ack.Options.TSEcr & (1<<cookieOptsBits - 1)
		opts.HasTS = true
		opts.TSVal = ack.Options.TSVal
		if ws := enc & 0xf; ws != cookieNoWScale {
			opts.HasWScale, opts.WScale = true, uint8(ws)
		}
		opts.SACKPermitted = enc&cookieSACKBit != 0
	}
	return opts, true
}
