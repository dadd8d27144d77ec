package wire

import "encoding/binary"

// TCP option kinds and lengths (IANA "TCP Option Kind Numbers").
const (
	optEOL       = 0 // RFC 9293 §3.2
	optNOP       = 1 // RFC 9293 §3.2
	optMSS       = 2 // RFC 9293 §3.2
	optWScale    = 3 // RFC 7323 §2.2
	optSACKPerm  = 4 // RFC 2018 §2
	optSACK      = 5 // RFC 2018 §3
	optTimestamp = 8 // RFC 7323 §3.2

	optMSSLen       = 4
	optWScaleLen    = 3
	optSACKPermLen  = 2
	optTimestampLen = 10
	optSACKBaseLen  = 2 // kind and length, before the blocks
	optSACKBlockLen = 8

	// MaxSACKBlocks is the most SACK blocks an option can carry (RFC 2018
	// §3: 2 + 8×4 = 34 bytes of the 40 available).
	MaxSACKBlocks = 4
)

// SACKBlock is one block of a SACK option (RFC 2018 §3): the receiver holds
// the bytes from Left up to, but not including, Right.
type SACKBlock struct{ Left, Right Seq }

// TCPOptions is the meaning of the options a TCP header carries. The zero
// value means no options.
type TCPOptions struct {
	// MSS is the Maximum Segment Size option (RFC 9293 §3.7.1); 0 means
	// absent.
	MSS uint16
	// HasWScale tells whether the Window Scale option (RFC 7323 §2) is
	// present; WScale is its shift count as sent, not clamped to 14.
	HasWScale bool
	WScale    uint8
	// SACKPermitted tells whether the SACK-Permitted option (RFC 2018 §2)
	// is present.
	SACKPermitted bool
	// HasTS tells whether the Timestamps option (RFC 7323 §3) is present;
	// TSVal and TSEcr are its two fields.
	HasTS        bool
	TSVal, TSEcr uint32
	// NumSACK is how many entries of SACK are in use (0 to 4). Emit writes
	// only as many as fit in the 40 option bytes after the other options.
	NumSACK int
	SACK    [MaxSACKBlocks]SACKBlock
}

// layout returns the encoded length of o and how many SACK blocks fit in it.
//
// The layout is Linux's (tcp_options_write in net/ipv4/tcp_output.c), where
// every option lands 4-byte aligned and no trailing padding is needed:
//
//	MSS                     kind 2, len 4                      4 bytes
//	SACK-Permitted + TS     kind 4, len 2, kind 8, len 10      12 bytes
//	  or TS alone           NOP, NOP, kind 8, len 10           12 bytes
//	  or SACK-Permitted     NOP, NOP, kind 4, len 2            4 bytes
//	Window Scale            NOP, kind 3, len 3                 4 bytes
//	SACK                    NOP, NOP, kind 5, len 2+8n         4+8n bytes
//
// With MSS, timestamps and window scale (20 bytes) two SACK blocks still fit;
// blocks past the 40-byte limit are dropped.
func (o *TCPOptions) layout() (n, nsack int) {
	if o.MSS != 0 {
		n += optMSSLen
	}
	switch {
	case o.HasTS:
		n += 2 + optTimestampLen
	case o.SACKPermitted:
		n += 2 + optSACKPermLen
	}
	if o.HasWScale {
		n += 1 + optWScaleLen
	}
	nsack = min(max(o.NumSACK, 0), MaxSACKBlocks, (TCPMaxOptionsLen-n-2-optSACKBaseLen)/optSACKBlockLen)
	if nsack > 0 {
		n += 2 + optSACKBaseLen + nsack*optSACKBlockLen
	}
	return n, nsack
}

// Len returns the number of bytes [TCPOptions.Emit] writes: a multiple of 4,
// at most 40.
func (o *TCPOptions) Len() int {
	n, _ := o.layout()
	return n
}

// Emit writes the options into out, in Linux's order and layout (MSS,
// SACK-Permitted and Timestamps, Window Scale, SACK blocks; see
// [TCPOptions.Len]), and returns the number of bytes written, Len(). SACK
// blocks that do not fit in 40 bytes are left out, the first ones kept.
// Emit panics only if out is shorter than Len().
func (o *TCPOptions) Emit(out []byte) int {
	n, nsack := o.layout()
	out = out[:n]
	i := 0
	if o.MSS != 0 {
		out[0], out[1] = optMSS, optMSSLen
		binary.BigEndian.PutUint16(out[2:], o.MSS)
		i += optMSSLen
	}
	switch {
	case o.HasTS:
		if o.SACKPermitted {
			out[i], out[i+1] = optSACKPerm, optSACKPermLen
		} else {
			out[i], out[i+1] = optNOP, optNOP
		}
		out[i+2], out[i+3] = optTimestamp, optTimestampLen
		binary.BigEndian.PutUint32(out[i+4:], o.TSVal)
		binary.BigEndian.PutUint32(out[i+8:], o.TSEcr)
		i += 2 + optTimestampLen
	case o.SACKPermitted:
		out[i], out[i+1], out[i+2], out[i+3] = optNOP, optNOP, optSACKPerm, optSACKPermLen
		i += 2 + optSACKPermLen
	}
	if o.HasWScale {
		out[i], out[i+1], out[i+2], out[i+3] = optNOP, optWScale, optWScaleLen, o.WScale
		i += 1 + optWScaleLen
	}
	if nsack > 0 {
		out[i], out[i+1] = optNOP, optNOP
		out[i+2], out[i+3] = optSACK, byte(optSACKBaseLen+nsack*optSACKBlockLen)
		i += 4
		for _, blk := range o.SACK[:nsack] {
			binary.BigEndian.PutUint32(out[i:], uint32(blk.Left))
			binary.BigEndian.PutUint32(out[i+4:], uint32(blk.Right))
			i += optSACKBlockLen
		}
	}
	return n
}

// Parse reads the options area b of a TCP header into o, replacing what o
// held. It never allocates or panics.
//
// NOP is skipped and End of Option List ends the list. An option whose length
// byte is missing, under 2, or runs past b is malformed: Parse returns
// ErrMalformed. Options of unknown kind are skipped by their length, and so,
// as Linux does (tcp_parse_options), are known options with a length other
// than theirs; a later copy of an option overrides an earlier one.
func (o *TCPOptions) Parse(b []byte) error {
	*o = TCPOptions{}
	for len(b) > 0 {
		switch b[0] {
		case optEOL:
			return nil
		case optNOP:
			b = b[1:]
			continue
		}
		if len(b) < 2 {
			return ErrMalformed
		}
		kind, l := b[0], int(b[1])
		if l < 2 || l > len(b) {
			return ErrMalformed
		}
		d := b[2:l]
		switch {
		case kind == optMSS && l == optMSSLen:
			o.MSS = binary.BigEndian.Uint16(d)
		case kind == optWScale && l == optWScaleLen:
			o.HasWScale, o.WScale = true, d[0]
		case kind == optSACKPerm && l == optSACKPermLen:
			o.SACKPermitted = true
		case kind == optTimestamp && l == optTimestampLen:
			o.HasTS = true
			o.TSVal = binary.BigEndian.Uint32(d)
			o.TSEcr = binary.BigEndian.Uint32(d[4:])
		case kind == optSACK && len(d) >= optSACKBlockLen && len(d)%optSACKBlockLen == 0:
			o.NumSACK = min(len(d)/optSACKBlockLen, MaxSACKBlocks)
			o.SACK = [MaxSACKBlocks]SACKBlock{}
			for i := range o.NumSACK {
				blk := d[i*optSACKBlockLen:]
				o.SACK[i] = SACKBlock{
					Left:  Seq(binary.BigEndian.Uint32(blk)),
					Right: Seq(binary.BigEndian.Uint32(blk[4:])),
				}
			}
		}
		b = b[l:]
	}
	return nil
}
