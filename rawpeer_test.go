package synack

import (
	"net/netip"
	"testing"
	"time"

	"github.com/synack-go/synack/link"
	"github.com/synack-go/synack/wire"
)

// rawPeer drives one end of a pipe by hand: it sends segments built with
// package wire and reads what the stack on the other end answers.
type rawPeer struct {
	t  testing.TB
	ep link.Endpoint
	in chan []byte
}

func newRawPeer(t testing.TB, ep link.Endpoint) *rawPeer {
	r := &rawPeer{t: t, ep: ep, in: make(chan []byte, 1024)}
	go func() {
		defer close(r.in)
		bufs, sizes := [][]byte{make([]byte, ep.MTU())}, []int{0}
		for {
			if _, err := ep.ReadBatch(bufs, sizes); err != nil {
				return
			}
			r.in <- append([]byte(nil), bufs[0][:sizes[0]]...)
		}
	}()
	t.Cleanup(func() { ep.Close() })
	return r
}

// packet builds an IP packet carrying seg from src to dst.
func packet(src, dst netip.AddrPort, seg *wire.TCPSegment) []byte {
	seg.SrcPort, seg.DstPort = src.Port(), dst.Port()
	hl := wire.IPHeaderLen(dst.Addr())
	pkt := make([]byte, hl+seg.Len())
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

// recv returns the next TCP segment the stack sent, or fails the test
// after a second.
func (r *rawPeer) recv() (wire.IPPacket, wire.TCPSegment) {
	r.t.Helper()
	ip, seg, ok := r.recvWithin(time.Second)
	if !ok {
		r.t.Fatal("no segment from the stack")
	}
	return ip, seg
}

// recvWithin is recv with a timeout; ok is false if nothing came.
func (r *rawPeer) recvWithin(d time.Duration) (ip wire.IPPacket, seg wire.TCPSegment, ok bool) {
	r.t.Helper()
	select {
	case pkt := <-r.in:
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
	case <-time.After(d):
		return ip, seg, false
	}
}
