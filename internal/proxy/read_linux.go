package proxy

import (
	"io"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// BindSocket binds an outgoing socket to an interface (SO_BINDTODEVICE)
// and marks it (SO_MARK), for a dialer's Control, so that its packets do
// not loop back into the proxy's own TUN device (--out-interface, --fwmark).
func BindSocket(fd uintptr, iface string, mark uint) error {
	if iface != "" {
		if err := unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, iface); err != nil {
			return os.NewSyscallError("setsockopt SO_BINDTODEVICE", err)
		}
	}
	if mark != 0 {
		if err := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, int(mark)); err != nil {
			return os.NewSyscallError("setsockopt SO_MARK", err)
		}
	}
	return nil
}

// readUpstream reads what the upstream connection c has, into a buffer of
// relayBufs it takes only once the socket is readable (rc, c's raw socket),
// so that an idle flow holds none; without rc it reads into one as usual.
// It returns the buffer (the caller puts it back; nil when none was
// taken), the bytes read, and io.EOF at the end of the stream.
func readUpstream(c net.Conn, rc syscall.RawConn) (*[]byte, int, error) {
	if rc == nil {
		bp := relayBufs.Get().(*[]byte)
		n, err := c.Read(*bp)
		return bp, n, err
	}
	var bp *[]byte
	var n int
	var rerr error
	err := rc.Read(func(fd uintptr) bool {
		b := relayBufs.Get().(*[]byte)
		for {
			n, rerr = unix.Read(int(fd), *b)
			if rerr != unix.EINTR {
				break
			}
		}
		if rerr == unix.EAGAIN {
			relayBufs.Put(b)
			return false
		}
		bp = b
		return true
	})
	switch {
	case err != nil:
		if bp != nil {
			relayBufs.Put(bp)
		}
		return nil, 0, err
	case rerr != nil:
		return bp, 0, os.NewSyscallError("read", rerr)
	case n == 0:
		return bp, 0, io.EOF
	}
	return bp, n, nil
}
