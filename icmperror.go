package synack

import (
	"syscall"

	"github.com/synack-go/synack/inet"
	"github.com/synack-go/synack/tcp"
	"github.com/synack-go/synack/wire"
)

// icmpError hands an ICMP error to the flow whose packet it quotes (RFC
// 1122 §4.2.3.9: "The necessary demultiplexing information can be found in
// the IP header contained within the ICMP message"): a TCP connection,
// whose TCB checks the quoted sequence number and decides what the error
// does (tcp/icmp.go, tcp/pmtu.go), or a connected UDP socket.
func (s *Stack) icmpError(in *inet.ICMPIn, tx *txBatch) {
	key := flowKey{in.Key.Local, in.Key.Remote}
	if in.Key.Proto == wire.ProtoUDP {
		s.udpICMPError(key, in.Action == inet.ICMPHard, in.Errno) // udp_io.go
		return
	}
	c := s.lookup(key)
	if c == nil {
		s.dropICMP(inet.ICMPNoFlow, key.local, key.remote)
		return
	}
	var mss uint32
	if in.Action == inet.ICMPTooBig {
		// The path MTU less the IP and TCP headers (RFC 1191 §3.1).
		mss = in.PathMTU - uint32(wire.IPHeaderLen(key.local.Addr())) - 20
	}
	c.icmpError(in.Quote.TCPSeq(), in.Action, in.Errno, mss, tx)
}

// icmpError applies an ICMP error quoting our segment with sequence number
// seq, if the TCB finds seq in flight (RFC 5927 §4.1), and sends what that
// makes due: the connection's end, or its data again in smaller segments.
func (c *Conn) icmpError(seq tcp.Seq, act inet.ICMPAction, errno syscall.Errno, mss uint32, tx *txBatch) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.s
	switch {
	case c.gone:
		s.dropICMP(inet.ICMPNoFlow, c.key.local, c.key.remote)
		return
	case !c.tcb.AcceptsICMP(seq):
		s.dropICMP(inet.ICMPOutOfWindow, c.key.local, c.key.remote)
		return
	}
	now := s.now()
	switch act {
	case inet.ICMPSoft:
		c.tcb.SoftError(errno)
	case inet.ICMPHard:
		c.tcb.HardError(errno)
	case inet.ICMPTooBig:
		if c.tcb.LowerMTU(mss, now) {
			s.ctr.pmtuReductions.Add(1)
		}
	}
	s.ctr.icmpErrors.Add(1)
	c.pollLocked(now, tx)
}
