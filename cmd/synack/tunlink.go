package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"

	"github.com/synack-go/synack"
	"github.com/synack-go/synack/link"
	"github.com/synack-go/synack/link/impair"
	"github.com/synack-go/synack/link/tun"
	"github.com/synack-go/synack/tcp"
	"github.com/synack-go/synack/trace"
)

// tunFlags are the flags serve and get share: the TUN device, the stack's
// and the kernel's addresses on it, and how to impair the link.
type tunFlags struct {
	dev       string
	addrs     prefixList
	hostAddrs prefixList
	mtu       int
	impair    string
	buffer    byteSize
	plot      string
	rec       *trace.Recorder // the stack's events, for --plot
	// configured: use a TUN device that exists and is configured already
	// (ip tuntap add NAME mode tun user USER; ip addr add; ip link set up),
	// which its owner may open without root.
	configured bool
	offload    bool
	queues     int
	batchACKs  string
	cc         ccFlag
}

func (f *tunFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.dev, "tun", "", "TUN device to create or attach to (required)")
	fs.Var(&f.addrs, "addr", "synack's address with prefix, such as 10.77.0.2/24 (repeatable; IPv4 and IPv6)")
	fs.Var(&f.hostAddrs, "host-addr", "the kernel's address on the device, such as 10.77.0.1/24 (repeatable)")
	fs.IntVar(&f.mtu, "mtu", 0, "MTU of the device (default 1500; with --configured, the device's own)")
	fs.BoolVar(&f.configured, "configured", false, "use the existing, configured device --tun names as it is: no --host-addr, no root needed if you own it (ip tuntap add NAME mode tun user $USER)")
	fs.StringVar(&f.impair, "impair", "", "impair both directions: 'loss=2%,delay=5ms,rate=200mbit' (loss, reorder, reorder-delay, duplicate, corrupt, delay, jitter, rate, queue, seed)")
	fs.Var(&f.buffer, "buffer", "send and receive buffer of each connection in bytes (default 1m)")
	fs.BoolVar(&f.offload, "offload", true, "use the kernel's offloads: virtio-net headers, TSO both ways, checksums left to the kernel (falls back to what the kernel grants; off with --impair)")
	fs.IntVar(&f.queues, "queues", 1, "queues of the device (IFF_MULTI_QUEUE), one reader each; 1 with --impair")
	fs.StringVar(&f.batchACKs, "batch-acks", "auto", "answer a read batch's in-order segments with one ACK: auto (with offloads), on, off")
	fs.Var(&f.cc, "cc", "congestion control `NAME`: reno, cubic (the default), bbr (loss-tolerant BBRv3) or bbr-draft (BBRv3 as the draft writes it)")
	fs.StringVar(&f.plot, "plot", "", "on exit, draw each connection's time-sequence graph, goodput, RTT and congestion window as SVG into `FILE`")
}

// recorder returns the tracer that --plot needs, or nil.
func (f *tunFlags) recorder() trace.Tracer {
	if f.plot == "" {
		return nil
	}
	f.rec = new(trace.Recorder)
	return f.rec
}

// writePlot writes --plot's graphs of what the stack recorded.
func (f *tunFlags) writePlot(title string) error {
	if f.plot == "" || f.rec == nil {
		return nil
	}
	events := f.rec.Events()
	if len(trace.Conns(events)) == 0 {
		return fmt.Errorf("--plot %s: no connection to draw", f.plot)
	}
	return writeFile(f.plot, func(w io.Writer) error {
		return trace.WritePlot(w, events, trace.PlotOptions{Title: title})
	})
}

// check validates the flags before anything is created.
func (f *tunFlags) check() (impair.Config, error) {
	if f.dev == "" {
		return impair.Config{}, errors.New("--tun is required")
	}
	if len(f.addrs) == 0 {
		return impair.Config{}, errors.New("--addr is required")
	}
	if len(f.hostAddrs) == 0 && !f.configured {
		return impair.Config{}, errors.New("--host-addr is required (or --configured, for a device whose kernel side is set up already)")
	}
	if len(f.hostAddrs) > 0 && f.configured {
		return impair.Config{}, errors.New("--host-addr configures the device, --configured leaves it as it is: choose one")
	}
	for _, a := range f.addrs {
		shared := len(f.hostAddrs) == 0
		for _, h := range f.hostAddrs {
			if h.Addr().Is4() == a.Addr().Is4() && (h.Contains(a.Addr()) || a.Contains(h.Addr())) {
				shared = true
			}
		}
		if !shared {
			return impair.Config{}, fmt.Errorf("--addr %v shares a subnet with no --host-addr: the kernel would not route to it (use the same prefix, such as --host-addr %v)", a, hostExample(a))
		}
	}
	if f.queues < 0 || f.queues > tun.MaxQueues {
		return impair.Config{}, fmt.Errorf("--queues must be 1 to %d", tun.MaxQueues)
	}
	if _, ok := batchACKModes[f.batchACKs]; !ok {
		return impair.Config{}, fmt.Errorf("--batch-acks must be auto, on or off, not %q", f.batchACKs)
	}
	for _, h := range f.hostAddrs {
		for _, a := range f.addrs {
			if h.Addr() == a.Addr() {
				return impair.Config{}, fmt.Errorf("%v is both --addr and --host-addr", a.Addr())
			}
		}
	}
	return impair.ParseSpec(f.impair)
}

// tunStack is a synack stack on a TUN device.
type tunStack struct {
	*synack.Stack
	dev *tun.Device
}

// openTunStack creates the device, gives the kernel its addresses, brings
// the device up and starts a stack on it, impaired as f says. It must run in
// the network namespace where the device is to live; the stack then runs
// from anywhere.
func openTunStack(f *tunFlags, name string, tracer trace.Tracer) (*tunStack, error) {
	imp, err := f.check()
	if err != nil {
		return nil, err
	}
	mtu := f.mtu
	if mtu == 0 && !f.configured {
		mtu = 1500
	}
	cfg := tun.Config{MTU: mtu, Offload: f.offload, Queues: f.queues}
	if imp != (impair.Config{}) {
		// The impairment wraps the device and hides its offloads and
		// queues: a plain device, one queue.
		cfg.Offload, cfg.Queues = false, 1
	}
	dev, err := tun.Open(f.dev, cfg)
	if err != nil {
		return nil, tunHint(f.dev, err)
	}
	for _, h := range f.hostAddrs {
		if err := dev.AddHostAddr(h); err != nil {
			dev.Close()
			return nil, err
		}
	}
	if !f.configured {
		if err := dev.SetUp(); err != nil {
			dev.Close()
			return nil, err
		}
	}
	var ep link.Endpoint = dev
	if imp != (impair.Config{}) {
		in := imp
		in.Seed = ^imp.Seed // the two directions draw different fates
		ep = impair.Wrap(impair.WrapRead(dev, in), imp)
	}
	st, err := synack.NewStack(ep, synack.Options{
		Name:      name,
		Addrs:     []netip.Prefix(f.addrs),
		Tracer:    tracer,
		TCP:       f.tcpConfig(),
		BatchACKs: batchACKModes[f.batchACKs],
	})
	if err != nil {
		ep.Close()
		return nil, err
	}
	return &tunStack{Stack: st, dev: dev}, nil
}

// tcpConfig returns the tunables --buffer and --cc give every connection.
func (f *tunFlags) tcpConfig() tcp.Config {
	cfg := tcp.Config{SendBuf: int(f.buffer), RecvBuf: int(f.buffer)}
	f.cc.apply(&cfg)
	return cfg
}

// tunHint adds to an error opening the device what to do about it.
func tunHint(name string, err error) error {
	switch {
	case errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES):
		return fmt.Errorf("%w: making a TUN device needs root or CAP_NET_ADMIN; or make one you own (ip tuntap add %s mode tun user $USER, then ip addr add and ip link set up, as root) and pass --configured", err, name)
	case errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.EBUSY):
		if _, ierr := net.InterfaceByName(name); ierr == nil {
			return fmt.Errorf("%w: %s exists and is not a TUN device synack can use (or another program holds it); choose another --tun name", err, name)
		}
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%w: this system has no TUN driver (modprobe tun)", err)
	}
	return err
}

// hostExample returns the address next to a, with a's prefix, as an
// example of a --host-addr: 10.77.0.2/24 gives 10.77.0.1/24.
func hostExample(a netip.Prefix) netip.Prefix {
	h := a.Addr().Prev()
	if !h.IsValid() || !a.Contains(h) {
		h = a.Addr().Next()
	}
	return netip.PrefixFrom(h, a.Bits())
}

// batchACKModes are the values of --batch-acks.
var batchACKModes = map[string]synack.BatchACKMode{
	"": synack.BatchACKsAuto, "auto": synack.BatchACKsAuto, "on": synack.BatchACKsOn, "off": synack.BatchACKsOff,
}

// linkNote describes what the device negotiated, for the log: its
// offloads and queues.
func (t *tunStack) linkNote() string {
	o := t.dev.Offloads()
	var on []string
	for _, f := range []struct {
		on   bool
		name string
	}{{o.TxChecksum, "csum"}, {o.TSO4, "tso4"}, {o.TSO6, "tso6"}, {o.USO, "uso"}} {
		if f.on {
			on = append(on, f.name)
		}
	}
	note := "no offloads"
	if len(on) > 0 {
		note = "offloads " + strings.Join(on, ",")
	}
	if n := t.dev.NumQueues(); n > 1 {
		note += fmt.Sprintf(", %d queues", n)
	}
	return note
}
