package synack

import (
	"errors"
	"net"
	"net/netip"
)

// errNoAddr is returned when no local address of the right family exists.
var errNoAddr = errors.New("no local address for that family")

// opError wraps err the way package net does, so errors.Is sees through it.
func opError(op string, local, remote netip.AddrPort, err error) error {
	e := &net.OpError{Op: op, Net: "tcp", Err: err}
	if local.IsValid() {
		e.Source = net.TCPAddrFromAddrPort(local)
	}
	if remote.IsValid() {
		e.Addr = net.TCPAddrFromAddrPort(remote)
	}
	return e
}
