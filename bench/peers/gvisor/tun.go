package main

import (
	"context"
	"errors"
	"fmt"
	"net"

	"golang.org/x/sys/unix"

	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/link/fdbased"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"

	"github.com/synack-go/synack/bench/workload"
)

// tunDevice names the device in its namespace.
const tunDevice = "gvisor0"

// tunNet is tun-bulk's Net for gVisor: a gVisor stack on a TUN device
// through fdbased, as tun2socks sets it up on Linux (readv dispatch, one
// packet per read, no offload flags; the kernel's checksums trusted), one
// descriptor per queue with -queues; or with -offload, through its GSO path
// as tailscale sets it up (tun_gso.go); and the kernel behind it as the
// server host.
type tunNet struct {
	host *workload.TUNHost
	fds  []int
	gso  *gsoTUN // with offloads; it owns fds[0]
	s    *stack.Stack
	note string
}

func newTUNNet(spec workload.Spec) (workload.Net, error) {
	mtu := spec.MTU
	if mtu == 0 {
		mtu = 1500
	}
	if spec.BatchACKs {
		return nil, fmt.Errorf("%w: batched ACKs are synack's", errors.ErrUnsupported)
	}
	queues := max(spec.Queues, 1)
	if spec.Offload && queues > 1 {
		return nil, fmt.Errorf("%w: gvisor with offloads on one queue only", errors.ErrUnsupported)
	}
	h, err := workload.NewTUNHost()
	if err != nil {
		return nil, err
	}
	n := &tunNet{host: h}
	var flags uint16
	if spec.Offload {
		flags |= unix.IFF_VNET_HDR
	}
	if queues > 1 {
		flags |= unix.IFF_MULTI_QUEUE
	}
	if err := h.Do(func() error {
		for range queues {
			fd, err := openTUN(tunDevice, flags)
			if err != nil {
				return err
			}
			n.fds = append(n.fds, fd)
		}
		return nil
	}); err != nil {
		n.closeFDs()
		h.Close()
		return nil, err
	}
	fail := func(err error) (workload.Net, error) {
		if n.gso != nil {
			n.gso.Close()
		} else {
			n.closeFDs()
		}
		h.Close()
		return nil, err
	}
	if err := h.Configure(tunDevice, mtu); err != nil {
		return fail(err)
	}
	var ep stack.LinkEndpoint
	if spec.Offload {
		if n.gso, err = newGSOTUN(n.fds[0], mtu); err != nil {
			return fail(err)
		}
		ep = n.gso.ep
		n.note = "its GSO path to a TUN device with virtio-net headers (TSO both ways, checksums left to the kernel), as tailscale sets it up, and the kernel's sockets in the same netns as peer"
	} else {
		for _, fd := range n.fds {
			if err := unix.SetNonblock(fd, true); err != nil {
				return fail(err)
			}
		}
		if ep, err = fdbased.New(&fdbased.Options{FDs: n.fds, MTU: uint32(mtu),
			PacketDispatchMode: fdbased.Readv, RXChecksumOffload: true}); err != nil {
			return fail(err)
		}
		n.note = "fdbased on a TUN device (readv, no offloads), the kernel's sockets in the same netns as peer"
		if queues > 1 {
			n.note = fmt.Sprintf("fdbased on a TUN device with %d queues, a descriptor each (readv, no offloads), the kernel's sockets in the same netns as peer", queues)
		}
	}
	if n.s, err = newStack(ep, workload.TUNStackPrefix, spec.CC); err != nil {
		return fail(err)
	}
	return n, nil
}

func (n *tunNet) closeFDs() error {
	var err error
	for _, fd := range n.fds {
		err = errors.Join(err, unix.Close(fd))
	}
	return err
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
	if n.gso != nil {
		return errors.Join(err, n.gso.Close())
	}
	return errors.Join(err, n.closeFDs())
}

func (n *tunNet) Note() string { return n.note }
