package pipe

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/synack-go/synack/link"
)

// tcpPacket is a minimal IPv4/TCP header for the ports given, to steer by.
func tcpPacket(sport, dport uint16) []byte {
	p := make([]byte, 40)
	p[0], p[9] = 0x45, 6
	copy(p[12:], []byte{10, 0, 0, 1, 10, 0, 0, 2})
	binary.BigEndian.PutUint16(p[20:], sport)
	binary.BigEndian.PutUint16(p[22:], dport)
	return p
}

// Receive-side scaling: a flow's packets always land on one queue, the same
// one at both ends for its two directions, and flows spread over the
// queues.
func TestQueuesSpreadFlows(t *testing.T) {
	a, b := New(Config{Queues: 4})
	defer a.Close()
	ae, be := a.(*Endpoint), b.(*Endpoint)
	if ae.NumQueues() != 4 {
		t.Fatalf("%d queues", ae.NumQueues())
	}
	used := map[uint32]bool{}
	for port := uint16(40000); port < 40064; port++ {
		fwd, rev := tcpPacket(port, 80), tcpPacket(80, port)
		copy(rev[12:], []byte{10, 0, 0, 2, 10, 0, 0, 1})
		q := be.flowHash(fwd) % 4
		if q != ae.flowHash(rev)%4 {
			t.Fatalf("port %d: the two directions hash to different queues", port)
		}
		used[q] = true
	}
	if len(used) != 4 {
		t.Fatalf("64 flows used queues %v", used)
	}
	// Writes land on the queue of their flow, whichever queue wrote them.
	pkt := tcpPacket(40000, 80)
	want := int(be.flowHash(pkt) % 4)
	if err := ae.Queue(3).WriteBatch([][]byte{pkt, pkt}); err != nil {
		t.Fatal(err)
	}
	got := readN(t, be.Queue(want), 2)
	if !bytes.Equal(got[0], pkt) || !bytes.Equal(got[1], pkt) {
		t.Fatal("the flow's packets did not arrive on its queue")
	}
}

// With offloads, a TSO packet crosses whole with its metadata; a plain
// reader (ReadBatch) gets it cut into segments with their checksums, and a
// plain writer's packets arrive as plain packets.
func TestOffloadCrossesWhole(t *testing.T) {
	a, b := New(Config{Offload: true})
	defer a.Close()
	ae, be := a.(*Endpoint), b.(*Endpoint)
	off := ae.Offloads()
	if !off.TSO4 || !off.TxChecksum || off.Headroom != link.VirtioNetHdrLen || off.MaxPacket != 65535 {
		t.Fatalf("offloads %+v", off)
	}
	// 3000 bytes of payload at a GSO size of 1000, behind the headroom.
	pkt := make([]byte, off.Headroom+20+20+3000)
	ip := pkt[off.Headroom:]
	ip[0], ip[9] = 0x45, 6
	binary.BigEndian.PutUint16(ip[2:], uint16(len(ip)))
	copy(ip[12:], []byte{10, 0, 0, 1, 10, 0, 0, 2})
	ip[20+12] = 5 << 4
	m := link.Meta{Flags: link.NeedsChecksum, GSO: link.GSOTCPv4, HdrLen: 40, GSOSize: 1000, CsumStart: 20, CsumOffset: 16}
	if err := ae.WritePackets([][]byte{pkt}, []link.Meta{m}); err != nil {
		t.Fatal(err)
	}
	bufs, sizes := buffers(1, off.Headroom+off.MaxPacket)
	meta := make([]link.Meta, 1)
	n, err := be.ReadPackets(bufs, sizes, meta)
	if err != nil || n != 1 || sizes[0] != len(ip) || meta[0] != m {
		t.Fatalf("read %d packets (%v): %d bytes, %+v", n, err, sizes[0], meta[0])
	}
	if s := ae.Stats(); s.GSO != 1 {
		t.Fatalf("stats %+v", s)
	}
	// The same through ReadBatch: three segments of at most the MTU.
	ae.WritePackets([][]byte{pkt}, []link.Meta{m})
	got := readN(t, b, 3)
	for i, g := range got {
		if len(g) != 40+1000 {
			t.Fatalf("segment %d: %d bytes", i, len(g))
		}
	}
	// A plain write arrives plain.
	plain := tcpPacket(1, 2)
	ae.WriteBatch([][]byte{plain})
	n, err = be.ReadPackets(bufs, sizes, meta)
	if err != nil || n != 1 || !bytes.Equal(bufs[0][off.Headroom:off.Headroom+sizes[0]], plain) || meta[0] != (link.Meta{}) {
		t.Fatalf("plain packet read as %d bytes, %+v", sizes[0], meta[0])
	}
	// Too big: a packet above the MTU without a GSO type.
	if err := ae.WritePackets([][]byte{pkt}, []link.Meta{{}}); err != nil || ae.Stats().TooBig != 1 {
		t.Fatalf("oversized plain packet: %v, %+v", err, ae.Stats())
	}
}
