//go:build linux

package tun_test

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"golang.org/x/sys/unix"

	"github.com/synack-go/synack/internal/netns"
	"github.com/synack-go/synack/link/tun"
)

// Addresses inside the test's namespace only: the kernel's side and the
// address the test plays from the device's side.
var (
	host4 = netip.MustParsePrefix("10.77.0.1/24")
	peer4 = netip.MustParseAddr("10.77.0.2")
	host6 = netip.MustParsePrefix("fd77::1/64")
	peer6 = netip.MustParseAddr("fd77::2")
)

// openUp opens a TUN device inside ns with both host addresses, up.
func openUp(t *testing.T, ns *netns.NS, cfg tun.Config) *tun.Device {
	t.Helper()
	var d *tun.Device
	if err := ns.Do(func() (err error) {
		d, err = tun.Open("synack0", cfg)
		return err
	}); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			t.Skip("needs /dev/net/tun")
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	for _, p := range []netip.Prefix{host4, host6} {
		if err := d.AddHostAddr(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.SetUp(); err != nil {
		t.Fatal(err)
	}
	return d
}

// udpPacket builds an IP/UDP packet with valid checksums.
func udpPacket(t *testing.T, src, dst netip.AddrPort, payload string) []byte {
	t.Helper()
	udp := &layers.UDP{SrcPort: layers.UDPPort(src.Port()), DstPort: layers.UDPPort(dst.Port())}
	var ip gopacket.SerializableLayer
	if src.Addr().Is4() {
		v4 := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP,
			SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
		udp.SetNetworkLayerForChecksum(v4)
		ip = v4
	} else {
		v6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolUDP,
			SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
		udp.SetNetworkLayerForChecksum(v6)
		ip = v6
	}
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, ip, udp, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readUDP reads packets from d until a UDP datagram arrives and returns its
// payload; the kernel also sends IPv6 housekeeping (MLD, router
// solicitations) that is skipped.
func readUDP(t *testing.T, d *tun.Device) (src netip.AddrPort, payload string) {
	t.Helper()
	bufs := [][]byte{make([]byte, d.MTU())}
	sizes := []int{0}
	for {
		n, err := d.ReadBatch(bufs, sizes)
		if err != nil || n != 1 {
			t.Fatalf("ReadBatch = %d, %v", n, err)
		}
		b := bufs[0][:sizes[0]]
		first := layers.LayerTypeIPv4
		if b[0]>>4 == 6 {
			first = layers.LayerTypeIPv6
		}
		p := gopacket.NewPacket(b, first, gopacket.Default)
		u, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if !ok {
			continue
		}
		a, _ := netip.AddrFromSlice(p.NetworkLayer().NetworkFlow().Src().Raw())
		return netip.AddrPortFrom(a, uint16(u.SrcPort)), string(u.Payload)
	}
}

func TestUDPBothWays(t *testing.T) {
	ns := netns.New(t)
	d := openUp(t, ns, tun.Config{MTU: 1400})
	if d.MTU() != 1400 || d.Name() != "synack0" || d.Index() <= 0 {
		t.Fatalf("MTU %d, name %q, index %d", d.MTU(), d.Name(), d.Index())
	}
	if out, err := ns.Run("ip", "-o", "link", "show", "synack0"); err != nil || !strings.Contains(out, "mtu 1400") {
		t.Fatalf("the kernel's view of the device: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		name string
		host netip.Prefix
		peer netip.Addr
	}{{"IPv4", host4, peer4}, {"IPv6", host6, peer6}} {
		t.Run(tc.name, func(t *testing.T) {
			var sock *net.UDPConn
			if err := ns.Do(func() (err error) {
				sock, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(tc.host.Addr(), 0)))
				return err
			}); err != nil {
				t.Fatal(err)
			}
			defer sock.Close()
			local := sock.LocalAddr().(*net.UDPAddr).AddrPort()

			// Kernel to device.
			peer := netip.AddrPortFrom(tc.peer, 9999)
			if _, err := sock.WriteToUDPAddrPort([]byte("to the device"), peer); err != nil {
				t.Fatal(err)
			}
			if src, got := readUDP(t, d); got != "to the device" || src != local {
				t.Fatalf("read %q from %v, want %q from %v", got, src, "to the device", local)
			}

			// Device to kernel.
			if err := d.WriteBatch([][]byte{udpPacket(t, peer, local, "to the kernel")}); err != nil {
				t.Fatal(err)
			}
			sock.SetReadDeadline(time.Now().Add(10 * time.Second))
			buf := make([]byte, 100)
			n, from, err := sock.ReadFromUDPAddrPort(buf)
			if err != nil || string(buf[:n]) != "to the kernel" || from != peer {
				t.Fatalf("kernel read %q from %v (%v)", buf[:n], from, err)
			}
		})
	}
}

func TestReadBatchDrainsQueue(t *testing.T) {
	ns := netns.New(t)
	d := openUp(t, ns, tun.Config{})
	var sock *net.UDPConn
	if err := ns.Do(func() (err error) {
		sock, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(host4.Addr(), 0)))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	const count = 20
	for i := range count {
		if _, err := sock.WriteToUDPAddrPort([]byte{byte(i)}, netip.AddrPortFrom(peer4, 7)); err != nil {
			t.Fatal(err)
		}
	}
	bufs := make([][]byte, 64)
	for i := range bufs {
		bufs[i] = make([]byte, d.MTU())
	}
	sizes := make([]int, len(bufs))
	var got []byte
	for len(got) < count {
		n, err := d.ReadBatch(bufs, sizes)
		if err != nil || n < 1 {
			t.Fatalf("ReadBatch = %d, %v", n, err)
		}
		for i := range n {
			b := bufs[i][:sizes[i]]
			if b[0]>>4 == 4 && b[9] == unix.IPPROTO_UDP {
				got = append(got, b[len(b)-1])
			}
		}
	}
	for i, b := range got {
		if int(b) != i {
			t.Fatalf("datagram %d carries %d: out of order", i, b)
		}
	}
	st := d.Stats()
	if st.PacketsIn < count || st.ReadBatches == 0 || st.ReadBatches > st.PacketsIn {
		t.Fatalf("stats %+v", st)
	}
	t.Logf("%d packets in %d reads", st.PacketsIn, st.ReadBatches)
}

func TestCloseUnblocksRead(t *testing.T) {
	ns := netns.New(t)
	d := openUp(t, ns, tun.Config{})
	done := make(chan error, 1)
	go func() {
		bufs, sizes := [][]byte{make([]byte, d.MTU())}, []int{0}
		for {
			if _, err := d.ReadBatch(bufs, sizes); err != nil {
				done <- err
				return
			}
		}
	}()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("pending ReadBatch = %v, want net.ErrClosed", err)
	}
	if err := d.WriteBatch([][]byte{{0x45}}); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("WriteBatch after Close = %v, want net.ErrClosed", err)
	}
	if err := d.SetUp(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("SetUp after Close = %v, want net.ErrClosed", err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	// The device went with its only descriptor.
	if _, err := ns.Run("ip", "link", "show", "synack0"); err == nil {
		t.Fatal("synack0 still exists after Close")
	}
}

func TestWriteWhileDownDrops(t *testing.T) {
	ns := netns.New(t)
	var d *tun.Device
	if err := ns.Do(func() (err error) { d, err = tun.Open("", tun.Config{}); return err }); err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	pkt := udpPacket(t, netip.AddrPortFrom(peer4, 1), netip.AddrPortFrom(host4.Addr(), 2), "x")
	if err := d.WriteBatch([][]byte{pkt, pkt}); err != nil {
		t.Fatalf("WriteBatch on a down device = %v, want the packets dropped quietly", err)
	}
	if st := d.Stats(); st.WriteDrops != 2 || st.PacketsOut != 0 {
		t.Fatalf("stats %+v, want 2 write drops", st)
	}
	if d.Name() == "" {
		t.Fatal("the kernel's chosen name is unknown")
	}
}

func TestOpenFile(t *testing.T) {
	ns := netns.New(t)
	var d *tun.Device
	err := ns.Do(func() error {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		ifr, _ := unix.NewIfreq("given0")
		ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			unix.Close(fd)
			return err
		}
		d, err = tun.OpenFile(os.NewFile(uintptr(fd), "tun"), tun.Config{MTU: 9000})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Name() != "given0" || d.MTU() != 9000 {
		t.Fatalf("name %q, MTU %d", d.Name(), d.MTU())
	}
	if err := d.AddHostAddr(host4); err != nil {
		t.Fatal(err)
	}
	if err := d.SetUp(); err != nil {
		t.Fatal(err)
	}
	// The duplicate is non-blocking and in the poller: Close wakes a read.
	go d.Close()
	for {
		_, err := d.ReadBatch([][]byte{make([]byte, 9000)}, []int{0})
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				t.Fatalf("ReadBatch = %v, want net.ErrClosed", err)
			}
			break
		}
	}
}

func TestOpenFileRejectsOtherFiles(t *testing.T) {
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := tun.OpenFile(f, tun.Config{}); err == nil {
		t.Fatal("OpenFile accepted /dev/null")
	}
}

func TestOpenErrors(t *testing.T) {
	ns := netns.New(t)
	err := ns.Do(func() error {
		if _, err := tun.Open("a-name-far-too-long-for-linux", tun.Config{}); err == nil {
			return errors.New("Open accepted a 29-byte name")
		}
		if d, err := tun.Open("tiny0", tun.Config{MTU: 20}); err == nil {
			d.Close()
			return errors.New("Open accepted a 20-byte MTU")
		} else if !errors.Is(err, unix.EINVAL) {
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	d := openUp(t, ns, tun.Config{})
	if err := d.AddHostAddr(netip.Prefix{}); err == nil {
		t.Fatal("AddHostAddr accepted an invalid prefix")
	}
}
