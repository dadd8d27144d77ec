package script

import (
	"fmt"
	"math/bits"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/synack-go/synack"
	"github.com/synack-go/synack/link/pipe"
	"github.com/synack-go/synack/sim"
	"github.com/synack-go/synack/tcp"
)

// synackTarget runs a script against a synack stack on a simulation's
// virtual clock (package sim): the script holds one end of a simulated link
// and the stack the other, socket calls run on goroutines of the
// simulation, and time moves only when everything waits, so that a
// script's seconds take microseconds and every run is the same.
type synackTarget struct {
	seed  int64
	sim   *sim.Sim
	stack *synack.Stack
	peer  *sim.Endpoint // the script's end of the link
	base  time.Duration // the simulation's time at Start
	cfg   *Config

	tcp       tcp.Config // the tunables sockets start with (the Linux profile)
	keepIdle  time.Duration
	callsDone int // calls started with Go that have returned
	callsSeen int // ... that a Wait has reported
	socketLayer
}

// NewSynackTarget returns a target that runs scripts against a synack
// stack on virtual time; seed fixes its random choices (ISNs, ports,
// timestamp offset), so a run replays.
func NewSynackTarget(seed int64) Target {
	t := &synackTarget{seed: seed}
	t.socketLayer.t = t
	return t
}

func (t *synackTarget) Start(cfg *Config, setup *Setup) ([]string, error) {
	t.cfg = cfg
	t.sim = sim.New(sim.Config{Seed: t.seed, Limit: -1})
	// The link carries what a script injects, however large (a TUN
	// device takes packets beyond its MTU too); the stack's MSS comes
	// from the script's MTU.
	a, b := t.sim.Pipe(pipe.Config{MTU: 65535})
	t.peer = b
	bitsLen := 16
	if cfg.LocalIP.Is6() {
		bitsLen = 64
	}
	opts := synack.Options{
		Addrs:     []netip.Prefix{netip.PrefixFrom(cfg.LocalIP, bitsLen)},
		Clock:     t.sim,
		Rand:      t.sim.Rand(),
		Name:      "synack",
		KeepAlive: -1, // off, as a socket's until SO_KEEPALIVE
	}
	// Linux's: Nagle on, delayed ACKs up to 40 ms at first.
	hdr := 40
	if cfg.LocalIP.Is6() {
		hdr = 60
	}
	// The kernel's tun device has no fq qdisc: NewReno and CUBIC send what
	// the window allows at once, unpaced.
	t.tcp = tcp.Config{NoDelay: false, MSS: uint16(cfg.MTU - hdr), NoPacing: true}
	t.keepIdle = 2 * time.Hour
	var ignored []string
	for _, s := range settings(setup) {
		if why := t.sysctl(&opts, s); why != "" && s.Where != "defaults" {
			ignored = append(ignored, fmt.Sprintf("%s=%s: %s (%s)", s.Name, s.Value, why, where(s)))
		}
	}
	opts.TCP = t.tcp
	st, err := synack.NewStack(a, opts)
	if err != nil {
		t.sim.Close()
		return ignored, err
	}
	t.stack = st
	t.socks = make(map[int]*ssock)
	t.base = t.sim.Elapsed()
	return ignored, nil
}

// sysctl maps one setting to the stack's options; it returns why not, or
// "" when it applied.
func (t *synackTarget) sysctl(o *synack.Options, s Sysctl) string {
	name := strings.TrimPrefix(s.Name, "net.ipv4.")
	ints := func(n int) ([]int, bool) {
		f := strings.Fields(s.Value)
		if len(f) != n {
			return nil, false
		}
		v := make([]int, n)
		for i := range f {
			x, err := strconv.Atoi(f[i])
			if err != nil {
				return nil, false
			}
			v[i] = x
		}
		return v, true
	}
	one := func() (int, bool) {
		v, ok := ints(1)
		if !ok {
			return 0, false
		}
		return v[0], true
	}
	c := &t.tcp
	switch name {
	case "tcp_rmem", "tcp_wmem":
		v, ok := ints(3)
		if !ok {
			return "want three numbers"
		}
		if name == "tcp_rmem" {
			// No autotuning: the buffer is the default size, and the
			// window scale covers the maximum, as Linux computes it.
			c.RecvBuf, c.MaxRecvBuf = v[1], v[2]
		} else {
			c.SendBuf = v[1]
		}
	case "tcp_timestamps", "tcp_sack", "tcp_window_scaling":
		v, ok := one()
		if !ok {
			return "want a number"
		}
		off := v == 0
		switch name {
		case "tcp_timestamps":
			c.DisableTimestamps = off
		case "tcp_sack":
			c.DisableSACK = off
		default:
			c.DisableWindowScale = off
		}
	case "tcp_syn_retries":
		v, ok := one()
		if !ok || v < 1 {
			return "want a positive number"
		}
		c.SynRetries = v
	case "tcp_retries2":
		v, ok := one()
		if !ok || v < 1 {
			return "want a positive number"
		}
		c.DataRetryTimeout = linuxRetriesTimeout(v)
	case "tcp_congestion_control":
		if _, ok := tcp.CongestionControl(s.Value); !ok {
			return "synack has no congestion control of that name; CUBIC (cubic) runs"
		}
		c.CongestionControl = s.Value
	case "tcp_keepalive_time":
		v, ok := one()
		if !ok || v < 1 {
			return "want a positive number"
		}
		t.keepIdle = time.Duration(v) * time.Second
	case "tcp_keepalive_intvl":
		v, ok := one()
		if !ok || v < 1 {
			return "want a positive number"
		}
		c.KeepAliveInterval = time.Duration(v) * time.Second
	case "tcp_keepalive_probes":
		v, ok := one()
		if !ok || v < 1 {
			return "want a positive number"
		}
		c.KeepAliveCount = v
	case "tcp_max_syn_backlog":
		v, ok := one()
		if !ok || v < 1 {
			return "want a positive number"
		}
		o.SynBacklog = v
	default:
		return "synack has no equivalent"
	}
	return ""
}

// linuxRetriesTimeout is how long Linux retransmits with tcp_retries2 = n
// before giving up (tcp_model_timeout): RTOs from 200 ms doubling up to
// 120 s.
func linuxRetriesTimeout(n int) time.Duration {
	const base, maxRTO = 200 * time.Millisecond, 120 * time.Second
	linear := bits.Len(uint(maxRTO/base)) - 1 // doublings before the ceiling
	if n <= linear {
		return base * time.Duration(1<<(n+1)-1)
	}
	return base*time.Duration(1<<(linear+1)-1) + time.Duration(n-linear)*maxRTO
}

func (t *synackTarget) Now() time.Duration { return t.sim.Elapsed() - t.base }

func (t *synackTarget) ZeroClock() { t.base = t.sim.Elapsed() }

func (t *synackTarget) Wait(until time.Duration) {
	deadline := t.sim.Start().Add(t.base + until)
	t.sim.Wait(func() bool { return t.peer.Pending() > 0 || t.callsDone != t.callsSeen }, deadline)
	t.callsSeen = t.callsDone
}

// Inject hands the packet to the stack and lets the simulation run
// everything it causes at this instant, as the kernel processes an
// injected packet before the write returns: the next line of the script
// sees the stack after it.
func (t *synackTarget) Inject(pkt []byte) error {
	err := t.peer.WriteBatch([][]byte{pkt})
	t.sim.RunFor(0)
	return err
}

func (t *synackTarget) Sent() []SentPacket {
	var out []SentPacket
	for t.peer.Pending() > 0 {
		p, err := t.peer.ReadPacket(time.Time{})
		if err != nil {
			break
		}
		out = append(out, SentPacket{At: p.At.Sub(t.sim.Start()) - t.base, Pkt: p.Data})
	}
	return out
}

// Go starts a call and lets it run until it returns or blocks.
func (t *synackTarget) Go(fn func()) {
	t.sim.Go(func() {
		fn()
		t.callsDone++
	})
	t.sim.RunFor(0)
}

func (t *synackTarget) Stop() error {
	var err error
	if t.stack != nil {
		err = t.stack.Close()
	}
	if t.sim != nil {
		t.sim.Close()
	}
	return err
}
