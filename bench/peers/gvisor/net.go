package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"

	"github.com/synack-go/synack/bench/workload"
	"github.com/synack-go/synack/link/impair"
)

// queueLen is each channel endpoint's outbound queue, as deep as
// link/pipe's receive queue (pipe.DefaultQueueLen).
const queueLen = 1024

// memNet is two gVisor stacks in one process, each on a channel.Endpoint,
// joined by one pump goroutine per direction: the in-memory link gVisor's
// users build. Without impairments the pump hands each packet's buffer to
// the other stack without copying; with them it copies the packet through
// a link/impair Path, the same emulator synack crosses.
type memNet struct {
	client, server *stack.Stack
	ca, cb         *channel.Endpoint
	cancel         context.CancelFunc
	wg             sync.WaitGroup
	packets        atomic.Uint64
}

func newNet(spec workload.Spec) (workload.Net, error) {
	switch {
	case spec.Workload == "tun-bulk":
		return newTUNNet(spec)
	case workload.IsProxyWorkload(spec.Workload):
		return newProxyNet(spec)
	case spec.Variant != "":
		return nil, fmt.Errorf("%w: gvisor has no variant %q", errors.ErrUnsupported, spec.Variant)
	case spec.Offload || spec.Queues > 1 || spec.BatchACKs:
		return nil, fmt.Errorf("%w: gvisor's in-memory link has no offloads or queues here", errors.ErrUnsupported)
	}
	mtu := spec.MTU
	if mtu == 0 {
		mtu = 1500
	}
	n := &memNet{
		ca: channel.New(queueLen, uint32(mtu), ""),
		cb: channel.New(queueLen, uint32(mtu), ""),
	}
	var err error
	if n.client, err = newStack(n.ca, workload.ClientPrefix, spec.CC); err != nil {
		return nil, err
	}
	if n.server, err = newStack(n.cb, workload.ServerPrefix, spec.CC); err != nil {
		n.client.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	n.wg.Add(2)
	go n.pump(ctx, n.ca, n.cb, spec.Data, spec.Delivered)
	go n.pump(ctx, n.cb, n.ca, spec.Ack, nil)
	return n, nil
}

// pump moves every packet from's stack sends to to's stack, through an
// impaired path when cfg asks for one; tap, if set, sees what that path
// delivers (Spec.Delivered).
func (n *memNet) pump(ctx context.Context, from, to *channel.Endpoint, cfg impair.Config, tap func([][]byte)) {
	defer n.wg.Done()
	var path *impair.Path
	if cfg != (impair.Config{}) {
		path = impair.New(cfg, func(pkts [][]byte) {
			if tap != nil {
				tap(pkts)
			}
			for _, p := range pkts {
				inject(to, buffer.MakeWithData(p)) // p is valid only until we return: copy
			}
		})
		defer path.Close()
	}
	for {
		pkt := from.ReadContext(ctx)
		if pkt == nil {
			return
		}
		n.packets.Add(1)
		if path != nil {
			v := pkt.ToView()
			path.Send(v.AsSlice())
			v.Release()
		} else {
			inject(to, pkt.ToBuffer())
		}
		pkt.DecRef()
	}
}

// inject hands one IPv4 packet to ep's stack.
func inject(ep *channel.Endpoint, b buffer.Buffer) {
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: b})
	ep.InjectInbound(ipv4.ProtocolNumber, pkt)
	pkt.DecRef()
}

func (n *memNet) Listen(port uint16) (net.Listener, error) {
	return gonet.ListenTCP(n.server, fullAddr(workload.ServerPrefix.Addr(), port), ipv4.ProtocolNumber)
}

func (n *memNet) Dial(ctx context.Context, port uint16) (net.Conn, error) {
	return gonet.DialContextTCP(ctx, n.client, fullAddr(workload.ServerPrefix.Addr(), port), ipv4.ProtocolNumber)
}

func (n *memNet) Close() error {
	n.cancel()
	n.wg.Wait()
	n.ca.Close()
	n.cb.Close()
	n.client.Close()
	n.server.Close()
	n.client.Wait()
	n.server.Wait()
	return nil
}

func (n *memNet) Note() string { return "channel.Endpoint + one pump goroutine per direction" }

// Packets counts what the pumps carried.
func (n *memNet) Packets() uint64 { return n.packets.Load() }

// Retransmits reads the stack-wide counter of the stack c belongs to; each
// workload that asks has one sending connection.
func (n *memNet) Retransmits(c net.Conn) uint64 {
	s := n.client
	if c.LocalAddr().(*net.TCPAddr).IP.Equal(workload.ServerPrefix.Addr().AsSlice()) {
		s = n.server
	}
	return s.Stats().TCP.Retransmits.Value()
}
