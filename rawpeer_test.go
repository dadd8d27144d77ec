package synack

import (
	"net/netip"
	"testing"
	"time"

	"github.com/synack-go/synack/sim"
	"github.com/synack-go/synack/wire"
)

// rawPeer drives one end of a simulated link by hand: it sends segments
// built with package wire and reads what the stack on the other end
// answers. Its waits are on virtual time.
type rawPeer struct {
	t  testing.TB
	sm *sim.Sim
	ep *sim.Endpoint
}

func newRawPeer(t testing.TB, sm *sim.Sim, ep *sim.Endpoint) *rawPeer {
	return &rawPeer{t: t, sm: sm, ep: ep}
}

// packet builds an IP packet carrying seg from src to dst.
func packet(src, dst netip.AddrPort, seg *wire.TCPSegment) []byte {
	return packetInto(nil, src, dst, seg)
}

// packetInto is packet, built in buf if it has the capacity.
func packetInto(buf []byte, src, dst netip.AddrPort, seg *wire.TCPSegment) []byte {
	seg.SrcPort, seg.DstPort = src.Port(), dst.Port()
	hl := wire.IPHeaderLen(dst.Addr())
	pkt := buf[:0]
	if n := hl + seg.Len(); cap(pkt) >= n {
		pkt = pkt[:n]
	} else {
		pkt = make([]byte, n)
	}
	wire.PutIPHeader(pkt, src.Addr(), dst.Addr(), wire.ProtoTCP, seg.Len(), 64)
	seg.Emit(pkt[hl:])
	wire.TCP(pkt[hl:]).SetChecksum(src.Addr(), dst.Addr())
	return pkt
}

// send writes raw packets to the link.
func (r *rawPeer) send(pkts ...[]byte) {
	r.t.Helper()
	if err := r.ep.WriteBatch(pkts); err != nil {
		r.t.Fatal(err)
	}
}

// sendSeg sends one segment.
func (r *rawPeer) sendSeg(src, dst netip.AddrPort, seg wire.TCPSegment) {
	r.t.Helper()
	r.send(packet(src, dst, &seg))
}

// next returns the next packet the stack sent, waiting up to d of virtual
// time; ok is false if none came.
func (r *rawPeer) next(d time.Duration) (pkt []byte, ok bool) {
	r.t.Helper()
	p, err := r.ep.ReadPacket(r.sm.Now().Add(d))
	if err != nil {
		return nil, false
	}
	return p.Data, true
}

// recv returns the next TCP segment the stack sent, or fails the test
// after a second.
func (r *rawPeer) recv() (wire.IPPacket, wire.TCPSegment) {
	r.t.Helper()
	ip, seg, ok := r.recvWithin(time.Second)
	if !ok {
		r.t.Fatal("no segment from the stack within a second")
	}
	return ip, seg
}

// recvWithin is recv with a timeout; ok is false if nothing came.
func (r *rawPeer) recvWithin(d time.Duration) (ip wire.IPPacket, seg wire.TCPSegment, ok bool) {
	r.t.Helper()
	pkt, ok := r.next(d)
	if !ok {
		return ip, seg, false
	}
	if err := wire.ParseIP(pkt, &ip); err != nil || ip.Protocol != wire.ProtoTCP {
		r.t.Fatalf("stack sent a bad packet: %v", err)
	}
	if !wire.TCP(ip.Payload).VerifyChecksum(ip.Src, ip.Dst) {
		r.t.Fatal("stack sent a bad TCP checksum")
	}
	if err := seg.Parse(wire.TCP(ip.Payload)); err != nil {
		r.t.Fatal(err)
	}
	return ip, seg, true
}
