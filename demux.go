package synack

import (
	"net/netip"

	"github.com/synack-go/synack/tcp"
	"github.com/synack-go/synack/trace"
	"github.com/synack-go/synack/wire"
)

// readLoop is the stack's link goroutine: it reads batches of packets and
// runs each to completion, then writes what they produced in one batch.
func (s *Stack) readLoop() {
	defer s.wg.Done()
	n := max(s.ep.BatchSize(), 1)
	bufs := make([][]byte, n)
	for i := range bufs {
		bufs[i] = make([]byte, s.mtu)
	}
	sizes := make([]int, n)
	tx := newTxBatch(s)
	var seg wire.TCPSegment
	for {
		k, err := s.ep.ReadBatch(bufs, sizes)
		if err != nil {
			return
		}
		for i := 0; i < k; i++ {
			s.deliver(bufs[i][:sizes[i]], &seg, tx)
		}
		tx.flush()
	}
}

// deliver parses one packet and hands it to its connection, its listener,
// or answers it with a RST (RFC 9293 §3.10.7.1). Every discard is counted.
func (s *Stack) deliver(pkt []byte, seg *wire.TCPSegment, tx *txBatch) {
	s.ctr.packetsIn.Add(1)
	var ip wire.IPPacket
	if err := wire.ParseIP(pkt, &ip); err != nil {
		switch err {
		case wire.ErrFragment:
			s.ctr.fragment.Add(1)
		case wire.ErrChecksum:
			s.ctr.checksum.Add(1)
		default:
			s.ctr.malformed.Add(1)
		}
		s.traceDrop(netip.AddrPort{}, netip.AddrPort{}, err.Error())
		return
	}
	if !s.isLocal(ip.Dst) {
		s.ctr.notForUs.Add(1)
		return
	}
	if ip.Protocol != wire.ProtoTCP {
		s.ctr.proto.Add(1)
		return
	}
	b := wire.TCP(ip.Payload)
	if err := seg.Parse(b); err != nil {
		s.ctr.malformed.Add(1)
		s.traceDrop(netip.AddrPortFrom(ip.Dst, 0), netip.AddrPortFrom(ip.Src, 0), "malformed")
		return
	}
	key := flowKey{netip.AddrPortFrom(ip.Dst, seg.DstPort), netip.AddrPortFrom(ip.Src, seg.SrcPort)}
	if !b.VerifyChecksum(ip.Src, ip.Dst) {
		s.ctr.checksum.Add(1)
		s.traceDrop(key.local, key.remote, "bad-checksum")
		return
	}
	s.ctr.segsIn.Add(1)
	if seg.Flags&wire.RST != 0 {
		s.ctr.rstsIn.Add(1)
	}
	if s.tracer != nil {
		s.trace(&trace.Event{Kind: trace.SegmentIn, Local: key.local, Remote: key.remote, Seg: seg})
	}
	if c := s.lookup(key); c != nil {
		if c.input(seg, tx) {
			return
		}
		// A SYN that may reuse the 4-tuple of a connection in TIME_WAIT
		// (RFC 6191): the old incarnation is gone; the listener decides.
	}
	if l := s.listenerFor(key.local); l != nil {
		l.input(key, seg, tx, 0)
		return
	}
	s.ctr.noListener.Add(1)
	s.replyRST(key, seg, tx)
}

// replyRST answers a segment that reached no connection: RFC 9293 §3.10.7.1.
func (s *Stack) replyRST(key flowKey, seg *wire.TCPSegment, tx *txBatch) {
	var rst wire.TCPSegment
	if tcp.ReplyRST(seg, &rst) {
		tx.to(key.local.Addr(), key.remote.Addr())
		tx.Emit(&rst)
	}
}

func (s *Stack) traceDrop(local, remote netip.AddrPort, why string) {
	if s.tracer != nil {
		s.trace(&trace.Event{Kind: trace.Drop, Local: local, Remote: remote, Why: why})
	}
}
