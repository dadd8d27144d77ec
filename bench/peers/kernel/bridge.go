//go:build linux

package main

import (
	"fmt"
	"net/netip"

	"github.com/synack-go/synack/bench/workload"
	"github.com/synack-go/synack/internal/netns"
	"github.com/synack-go/synack/link/impair"
	"github.com/synack-go/synack/link/tun"
)

// bridge joins this namespace (a) and namespace b kernel to kernel: a TUN
// device in each, and a userspace bridge that carries every packet from
// one device to the other through a link/impair Path, the emulator synack
// and gVisor cross too (this kernel has no netem). The client host is a,
// the server host b.
func (n *sockNet) bridge(spec workload.Spec, a, b string) error {
	mtu := spec.MTU
	if mtu == 0 {
		mtu = 1500
	}
	ta, err := tun.Open("bridge0", tun.Config{MTU: mtu})
	if err != nil {
		return err
	}
	n.closers = append(n.closers, ta.Close)
	var tb *tun.Device
	if err := netns.Enter("/run/netns/"+b, func() (err error) {
		tb, err = tun.Open("bridge1", tun.Config{MTU: mtu})
		return err
	}); err != nil {
		return err
	}
	n.closers = append(n.closers, tb.Close)
	for _, s := range []struct {
		d    *tun.Device
		addr string
	}{{ta, clientAddr}, {tb, serverAddr}} {
		if err := s.d.AddHostAddr(netip.MustParsePrefix(s.addr + subnetBits)); err != nil {
			return err
		}
		if err := s.d.SetUp(); err != nil {
			return err
		}
	}
	data := impair.New(spec.Data, func(pkts [][]byte) {
		if spec.Delivered != nil {
			spec.Delivered(pkts)
		}
		tb.WriteBatch(pkts)
	})
	ack := impair.New(spec.Ack, func(pkts [][]byte) { ta.WriteBatch(pkts) })
	n.closers = append(n.closers, closePath(data), closePath(ack))
	go carry(ta, data)
	go carry(tb, ack)
	n.listenIn, n.addr = "/run/netns/"+b, serverAddr
	n.tuns = []*tun.Device{ta}
	n.note = fmt.Sprintf("kernel to kernel: two netns joined by TUN devices (MTU %d) and a userspace bridge through link/impair", mtu)
	return nil
}

// carry feeds every packet read from d into p until d closes.
func carry(d *tun.Device, p *impair.Path) {
	bufs := make([][]byte, d.BatchSize())
	sizes := make([]int, len(bufs))
	for i := range bufs {
		bufs[i] = make([]byte, d.MTU())
	}
	for {
		k, err := d.ReadBatch(bufs, sizes)
		if err != nil {
			return
		}
		for i := range k {
			p.Send(bufs[i][:sizes[i]])
		}
	}
}

func closePath(p *impair.Path) func() error {
	return func() error { p.Close(); return nil }
}
