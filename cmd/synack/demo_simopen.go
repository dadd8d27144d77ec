package main

import (
	"context"
	"net/netip"

	"github.com/synack-go/synack"
)

// The two ends of the simultaneous open: each dials the other from a fixed
// port, so that the 4-tuples match and the SYNs meet.
var (
	simOpenClient = netip.MustParseAddrPort("10.0.0.1:5000")
	simOpenServer = netip.MustParseAddrPort("10.0.0.2:6000")
)

// playSimultaneousOpen has both stacks dial each other at the same instant
// (Stack.DialAddrPort from a fixed port): the SYNs cross on the link, each
// end moves from SYN_SENT to SYN_RECV and answers with a SYN-ACK, and each
// SYN-ACK makes its receiver ESTABLISHED (RFC 9293 §3.5, Figure 8). Nobody
// listens.
func playSimultaneousOpen(r *demoRun) {
	if r.err != nil {
		return
	}
	r.say("client (%v) and server (%v) each dial the other at the same instant; nobody listens", simOpenClient, simOpenServer)
	r.settle()
	ends := [2]struct {
		stack       *synack.Stack
		laddr, peer netip.AddrPort
	}{{r.client, simOpenClient, simOpenServer}, {r.server, simOpenServer, simOpenClient}}
	var ds [2]*dialing
	for i, e := range ends {
		ds[i] = &dialing{}
		r.goDial(ds[i], func(ctx context.Context) (*synack.Conn, error) {
			return e.stack.DialAddrPort(ctx, e.laddr, e.peer)
		})
	}
	c, err := r.finish(ds[0])
	r.fail(err)
	s, err := r.finish(ds[1])
	r.fail(err)
	if r.err != nil {
		return
	}
	r.pairs = append(r.pairs, [2]*synack.Conn{c, s})
	r.say("both ends are ESTABLISHED after four segments, with no LISTEN anywhere")
}
