//go:build linux

package synack

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/synack-go/synack/internal/netns"
	"github.com/synack-go/synack/link/tun"
)

// Addresses inside the test's namespace only: the kernel's side of the TUN
// device and the stack's.
var (
	kernHost4  = netip.MustParsePrefix("10.78.0.1/24")
	kernHost6  = netip.MustParsePrefix("fd78::1/64")
	kernStack4 = netip.MustParsePrefix("10.78.0.2/24")
	kernStack6 = netip.MustParsePrefix("fd78::2/64")
)

// kernelStackWith returns a stack on a TUN device opened with cfg inside a
// new namespace whose kernel side has kernHost4 and kernHost6.
func kernelStackWith(t *testing.T, cfg tun.Config) (*Stack, *netns.NS, *tun.Device) {
	t.Helper()
	ns := netns.New(t)
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
	for _, p := range []netip.Prefix{kernHost4, kernHost6} {
		if err := d.AddHostAddr(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.SetUp(); err != nil {
		t.Fatal(err)
	}
	// Even without duplicate address detection, the kernel takes the IPv6
	// address out of its tentative state in a work queue after the link
	// comes up, and until then drops packets to it.
	for deadline := time.Now().Add(10 * time.Second); ; {
		out, err := ns.Run("ip", "-6", "addr", "show", "dev", "synack0")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "tentative") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the IPv6 address stays tentative: %s", out)
		}
		time.Sleep(10 * time.Millisecond) // the kernel's state, polled
	}
	s, err := NewStack(d, Options{Addrs: []netip.Prefix{kernStack4, kernStack6}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, ns, d
}

// kernelUDP dials addr from a kernel UDP socket inside ns.
func kernelUDP(t *testing.T, ns *netns.NS, addr string) *net.UDPConn {
	t.Helper()
	var c *net.UDPConn
	if err := ns.Do(func() error {
		nc, err := net.Dial("udp", addr)
		if err == nil {
			c = nc.(*net.UDPConn)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestUDPKernelPeer checks synack's UDP against Linux's: datagrams both
// ways in both families, large ones that each side fragments and the other
// reassembles, and ICMP port unreachable each way, which a connected
// socket on the other side reports as ECONNREFUSED.
func TestUDPKernelPeer(t *testing.T) {
	for _, offload := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "offload"}[offload], func(t *testing.T) {
			s, ns, _ := kernelStackWith(t, tun.Config{MTU: 1500, Offload: offload})
			udpKernelPeer(t, s, ns)
		})
	}
}

// udpKernelPeer is TestUDPKernelPeer on one stack.
func udpKernelPeer(t *testing.T, s *Stack, ns *netns.NS) {
	pc, err := s.ListenPacket("udp", ":7")
	if err != nil {
		t.Fatal(err)
	}
	echo := pc.(*UDPConn)
	go func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := echo.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			echo.WriteToUDPAddrPort(buf[:n], from)
		}
	}()
	t.Cleanup(func() { echo.Close() })

	for _, stack := range []netip.Prefix{kernStack4, kernStack6} {
		kc := kernelUDP(t, ns, netip.AddrPortFrom(stack.Addr(), 7).String())
		for _, size := range []int{10, 1400, 4000, 30000} {
			msg := make([]byte, size)
			for i := range msg {
				msg[i] = byte(i * 13)
			}
			if _, err := kc.Write(msg); err != nil {
				t.Fatalf("kernel write: %v", err)
			}
			kc.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 65536)
			n, err := kc.Read(buf)
			if err != nil || !bytes.Equal(buf[:n], msg) {
				t.Fatalf("%v: %d-byte echo: %d bytes, %v\nudp %+v\nstack %+v", stack.Addr(), size, n, err, s.Stats().UDP, s.Stats())
			}
		}
		// The kernel's connected socket learns of our port unreachable.
		closed := kernelUDP(t, ns, netip.AddrPortFrom(stack.Addr(), 9).String())
		closed.Write([]byte("anyone?"))
		closed.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := closed.Read(make([]byte, 10)); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("%v: kernel read from a closed synack port = %v, want ECONNREFUSED", stack.Addr(), err)
		}
	}
	// And ours learns of the kernel's.
	for _, host := range []netip.Prefix{kernHost4, kernHost6} {
		c, err := s.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(host.Addr(), 9)))
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("anyone?"))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 10)); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("%v: synack read from a closed kernel port = %v, want ECONNREFUSED", host.Addr(), err)
		}
		c.Close()
	}
	st := s.Stats()
	if st.Network.Reassembly.Reassembled == 0 || st.UDP.FragmentedOut == 0 || st.UDP.Checksum != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestUDPSegmentationFromKernel: a kernel socket sends 3,600 bytes as
// three 1,200-byte datagrams in one write (UDP_SEGMENT). With USO granted
// the kernel hands the device one packet (link.GSOUDPL4); the stack cuts
// it back into the three datagrams, and its echo server returns each.
func TestUDPSegmentationFromKernel(t *testing.T) {
	s, ns, d := kernelStackWith(t, tun.Config{MTU: 1500, Offload: true})
	pc, err := s.ListenPacket("udp", ":7")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	echo := pc.(*UDPConn)
	go func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := echo.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			echo.WriteToUDPAddrPort(buf[:n], from)
		}
	}()
	kc := kernelUDP(t, ns, netip.AddrPortFrom(kernStack4.Addr(), 7).String())
	rc, err := kc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	const gso = 1200
	var serr error
	rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_UDP, 103 /* UDP_SEGMENT */, gso)
	})
	if serr != nil {
		t.Skipf("UDP_SEGMENT: %v", serr)
	}
	msg := make([]byte, 3*gso)
	for i := range msg {
		msg[i] = byte(i / gso)
	}
	if _, err := kc.Write(msg); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		kc.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 65536)
		n, err := kc.Read(buf)
		if err != nil || n != gso || buf[0] != byte(i) || buf[n-1] != byte(i) {
			t.Fatalf("datagram %d: %d bytes starting %d, %v; udp %+v", i, n, buf[0], err, s.Stats().UDP)
		}
	}
	if d.Offloads().USO {
		if st := d.Stats(); st.GSOIn == 0 {
			t.Fatalf("USO granted but no segmented packet read: %+v", st)
		}
	} else {
		t.Log("this kernel has no USO: it cut the datagrams itself")
	}
}
