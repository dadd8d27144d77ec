//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"github.com/synack-go/synack/bench/workload"
	"github.com/synack-go/synack/internal/netns"
	"github.com/synack-go/synack/link/tun"
)

// sockNet is two kernel hosts as package net sees them: a listen address
// (possibly inside another namespace) and a dial address, with optional
// per-socket congestion control.
type sockNet struct {
	listenIn string        // namespace file to listen in; "" for this one
	addr     string        // the server host's address
	cc       string        // TCP_CONGESTION for every socket; "" for the default
	ifaces   []string      // interfaces whose counters give Packets
	tuns     []*tun.Device // or the bridge's device in this namespace
	note     string
	closers  []func() error
}

func newNet(spec workload.Spec) (workload.Net, error) {
	setup := strings.Fields(os.Getenv(envSetup))
	n := &sockNet{addr: "127.0.0.1", cc: spec.CC}
	kind := ""
	if len(setup) > 0 {
		kind = setup[0]
	}
	switch {
	case spec.Workload == "tun-bulk":
		return nil, fmt.Errorf("%w: tun-bulk's peer is the kernel itself; it has no kernel contender", workload.ErrSkip)
	case spec.Variant == "veth" && kind != "veth":
		return nil, fmt.Errorf("%w: veth: %v", workload.ErrSkip, netns.Available())
	case spec.Offload || spec.Queues > 1 || spec.BatchACKs:
		return nil, fmt.Errorf("%w: the kernel's links have their offloads and queues as they are", errors.ErrUnsupported)
	case spec.Variant != "" && spec.Variant != "veth":
		return nil, fmt.Errorf("%w: the kernel has no variant %q", errors.ErrUnsupported, spec.Variant)
	case workload.IsPathWorkload(spec.Workload) && kind != "tun":
		return nil, fmt.Errorf("%w: %s on the kernel: %v", workload.ErrSkip, spec.Workload, netns.Available())
	}
	switch kind {
	case "lo":
		n.ifaces = []string{"lo"}
		n.note = fmt.Sprintf("loopback in its own netns, lo MTU %d (GSO/GRO on)", spec.MTU)
	case "veth":
		n.listenIn, n.addr = "/run/netns/"+setup[1], serverAddr
		n.ifaces = []string{"veth0"}
		n.note = fmt.Sprintf("veth pair between two netns, MTU %d (GSO/GRO on)", spec.MTU)
	case "tun":
		if err := n.bridge(spec, setup[1], setup[2]); err != nil {
			n.Close()
			return nil, err
		}
	default:
		n.ifaces = []string{"lo"}
		n.note = "loopback"
		if spec.Workload == "mem-bulk" {
			n.note = "loopback of the host, MTU 65536 (no root: no netns of its own)"
		}
	}
	if n.cc != "" {
		n.note += ", congestion control " + n.cc
	}
	return n, nil
}

func (n *sockNet) Note() string { return n.note }

func (n *sockNet) Listen(port uint16) (net.Listener, error) {
	lc := net.ListenConfig{Control: n.control}
	var ln net.Listener
	listen := func() (err error) {
		ln, err = lc.Listen(context.Background(), "tcp4", net.JoinHostPort(n.addr, strconv.Itoa(int(port))))
		return err
	}
	if n.listenIn == "" {
		return ln, listen()
	}
	return ln, netns.Enter(n.listenIn, listen)
}

func (n *sockNet) Dial(ctx context.Context, port uint16) (net.Conn, error) {
	d := net.Dialer{Control: n.control}
	return d.DialContext(ctx, "tcp4", net.JoinHostPort(n.addr, strconv.Itoa(int(port))))
}

func (n *sockNet) Close() error {
	var err error
	for i := len(n.closers) - 1; i >= 0; i-- {
		err = errors.Join(err, n.closers[i]())
	}
	return err
}

// control sets the congestion control on every socket before it
// connects or listens (accepted sockets inherit the listener's).
func (n *sockNet) control(network, address string, c syscall.RawConn) error {
	if n.cc == "" {
		return nil
	}
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptString(int(fd), syscall.IPPROTO_TCP, syscall.TCP_CONGESTION, n.cc)
	})
	if serr != nil {
		return fmt.Errorf("TCP_CONGESTION %s: %w", n.cc, serr)
	}
	return err
}

// Packets reads the interfaces' counters: on loopback every packet is
// sent once and received once, on veth0 the data goes out and the ACKs
// come in. With GSO a counted packet may carry many segments.
func (n *sockNet) Packets() uint64 {
	var sum uint64
	for _, d := range n.tuns {
		st := d.Stats()
		sum += st.PacketsIn + st.PacketsOut
	}
	for _, ifc := range n.ifaces {
		sum += sysCounter(ifc, "tx_packets")
		if ifc != "lo" {
			sum += sysCounter(ifc, "rx_packets")
		}
	}
	return sum
}

func sysCounter(ifc, name string) uint64 {
	b, err := os.ReadFile("/sys/class/net/" + ifc + "/statistics/" + name)
	if err != nil {
		return 0
	}
	v, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return v
}

// Retransmits reads tcpi_total_retrans from TCP_INFO.
func (n *sockNet) Retransmits(c net.Conn) uint64 {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return 0
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return 0
	}
	// struct tcp_info (linux/tcp.h): tcpi_total_retrans is the u32 at
	// byte 100.
	const totalRetransOff = 100
	var info [232]byte
	var v uint64
	rc.Control(func(fd uintptr) {
		size := uint32(len(info))
		_, _, e := syscall.Syscall6(syscall.SYS_GETSOCKOPT, fd, syscall.IPPROTO_TCP, syscall.TCP_INFO,
			uintptr(unsafe.Pointer(&info[0])), uintptr(unsafe.Pointer(&size)), 0)
		if e == 0 && size >= totalRetransOff+4 {
			v = uint64(*(*uint32)(unsafe.Pointer(&info[totalRetransOff])))
		}
	})
	return v
}

// MaxConns is what RLIMIT_NOFILE leaves for mem-idle: two descriptors per
// connection, less a margin for everything else.
func (n *sockNet) MaxConns() int {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) != nil {
		return 0
	}
	return int(min(lim.Cur, 1<<30)-200) / 2
}

func (n *sockNet) Why() string { return "RLIMIT_NOFILE, two descriptors per connection" }

// KernelMemory says the sockets' memory is the kernel's slab.
func (n *sockNet) KernelMemory() bool { return true }
