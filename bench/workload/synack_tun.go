package workload

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/synack-go/synack"
	"github.com/synack-go/synack/link/tun"
)

// synackTUN is tun-bulk's Net for synack: the client host is a synack
// stack on a TUN device, the server host the kernel behind it.
type synackTUN struct {
	host  *TUNHost
	dev   *tun.Device
	stack *synack.Stack
}

func newSynackTUN(spec Spec) (Net, error) {
	mtu := spec.MTU
	if mtu == 0 {
		mtu = 1500
	}
	h, err := NewTUNHost()
	if err != nil {
		return nil, err
	}
	n := &synackTUN{host: h}
	if err := h.Do(func() (err error) {
		n.dev, err = tun.Open("synack0", tun.Config{MTU: mtu, Offload: spec.Offload, Queues: spec.Queues})
		return err
	}); err != nil {
		h.Close()
		return nil, err
	}
	if err := h.Configure(n.dev.Name(), mtu); err != nil {
		n.dev.Close()
		h.Close()
		return nil, err
	}
	n.stack, err = synack.NewStack(n.dev, synack.Options{Name: "synack", Addrs: []netip.Prefix{TUNStackPrefix}})
	if err != nil {
		n.dev.Close()
		h.Close()
		return nil, err
	}
	return n, nil
}

// Listen listens on the kernel's side: the kernel is the server host.
func (n *synackTUN) Listen(port uint16) (net.Listener, error) { return n.host.Listen(port) }

// Dial connects the synack stack to the kernel.
func (n *synackTUN) Dial(ctx context.Context, port uint16) (net.Conn, error) {
	return n.stack.DialContext(ctx, "tcp", netip.AddrPortFrom(TUNKernelPrefix.Addr(), port).String())
}

func (n *synackTUN) Close() error { return errors.Join(n.stack.Close(), n.host.Close()) }

// Packets counts what crossed the device both ways.
func (n *synackTUN) Packets() uint64 {
	st := n.dev.Stats()
	return st.PacketsIn + st.PacketsOut
}

func (n *synackTUN) Note() string {
	off := "no offloads"
	if o := n.dev.Offloads(); o.Enabled() {
		off = fmt.Sprintf("offloads: checksums %v, TSO4 %v, TSO6 %v (virtio-net headers), batched ACKs", o.TxChecksum, o.TSO4, o.TSO6)
	}
	q := ""
	if k := n.dev.NumQueues(); k > 1 {
		q = fmt.Sprintf(", %d queues", k)
	}
	return "synack on link/tun (" + off + q + "), the kernel's sockets in the same netns as peer"
}
