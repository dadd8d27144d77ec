package netstack

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/synack-go/synack"
)

// errNoUDP is what the UDP methods return until package synack has UDP
// sockets; LookupHost then asks its servers over TCP.
var errNoUDP = fmt.Errorf("synack has no UDP sockets yet: %w", errors.ErrUnsupported)

// noUDP is the datagramStack of a stack without UDP.
type noUDP struct{}

func newDatagramStack(*synack.Stack) datagramStack { return noUDP{} }

func (noUDP) dialUDP(laddr, raddr netip.AddrPort) (datagramConn, error) {
	e := &net.OpError{Op: "dial", Net: "udp", Err: errNoUDP}
	if raddr.IsValid() {
		e.Addr = net.UDPAddrFromAddrPort(raddr)
	}
	return nil, e
}
