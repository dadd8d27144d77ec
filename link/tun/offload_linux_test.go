//go:build linux

package tun

// Offload tests with the kernel's TCP as the peer, in namespaces the tests
// make: what the kernel grants, a fallback when it refuses, and checksums
// the kernel fills from our partial ones, checked by tcpdump. Internal
// tests, to play a kernel that refuses offloads (Config.setOffload).

import (
	"bufio"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/synack-go/synack"
	"github.com/synack-go/synack/internal/netns"
	"github.com/synack-go/synack/link"
)

var (
	kernel4 = netip.MustParsePrefix("10.77.0.1/24")
	stack4  = netip.MustParsePrefix("10.77.0.2/24")
	kernel6 = netip.MustParsePrefix("fd77::1/64")
	stack6  = netip.MustParsePrefix("fd77::2/64")
)

// openStack opens a device named name in ns with cfg, gives the kernel its
// addresses, and starts a synack stack on it with its own.
func openStack(t *testing.T, ns *netns.NS, name string, cfg Config, kernel, stack []netip.Prefix) (*Device, *synack.Stack) {
	t.Helper()
	var d *Device
	if err := ns.Do(func() (err error) {
		d, err = Open(name, cfg)
		return err
	}); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			t.Skip("needs /dev/net/tun")
		}
		t.Fatal(err)
	}
	for _, p := range kernel {
		if err := d.AddHostAddr(p); err != nil {
			d.Close()
			t.Fatal(err)
		}
	}
	if err := d.SetUp(); err != nil {
		d.Close()
		t.Fatal(err)
	}
	st, err := synack.NewStack(d, synack.Options{Name: name, Addrs: stack})
	if err != nil {
		d.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return d, st
}

// pattern writes n seeded bytes to w in 64 KiB writes and returns their
// SHA-256.
func pattern(w io.Writer, n int, seed uint64) ([32]byte, error) {
	h := sha256.New()
	rng := rand.NewChaCha8([32]byte{byte(seed)})
	buf := make([]byte, 64<<10)
	for left := n; left > 0; left -= len(buf) {
		b := buf[:min(len(buf), left)]
		rng.Read(b)
		h.Write(b)
		if _, err := w.Write(b); err != nil {
			return [32]byte{}, err
		}
	}
	return [32]byte(h.Sum(nil)), nil
}

// both moves n bytes each way at once between a and b, half-closing, and
// checks the SHA-256 of each direction.
func both(t *testing.T, a, b net.Conn, n int) {
	t.Helper()
	type result struct {
		sent, got [32]byte
		err       error
	}
	run := func(c net.Conn, seed uint64, out chan<- result) {
		got := make(chan [32]byte, 1)
		go func() {
			h := sha256.New()
			io.Copy(h, c)
			got <- [32]byte(h.Sum(nil))
		}()
		sent, err := pattern(c, n, seed)
		if err == nil {
			err = c.(interface{ CloseWrite() error }).CloseWrite()
		}
		out <- result{sent, <-got, err}
	}
	ra, rb := make(chan result, 1), make(chan result, 1)
	deadline := time.Now().Add(2 * time.Minute)
	a.SetDeadline(deadline)
	b.SetDeadline(deadline)
	go run(a, 1, ra)
	go run(b, 2, rb)
	x, y := <-ra, <-rb
	if x.err != nil || y.err != nil {
		t.Fatalf("transfer: %v, %v", x.err, y.err)
	}
	if x.sent != y.got || y.sent != x.got {
		t.Fatal("SHA-256 of what was sent and what arrived differ")
	}
}

// kernelPair connects a kernel socket in ns to a synack listener on st at
// addr, and returns both ends.
func kernelPair(t *testing.T, ns *netns.NS, st *synack.Stack, addr netip.AddrPort) (kern, syn net.Conn) {
	t.Helper()
	ln, err := st.Listen("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := ns.Do(func() (err error) {
		kern, err = net.DialTimeout("tcp", addr.String(), 10*time.Second)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kern.Close() })
	if syn, err = ln.Accept(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syn.Close() })
	return kern, syn
}

// The kernel grants checksums and TSO both ways, and a bulk exchange with
// its TCP, IPv4 and IPv6, goes through TSO packets written and coalesced
// packets read.
func TestOffloadWithKernel(t *testing.T) {
	ns := netns.New(t)
	d, st := openStack(t, ns, "off0", Config{Offload: true}, []netip.Prefix{kernel4, kernel6}, []netip.Prefix{stack4, stack6})
	off := d.Offloads()
	if !off.TxChecksum || !off.TSO4 || !off.TSO6 || !off.RxCoalesce || off.Headroom != link.VirtioNetHdrLen || off.MaxPacket != maxPacket {
		t.Fatalf("offloads %+v", off)
	}
	for _, addr := range []netip.Addr{stack4.Addr(), stack6.Addr()} {
		k, s := kernelPair(t, ns, st, netip.AddrPortFrom(addr, 5001))
		both(t, k, s, 16<<20)
	}
	if s := d.Stats(); s.GSOOut == 0 || s.GSOIn == 0 || s.ReadDrops != 0 {
		t.Fatalf("no TSO packet written or none read whole: %+v", s)
	}
	t.Logf("%+v", d.Stats())
}

// A kernel that refuses offloads gets asked for fewer: one without USO
// (Linux before 6.2) grants the rest; one that refuses all leaves a device
// whose headers carry nothing, and the stack uses it as a plain link. The
// first request carries an offload bit no kernel knows, so this kernel
// really refuses it once.
func TestOffloadFallback(t *testing.T) {
	for _, tc := range []struct {
		name    string
		refuse  uint // what the played kernel refuses, beyond unknown bits
		tso     bool
		anyFlag bool
	}{
		{"without-uso", tunFUSO4 | tunFUSO6, true, true},
		{"without-tso", tunFUSO4 | tunFUSO6 | tunFTSO4 | tunFTSO6, false, true},
		{"none", ^uint(0), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := netns.New(t)
			var asked []uint
			cfg := Config{Offload: true, setOffload: func(fd int, flags uint) error {
				asked = append(asked, flags)
				if len(asked) == 1 {
					flags |= 0x8000 // unknown: the real kernel refuses
				} else if flags&tc.refuse != 0 {
					return unix.EINVAL
				}
				return unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, int(flags))
			}}
			d, st := openStack(t, ns, "fb0", cfg, []netip.Prefix{kernel4}, []netip.Prefix{stack4})
			off := d.Offloads()
			if off.TSO4 != tc.tso || off.TxChecksum != tc.anyFlag || off.USO || off.Enabled() != tc.anyFlag {
				t.Fatalf("asked %#x, granted %+v", asked, off)
			}
			k, s := kernelPair(t, ns, st, netip.AddrPortFrom(stack4.Addr(), 5001))
			both(t, k, s, 8<<20)
			if s := d.Stats(); (s.GSOOut > 0) != tc.tso || s.ReadDrops != 0 {
				t.Fatalf("TSO %v but stats %+v", tc.tso, s)
			}
			t.Logf("asked %#x; %+v", asked, d.Stats())
		})
	}
}

// plainView hides a device's offloads and queues, as a wrapper (a pcap tap,
// an impairment) does.
type plainView struct{ link.Endpoint }

// Behind a wrapper that hides its offloads, an offloading device still
// moves plain packets: the kernel's large ones are cut in software with
// their checksums completed, and plain writes get an empty header.
func TestOffloadDeviceBehindWrapper(t *testing.T) {
	ns := netns.New(t)
	var d *Device
	if err := ns.Do(func() (err error) {
		d, err = Open("wrap0", Config{Offload: true})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := d.AddHostAddr(kernel4); err != nil {
		t.Fatal(err)
	}
	if err := d.SetUp(); err != nil {
		t.Fatal(err)
	}
	st, err := synack.NewStack(plainView{d}, synack.Options{Addrs: []netip.Prefix{stack4}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	k, s := kernelPair(t, ns, st, netip.AddrPortFrom(stack4.Addr(), 5001))
	both(t, k, s, 8<<20)
	if s := d.Stats(); s.ReadDrops != 0 || s.GSOOut != 0 || s.GSOIn == 0 {
		t.Fatalf("no large packet from the kernel cut, or one written: %+v", s)
	}
	if n := st.Stats().Drops.Checksum; n != 0 {
		t.Fatalf("%d packets dropped for bad checksums: the software cut is wrong", n)
	}
	t.Logf("%+v; stack read %d packets", d.Stats(), st.Stats().PacketsIn)
}

// needTool skips the test if a program is missing.
func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("needs %s (CI installs it)", name)
	}
}

// Checksum offload is right both ways: stack A, with offloads, leaves its
// TCP checksums (and segmentation) to the kernel, which forwards A's
// packets to stack B on a plain device and must fill them on the way;
// tcpdump on B's device sees every checksum correct, and B, which verifies
// each, drops none. B's packets cross the kernel to A unchanged, checksums
// filled by B, and A (whose link vouches for none of them) verifies and
// accepts each. IPv4 and IPv6, 16 MiB each way.
func TestChecksumOffloadForwarded(t *testing.T) {
	needTool(t, "tcpdump")
	ns := netns.New(t)
	// Forwarding on, in this namespace only: /proc/sys/net is the
	// namespace's of the thread that opens it.
	if err := ns.Do(func() error {
		for _, f := range []string{"ipv4/ip_forward", "ipv6/conf/all/forwarding"} {
			if err := os.WriteFile("/proc/sys/net/"+f, []byte("1"), 0); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	da, a := openStack(t, ns, "csa", Config{Offload: true},
		[]netip.Prefix{kernel4, kernel6}, []netip.Prefix{stack4, stack6})
	kernelB4, stackB4 := netip.MustParsePrefix("10.78.0.1/24"), netip.MustParsePrefix("10.78.0.2/24")
	kernelB6, stackB6 := netip.MustParsePrefix("fd78::1/64"), netip.MustParsePrefix("fd78::2/64")
	db, b := openStack(t, ns, "csb", Config{}, []netip.Prefix{kernelB4, kernelB6}, []netip.Prefix{stackB4, stackB6})
	pcap := t.TempDir() + "/csb.pcap"
	dump := ns.Command("tcpdump", "-i", "csb", "-n", "-s", "0", "-U", "-w", pcap, "tcp")
	stderr, err := dump.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := dump.Start(); err != nil {
		t.Fatal(err)
	}
	defer dump.Process.Kill()
	listening := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening on") {
				listening <- true
			}
		}
		close(listening)
	}()
	select {
	case ok := <-listening:
		if !ok {
			t.Fatal("tcpdump exited without listening")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("tcpdump did not start listening within 30 s")
	}
	for _, to := range []netip.Addr{stackB4.Addr(), stackB6.Addr()} {
		ln, err := b.Listen("tcp", netip.AddrPortFrom(to, 80).String())
		if err != nil {
			t.Fatal(err)
		}
		accepted := make(chan net.Conn, 1)
		go func() {
			c, _ := ln.Accept()
			accepted <- c
		}()
		c, err := a.Dial("tcp", netip.AddrPortFrom(to, 80).String())
		if err != nil {
			t.Fatal(err)
		}
		s := <-accepted
		ln.Close()
		both(t, c, s, 16<<20)
		c.Close()
		s.Close()
	}
	dump.Process.Signal(os.Interrupt)
	dump.Wait()
	out, err := exec.Command("tcpdump", "-r", pcap, "-n", "-vv").CombinedOutput()
	if err != nil {
		t.Fatalf("tcpdump -r: %v: %s", err, out)
	}
	text := string(out)
	good, bad := strings.Count(text, "(correct)"), strings.Count(text, "incorrect")
	t.Logf("tcpdump on csb: %d TCP checksums correct, %d incorrect; B dropped %d for checksums, A %d; %+v",
		good, bad, b.Stats().Drops.Checksum, a.Stats().Drops.Checksum, db.Stats())
	if bad != 0 || good < 2*(16<<20)/1500 {
		t.Fatalf("%d checksums correct and %d incorrect on the plain device", good, bad)
	}
	if n := b.Stats().Drops.Checksum + a.Stats().Drops.Checksum; n != 0 {
		t.Fatalf("%d packets dropped for bad checksums", n)
	}
	if s := da.Stats(); s.GSOOut == 0 {
		t.Fatalf("A wrote no TSO packet for the kernel to cut: %+v", s)
	}
}
