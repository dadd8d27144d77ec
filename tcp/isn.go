package tcp

import (
	"encoding/binary"
	"net/netip"
	"time"
)

// ISNGenerator makes initial sequence numbers as RFC 6528 §3 specifies:
// ISN = M + F(localip, localport, remoteip, remoteport, secretkey), where M
// is a timer ticking every 4 microseconds and F a keyed hash (SipHash-2-4).
// Off-path attackers cannot guess it; a new incarnation of a 4-tuple starts
// above the old one. It is safe for concurrent use.
type ISNGenerator struct{ k0, k1 uint64 }

// NewISNGenerator returns a generator with a secret key, which the stack
// draws at random.
func NewISNGenerator(key [16]byte) *ISNGenerator {
	return &ISNGenerator{binary.LittleEndian.Uint64(key[:8]), binary.LittleEndian.Uint64(key[8:])}
}

// ISN returns the initial sequence number for a connection from local to
// remote at time now (the stack's monotonic clock).
func (g *ISNGenerator) ISN(local, remote netip.AddrPort, now time.Duration) Seq {
	var b tupleBytes
	f := sipHash24(g.k0, g.k1, b.fill(local, remote))
	m := uint32(now / (4 * time.Microsecond))
	return Seq(m + uint32(f))
}

// tupleBytes lays out a 4-tuple for hashing without allocating.
type tupleBytes [36]byte

func (b *tupleBytes) fill(local, remote netip.AddrPort) []byte {
	l, r := local.Addr().As16(), remote.Addr().As16()
	copy(b[0:16], l[:])
	copy(b[16:32], r[:])
	binary.BigEndian.PutUint16(b[32:], local.Port())
	binary.BigEndian.PutUint16(b[34:], remote.Port())
	return b[:]
}
