package sim_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/synack-go/synack"
	"github.com/synack-go/synack/link/pipe"
	"github.com/synack-go/synack/sim"
	"github.com/synack-go/synack/wire"
)

// A driver that plays the peer itself, as a packet-script runner does: it
// holds one end of the link, writes raw IP packets into it, reads what the
// stack answers with the virtual time it was sent, starts a call that
// blocks (Accept) on a goroutine of the simulation, and moves time.
func Example_driver() {
	s := sim.New(sim.Config{Seed: 1})
	defer s.Close()
	stackEnd, peer := s.Pipe(pipe.Config{})
	st, err := synack.NewStack(stackEnd, synack.Options{Clock: s, Rand: s.Rand(),
		Addrs: []netip.Prefix{netip.MustParsePrefix("192.0.2.1/24")}})
	if err != nil {
		panic(err)
	}
	defer st.Close()
	ln, err := st.Listen("tcp", "192.0.2.1:8080")
	if err != nil {
		panic(err)
	}
	var accepted *synack.Conn
	s.Go(func() { accepted, _ = ln.(*synack.Listener).AcceptTCP() }) // blocks until a handshake completes

	us, them := netip.MustParseAddrPort("192.0.2.2:5000"), netip.MustParseAddrPort("192.0.2.1:8080")
	send := func(seg wire.TCPSegment) {
		seg.SrcPort, seg.DstPort = us.Port(), them.Port()
		pkt := make([]byte, 20+seg.Len())
		wire.PutIPHeader(pkt, us.Addr(), them.Addr(), wire.ProtoTCP, seg.Len(), 64)
		seg.Emit(pkt[20:])
		wire.TCP(pkt[20:]).SetChecksum(us.Addr(), them.Addr())
		peer.WriteBatch([][]byte{pkt})
	}
	recv := func() (wire.TCPSegment, time.Duration) {
		p, err := peer.ReadPacket(s.Now().Add(time.Second)) // runs the simulation until a packet comes
		if err != nil {
			panic(err)
		}
		var ip wire.IPPacket
		var seg wire.TCPSegment
		wire.ParseIP(p.Data, &ip)
		seg.Parse(wire.TCP(ip.Payload))
		return seg, p.At.Sub(s.Start())
	}

	s.RunUntil(s.Start().Add(100 * time.Millisecond))
	send(wire.TCPSegment{Seq: 1000, Flags: wire.SYN, Window: 65535, Options: wire.TCPOptions{MSS: 1460}})
	synAck, at := recv()
	fmt.Printf("%v at %v, ack %d\n", synAck.Flags, at, synAck.Ack)

	// Lose the SYN-ACK: the stack sends it again after its initial RTO.
	again, at := recv()
	fmt.Printf("%v again at %v\n", again.Flags, at)

	send(wire.TCPSegment{Seq: 1001, Ack: synAck.Seq + 1, Flags: wire.ACK, Window: 65535})
	s.RunFor(0) // what the ACK causes, at this instant
	fmt.Println("accepted:", accepted != nil, "at", s.Elapsed())
	// Output:
	// S. at 100ms, ack 1001
	// S. again at 1.1s
	// accepted: true at 1.1s
}
