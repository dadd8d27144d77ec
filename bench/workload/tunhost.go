package workload

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/synack-go/synack/internal/netns"
)

// NetnsPrefix starts the name of every network namespace a benchmark
// makes, so that netns.Sweep removes the ones a killed run left behind
// and nobody else's.
const NetnsPrefix = "synack-bench-"

// The addresses of tun-bulk: the kernel's side of the TUN device and the
// stack under test behind it, inside a namespace the workload makes.
var (
	TUNKernelPrefix = netip.MustParsePrefix("10.201.0.1/24")
	TUNStackPrefix  = netip.MustParsePrefix("10.201.0.2/24")
)

// TUNHost is the kernel's side of tun-bulk: a network namespace of its own
// in which the contender opens its TUN device (with Do), and the kernel's
// own sockets there are the peer. Close removes the namespace, and so does
// SIGINT or SIGTERM (bench/compare interrupts a run that takes too long).
type TUNHost struct {
	ns   *netns.NS
	sigs chan os.Signal
}

// NewTUNHost makes the namespace. Without root it returns an ErrSkip.
func NewTUNHost() (*TUNHost, error) {
	if err := netns.Available(); err != nil {
		return nil, fmt.Errorf("%w: tun-bulk %v", ErrSkip, err)
	}
	ns, err := netns.Add(NetnsPrefix)
	if err != nil {
		return nil, err
	}
	h := &TUNHost{ns: ns, sigs: make(chan os.Signal, 1)}
	signal.Notify(h.sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		if _, ok := <-h.sigs; ok {
			ns.Delete()
			os.Exit(1)
		}
	}()
	return h, nil
}

// Do runs f on a thread inside the namespace: a TUN device opened there
// lives there.
func (h *TUNHost) Do(f func() error) error { return netns.Enter(h.ns.Path(), f) }

// Configure gives the device called dev the kernel's address and the MTU,
// and brings it up.
func (h *TUNHost) Configure(dev string, mtu int) error {
	if err := h.ns.IP("addr", "add", TUNKernelPrefix.String(), "dev", dev); err != nil {
		return err
	}
	return h.ns.IP("link", "set", dev, "mtu", strconv.Itoa(mtu), "up")
}

// Listen listens on port of the kernel's address, inside the namespace.
func (h *TUNHost) Listen(port uint16) (net.Listener, error) {
	var ln net.Listener
	err := h.Do(func() (err error) {
		ln, err = net.Listen("tcp4", netip.AddrPortFrom(TUNKernelPrefix.Addr(), port).String())
		return err
	})
	return ln, err
}

// Close removes the namespace and every device in it.
func (h *TUNHost) Close() error {
	signal.Stop(h.sigs)
	close(h.sigs)
	return h.ns.Delete()
}
