package workload

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/synack-go/synack/internal/netns"
)

// nsDialer opens TCP connections inside a namespace from any goroutine. A
// socket belongs to the namespace of the thread that made it, and Go moves
// goroutines between threads, so one goroutine on a thread switched into
// the namespace for good makes the sockets, a batch at a time; the connect
// then runs on the caller's goroutine like any other socket's. (Dialing on
// that thread made each dial wait for it, one thread wake-up per step of
// the connect, for the clients' dial and the proxy's upstream one alike:
// the proxy-connrate workload measured the harness more than the proxies.)
type nsDialer struct {
	reqs chan sockReq
	done chan error

	mu    sync.Mutex
	spare map[int][]int // made and not used yet, by address family
	port  int           // the local port the next connection binds, in [minDialPort, maxDialPort]
}

// The local ports dialed connections take in turn, as a NAT hands them out,
// rather than the kernel's random picks: a 4-tuple then comes back only
// after some 50,000 other connections, not while the proxy in between may
// still hold it (in TIME_WAIT, say). With random ports gVisor's
// proxy-connrate runs failed after a few thousand connections, a connect
// left unanswered for 30 s (under the dialer before this one too, in a 10 s
// run); with ports in turn they do not. Why gVisor drops that SYN was not
// looked into.
const (
	minDialPort = 10000
	maxDialPort = 60999
)

// sockReq asks for a batch of sockets of an address family.
type sockReq struct {
	family int
	reply  chan sockBatch
}

type sockBatch struct {
	fds []int
	err error
}

// nsSocketBatch is how many sockets one request makes.
const nsSocketBatch = 32

func newNSDialer(ns *netns.NS) *nsDialer {
	d := &nsDialer{reqs: make(chan sockReq), done: make(chan error, 1), spare: make(map[int][]int), port: minDialPort}
	go func() {
		d.done <- ns.Do(func() error {
			for r := range d.reqs {
				var b sockBatch
				for range nsSocketBatch {
					fd, err := unix.Socket(r.family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
					if err != nil {
						b.err = os.NewSyscallError("socket", err)
						break
					}
					b.fds = append(b.fds, fd)
				}
				r.reply <- b
			}
			return nil
		})
	}()
	return d
}

// socket returns a socket of family made in the namespace.
func (d *nsDialer) socket(ctx context.Context, family int) (int, error) {
	d.mu.Lock()
	if fds := d.spare[family]; len(fds) > 0 {
		fd := fds[len(fds)-1]
		d.spare[family] = fds[:len(fds)-1]
		d.mu.Unlock()
		return fd, nil
	}
	d.mu.Unlock()
	r := sockReq{family: family, reply: make(chan sockBatch, 1)}
	select {
	case d.reqs <- r:
	case <-ctx.Done():
		return -1, ctx.Err()
	}
	b := <-r.reply
	if len(b.fds) == 0 {
		return -1, b.err
	}
	d.mu.Lock()
	d.spare[family] = append(d.spare[family], b.fds[1:]...)
	d.mu.Unlock()
	return b.fds[0], nil
}

// dial connects to addr (an IP address and port) from the namespace.
func (d *nsDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || (network != "tcp" && network != "tcp4" && network != "tcp6") {
		return nil, fmt.Errorf("workload: dial %s %s: want tcp to an IP address and port", network, addr)
	}
	family, sa := unix.AF_INET, unix.Sockaddr(&unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()})
	if ap.Addr().Is6() && !ap.Addr().Is4In6() {
		family, sa = unix.AF_INET6, &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
	}
	fd, err := d.socket(ctx, family)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "socket")
	c, err := net.FileConn(f) // a duplicate, in the runtime's poller
	f.Close()
	if err != nil {
		return nil, err
	}
	if err := d.bind(c.(*net.TCPConn), family); err != nil {
		c.Close()
		return nil, err
	}
	if err := connect(ctx, c.(*net.TCPConn), sa); err != nil {
		c.Close()
		return nil, &net.OpError{Op: "dial", Net: network, Addr: net.TCPAddrFromAddrPort(ap), Err: err}
	}
	return c, nil
}

// bind binds c's socket to the next free local port (minDialPort).
func (d *nsDialer) bind(c *net.TCPConn, family int) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var berr error
	err = rc.Control(func(fd uintptr) {
		for range maxDialPort - minDialPort + 1 {
			d.mu.Lock()
			port := d.port
			d.port++
			if d.port > maxDialPort {
				d.port = minDialPort
			}
			d.mu.Unlock()
			var sa unix.Sockaddr = &unix.SockaddrInet4{Port: port}
			if family == unix.AF_INET6 {
				sa = &unix.SockaddrInet6{Port: port}
			}
			if berr = unix.Bind(int(fd), sa); berr != unix.EADDRINUSE {
				return
			}
		}
	})
	if err != nil {
		return err
	}
	return os.NewSyscallError("bind", berr)
}

// connect connects c's unconnected, non-blocking socket to sa, waiting in
// the runtime's poller, until ctx's deadline if it has one.
func connect(ctx context.Context, c *net.TCPConn, sa unix.Sockaddr) error {
	if dl, ok := ctx.Deadline(); ok {
		c.SetWriteDeadline(dl)
		defer c.SetWriteDeadline(time.Time{})
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	started := false
	var cerr error
	err = rc.Write(func(fd uintptr) bool {
		if !started {
			started = true
			cerr = unix.Connect(int(fd), sa)
			return cerr != unix.EINPROGRESS
		}
		// Writable: done if SO_ERROR says how, or the socket has a peer.
		// A socket that has not finished may look writable to the poller
		// at first (an unconnected socket polls as hung up).
		v, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
		switch {
		case err != nil:
			cerr = err
			return true
		case v != 0:
			cerr = syscall.Errno(v)
			return true
		}
		if _, err := unix.Getpeername(int(fd)); errors.Is(err, unix.ENOTCONN) {
			return false
		}
		cerr = nil
		return true
	})
	if err != nil {
		return err
	}
	return cerr
}

// close stops the namespace's goroutine and closes the spare sockets.
func (d *nsDialer) close() {
	close(d.reqs)
	<-d.done
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, fds := range d.spare {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}
	d.spare = nil
}
