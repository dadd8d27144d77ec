//go:build linux

package tun_test

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/synack-go/synack"
	"github.com/synack-go/synack/internal/netns"
	"github.com/synack-go/synack/link/tun"
)

// BenchmarkBulk moves bulk data over one TCP connection between the
// kernel and a synack stack on a TUN device in a fresh namespace, in 64 KiB
// writes, each direction, at MTU 1500 and 65535 without offloads and at
// MTU 1500 with them (virtio-net headers: TSO both ways, checksums left to
// the kernel). It reports Gbit/s of payload and the device's packets per
// second; the time includes draining what is in flight.
//
//	go test -run XXX -bench Bulk -benchtime 2s ./link/tun
func BenchmarkBulk(b *testing.B) {
	for _, c := range []struct {
		mtu     int
		offload bool
	}{{1500, false}, {65535, false}, {1500, true}} {
		for _, toSynack := range []bool{true, false} {
			name := "synack-to-kernel"
			if toSynack {
				name = "kernel-to-synack"
			}
			name = fmt.Sprintf("%s/mtu=%d", name, c.mtu)
			if c.offload {
				name += "/offload"
			}
			b.Run(name, func(b *testing.B) { benchBulk(b, tun.Config{MTU: c.mtu, Offload: c.offload}, toSynack) })
		}
	}
}

func benchBulk(b *testing.B, cfg tun.Config, toSynack bool) {
	ns := netns.New(b)
	var dev *tun.Device
	if err := ns.Do(func() (err error) {
		dev, err = tun.Open("bench0", cfg)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	if err := dev.AddHostAddr(host4); err != nil {
		b.Fatal(err)
	}
	if err := dev.SetUp(); err != nil {
		b.Fatal(err)
	}
	st, err := synack.NewStack(dev, synack.Options{Addrs: []netip.Prefix{netip.PrefixFrom(peer4, 24)}})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()

	// The sender writes; the receiver counts until the sender's FIN.
	var sender interface {
		net.Conn
		CloseWrite() error
	}
	var receiver net.Conn
	if toSynack {
		ln, err := st.Listen("tcp", ":5001")
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		var k net.Conn
		if err := ns.Do(func() (err error) {
			k, err = net.Dial("tcp", netip.AddrPortFrom(peer4, 5001).String())
			return err
		}); err != nil {
			b.Fatal(err)
		}
		sender = k.(*net.TCPConn)
		if receiver, err = ln.Accept(); err != nil {
			b.Fatal(err)
		}
	} else {
		var ln net.Listener
		if err := ns.Do(func() (err error) {
			ln, err = net.Listen("tcp", ":5002")
			return err
		}); err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		c, err := st.Dial("tcp", netip.AddrPortFrom(host4.Addr(), 5002).String())
		if err != nil {
			b.Fatal(err)
		}
		sender = c.(*synack.Conn)
		if receiver, err = ln.Accept(); err != nil {
			b.Fatal(err)
		}
	}
	defer sender.Close()
	defer receiver.Close()
	got := make(chan int64, 1)
	go func() {
		n, _ := io.Copy(io.Discard, receiver)
		got <- n
	}()

	chunk := make([]byte, 64<<10)
	b.SetBytes(int64(len(chunk)))
	before := dev.Stats()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if _, err := sender.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	sender.CloseWrite()
	n := <-got
	el := time.Since(start)
	b.StopTimer()
	if want := int64(b.N) * int64(len(chunk)); n != want {
		b.Fatalf("received %d bytes, sent %d", n, want)
	}
	after := dev.Stats()
	pkts := after.PacketsIn - before.PacketsIn + after.PacketsOut - before.PacketsOut
	b.ReportMetric(float64(n)*8/el.Seconds()/1e9, "Gbit/s")
	b.ReportMetric(float64(pkts)/el.Seconds(), "pkts/s")
	if s := st.Stats(); s.Retransmits > 0 {
		b.ReportMetric(float64(s.Retransmits), "retrans")
	}
}
