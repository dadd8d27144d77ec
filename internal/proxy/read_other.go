//go:build !linux

package proxy

import (
	"errors"
	"net"
	"syscall"
)

// BindSocket needs Linux.
func BindSocket(fd uintptr, iface string, mark uint) error {
	return errors.New("--out-interface and --fwmark need Linux")
}

func readUpstream(c net.Conn, rc syscall.RawConn) (*[]byte, int, error) {
	bp := relayBufs.Get().(*[]byte)
	n, err := c.Read(*bp)
	return bp, n, err
}
