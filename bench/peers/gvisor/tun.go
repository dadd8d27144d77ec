package main

import (
	"context"
	"errors"
	"net"
	"syscall"

	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/link/fdbased"
	"gvisor.dev/gvisor/pkg/tcpip/link/tun"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"

	"github.com/synack-go/synack/bench/workload"
)

// tunDevice names the device in its namespace.
const tunDevice = "gvisor0"

// tunNet is tun-bulk's Net for gVisor: a gVisor stack on a TUN device
// through fdbased, as tun2socks sets it up on Linux (readv dispatch, one
// packet per read, no offload flags; the kernel's checksums trusted), and
// the kernel behind it as the server host.
type tunNet struct {
	host *workload.TUNHost
	fd   int
	s    *stack.Stack
}

func newTUNNet(spec workload.Spec) (workload.Net, error) {
	mtu := spec.MTU
	if mtu == 0 {
		mtu = 1500
	}
	h, err := workload.NewTUNHost()
	if err != nil {
		return nil, err
	}
	n := &tunNet{host: h, fd: -1}
	if err := h.Do(func() (err error) {
		n.fd, err = tun.Open(tunDevice)
		return err
	}); err != nil {
		h.Close()
		return nil, err
	}
	fail := func(err error) (workload.Net, error) {
		syscall.Close(n.fd)
		h.Close()
		return nil, err
	}
	if err := h.Configure(tunDevice, mtu); err != nil {
		return fail(err)
	}
	ep, err := fdbased.New(&fdbased.Options{FDs: []int{n.fd}, MTU: uint32(mtu),
		PacketDispatchMode: fdbased.Readv, RXChecksumOffload: true})
	if err != nil {
		return fail(err)
	}
	if n.s, err = newStack(ep, workload.TUNStackPrefix, spec.CC); err != nil {
		return fail(err)
	}
	return n, nil
}

// Listen listens on the kernel's side: the kernel is the server host.
func (n *tunNet) Listen(port uint16) (net.Listener, error) { return n.host.Listen(port) }

// Dial connects the gVisor stack to the kernel.
func (n *tunNet) Dial(ctx context.Context, port uint16) (net.Conn, error) {
	return gonet.DialContextTCP(ctx, n.s, fullAddr(workload.TUNKernelPrefix.Addr(), port), ipv4.ProtocolNumber)
}

func (n *tunNet) Close() error {
	n.s.Close()
	err := n.host.Close() // deleting the device ends fdbased's reads
	n.s.Wait()
	return errors.Join(err, syscall.Close(n.fd))
}

func (n *tunNet) Note() string {
	return "fdbased on a TUN device (readv, no offloads), the kernel's sockets in the same netns as peer"
}
