package synack

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"syscall"
)

// The errors a caller sees are package net's: an *net.OpError (Op, Net
// "tcp", Source, Addr) wrapping a syscall.Errno (ECONNREFUSED, ECONNRESET,
// ETIMEDOUT, EPIPE, EADDRINUSE, EADDRNOTAVAIL, or what an ICMP error
// reports: EHOSTUNREACH, ENETUNREACH, EACCES, ...), os.ErrDeadlineExceeded,
// net.ErrClosed or a context error, so that errors.Is sees through it.
// io.EOF from Read is returned bare, as package net does.
var (
	errAddrInUse    error = syscall.EADDRINUSE
	errAddrNotAvail error = syscall.EADDRNOTAVAIL
	errNoAddr             = errors.New("no local address of the destination's family")
	errNoPorts            = errors.New("no free ephemeral port")
	errTooManyConns error = syscall.ENOBUFS // Options.MaxConns reached
	errClosed             = net.ErrClosed
	errDeadline           = os.ErrDeadlineExceeded
	errDecided            = errors.New("the forwarded request was decided already")
)

// opError wraps err the way package net does. A zero AddrPort leaves the
// matching field nil.
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
