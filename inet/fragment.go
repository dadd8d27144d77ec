package inet

import (
	"errors"

	"github.com/synack-go/synack/wire"
)

// Errors of Fragment.
var (
	// ErrFragmentMTU: the MTU leaves no room for 8 bytes of data after
	// the headers.
	ErrFragmentMTU = errors.New("inet: MTU too small to fragment")
	// ErrFragmentHeaders: an IPv6 packet with a Hop-by-Hop or Routing
	// header, which would belong to the unfragmentable part; the stack
	// sends none.
	ErrFragmentHeaders = errors.New("inet: cannot fragment a packet with Hop-by-Hop or Routing headers")
)

// FragmentIDs hands out the Identification of datagrams the stack
// fragments: a counter per destination bucket, each starting at a random
// value, so that an off-path host can neither predict the IDs a stack uses
// towards another host nor learn its packet rate (RFC 7739 §5.3, the
// scheme Linux uses for both families; RFC 6864 §4.1 requires unique IDs
// only for datagrams that may be fragmented). It is not safe for concurrent
// use.
type FragmentIDs struct{ next [256]uint32 }

// NewFragmentIDs returns a generator whose counters start from seed, a
// random value the stack draws (Options.Rand).
func NewFragmentIDs(seed [32]byte) *FragmentIDs {
	var g FragmentIDs
	for i := range g.next {
		// Spread 32 random bytes over 256 counters: each gets a distinct
		// rotation and multiple of the seed words.
		w := uint32(seed[i%32]) | uint32(seed[(i+7)%32])<<8 | uint32(seed[(i+13)%32])<<16 | uint32(seed[(i+29)%32])<<24
		g.next[i] = w*0x9e3779b1 + uint32(i)*0x85ebca6b
	}
	return &g
}

// Next returns the ID for a datagram whose (source, destination, protocol)
// hash under the stack's secret key is h. IPv4 uses the low 16 bits.
func (g *FragmentIDs) Next(h uint32) uint32 {
	b := &g.next[(h^h>>8^h>>16^h>>24)&0xff]
	*b++
	return *b
}

// FragmentCount returns how many fragments Fragment makes of pkt, a whole
// IP packet built by the stack, for a link of mtu bytes: 1 if it fits, 0 if
// the MTU is too small to fragment it.
func FragmentCount(pkt []byte, mtu int) int {
	if len(pkt) <= mtu {
		return 1
	}
	hl, first, later := fragmentGeometry(pkt, mtu)
	if first <= 0 || later <= 0 {
		return 0
	}
	rest := len(pkt) - hl - first
	return 1 + (rest+later-1)/later
}

// fragmentGeometry returns the length of pkt's header and the data bytes
// the first and the later fragments carry, multiples of 8. For IPv4 the
// later fragments' headers may be shorter (only copied options); for IPv6
// each fragment adds a Fragment header to the fixed header.
func fragmentGeometry(pkt []byte, mtu int) (hl, first, later int) {
	if pkt[0]>>4 == 4 {
		hl = wire.IPv4(pkt).HeaderLen()
		var scratch [60]byte
		return hl, (mtu - hl) &^ 7, (mtu - copiedHeader(scratch[:], pkt[:hl])) &^ 7
	}
	per := (mtu - 40 - wire.IPv6FragmentHeaderLen) &^ 7
	return 40, per, per
}

// Fragment cuts pkt, a whole IP packet built by the stack (valid header,
// lengths set), into fragments of at most mtu bytes written to out[0],
// out[1], ... (each at least mtu bytes long; FragmentCount says how many
// are needed), sets sizes[i] to the length of fragment i, and returns how
// many it wrote. id is the datagram's Identification (see FragmentIDs).
//
// IPv4 (RFC 791 §3.2): every fragment repeats the header with Don't
// Fragment cleared, after the first with only the options marked
// "copied", and carries a multiple of 8 data bytes but the last. IPv6 (RFC
// 8200 §4.5): the source fragments; each fragment is the fixed header, a
// Fragment header naming pkt's Next Header, and the data; pkt must carry no
// Hop-by-Hop or Routing header (ErrFragmentHeaders), and its other
// extension headers go in the fragmentable part. A packet that fits is
// copied whole into out[0].
func Fragment(pkt []byte, mtu int, id uint32, out [][]byte, sizes []int) (int, error) {
	if len(pkt) <= mtu {
		sizes[0] = copy(out[0], pkt)
		return 1, nil
	}
	hl, first, later := fragmentGeometry(pkt, mtu)
	if first <= 0 || later <= 0 {
		return 0, ErrFragmentMTU
	}
	if pkt[0]>>4 == 4 {
		return fragment4(pkt, hl, first, later, uint16(id), out, sizes), nil
	}
	nh := wire.IPv6(pkt).NextHeader()
	if nh == 0 || nh == 43 {
		return 0, ErrFragmentHeaders
	}
	return fragment6(pkt, first, id, nh, out, sizes), nil
}

func fragment4(pkt []byte, hl, first, later int, id uint16, out [][]byte, sizes []int) int {
	data := pkt[hl:]
	i := 0
	for off, per := 0, first; off < len(data); off, per = off+per, later {
		n := min(per, len(data)-off)
		b := out[i]
		h := hl
		if i == 0 {
			copy(b, pkt[:hl])
		} else {
			h = copiedHeader(b, pkt[:hl])
		}
		copy(b[h:], data[off:off+n])
		v := wire.IPv4(b[:h+n])
		v[0] = 4<<4 | byte(h/4)
		v.SetFragment(id, off, off+n < len(data))
		v.SetTotalLen(h + n)
		v.SetChecksum()
		sizes[i] = h + n
		i++
	}
	return i
}

// copiedHeader writes into b the IPv4 header hdr keeps for fragments after
// the first: the fixed 20 bytes and the options whose copied flag is set,
// padded with End of Option List to a multiple of 4; it returns its length.
func copiedHeader(b, hdr []byte) int {
	copy(b, hdr[:20])
	n := 20
	opts := hdr[20:]
	for len(opts) > 0 {
		t := opts[0]
		if t == 0 { // End of Option List
			break
		}
		l := 1
		if t != 1 { // not No Operation: type, length, data
			if len(opts) < 2 || int(opts[1]) < 2 || int(opts[1]) > len(opts) {
				break // malformed: copy no more
			}
			l = int(opts[1])
		}
		if t&0x80 != 0 {
			n += copy(b[n:], opts[:l])
		}
		opts = opts[l:]
	}
	for n%4 != 0 {
		b[n] = 0
		n++
	}
	return n
}

func fragment6(pkt []byte, per int, id uint32, nh uint8, out [][]byte, sizes []int) int {
	data := pkt[40:]
	i := 0
	for off := 0; off < len(data); off += per {
		n := min(per, len(data)-off)
		b := out[i]
		copy(b, pkt[:40])
		fh := wire.IPv6FragmentHeader{NextHeader: nh, Offset: off, More: off+n < len(data), ID: id}
		fh.Emit(b[40:])
		copy(b[48:], data[off:off+n])
		v := wire.IPv6(b)
		v[6] = wire.ProtoIPv6Fragment
		v.SetPayloadLen(8 + n)
		sizes[i] = 48 + n
		i++
	}
	return i
}
