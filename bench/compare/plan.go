package main

import (
	"fmt"
	"strings"

	"github.com/synack-go/synack/bench/workload"
)

// peer is one contender as compare runs it: a binary and the arguments
// that pick its flavour.
type peer struct {
	name string   // "synack", "gvisor", "kernel-bbr", ...
	bin  string   // "synack", "gvisor" or "kernel": which built binary
	pre  []string // arguments before the workload ("bench" for synack)
	post []string // arguments after the workload's own
}

// peers are every contender compare knows.
var peers = map[string]peer{
	"synack": {name: "synack", bin: "synack", pre: []string{"bench"}},
	// synack with each congestion control, for the emulated paths:
	// bbr is the stack's loss-tolerant BBRv3, bbr-draft the draft's own.
	"synack-reno":      {name: "synack-reno", bin: "synack", pre: []string{"bench"}, post: []string{"-cc", "reno"}},
	"synack-cubic":     {name: "synack-cubic", bin: "synack", pre: []string{"bench"}, post: []string{"-cc", "cubic"}},
	"synack-bbr":       {name: "synack-bbr", bin: "synack", pre: []string{"bench"}, post: []string{"-cc", "bbr"}},
	"synack-bbr-draft": {name: "synack-bbr-draft", bin: "synack", pre: []string{"bench"}, post: []string{"-cc", "bbr-draft"}},
	"gvisor":           {name: "gvisor", bin: "gvisor"},
	"gvisor-cubic":     {name: "gvisor-cubic", bin: "gvisor", post: []string{"-cc", "cubic"}},
	"kernel":           {name: "kernel", bin: "kernel"},
	"kernel-veth":      {name: "kernel-veth", bin: "kernel", post: []string{"-variant", "veth"}},
	"kernel-cubic":     {name: "kernel-cubic", bin: "kernel", post: []string{"-cc", "cubic"}},
	"kernel-bbr":       {name: "kernel-bbr", bin: "kernel", post: []string{"-cc", "bbr"}},
}

// wgPeers are the contenders of the wg-* workloads under the names they
// have elsewhere, so that the ratios are synack over gVisor as in every
// other case: synack's netstack and wireguard-go's own (gVisor) behind
// the same wireguard-go devices, built from the wireguard module and from
// bench/peers/wggvisor.
var wgPeers = map[string]peer{
	"synack": {name: "synack", bin: "wg-synack"},
	"gvisor": {name: "gvisor", bin: "wg-gvisor"},
}

// peerFor returns contender name as it runs case c.
func peerFor(c benchCase, name string) peer {
	if p, ok := wgPeers[name]; ok && strings.HasPrefix(c.workload, "wg-") {
		return p
	}
	return peers[name]
}

// benchCase is one workload with its parameters, run by some contenders.
type benchCase struct {
	name     string // what tells it from the workload's other cases: "mtu=1500"
	workload string
	args     []string
	peers    []string
}

// ref is the contender whose figures the case's ratios divide: synack,
// or on the emulated paths synack-bbr, the stack's choice for lossy paths.
func (c benchCase) ref() string {
	if workload.IsPathWorkload(c.workload) {
		return "synack-bbr"
	}
	return reference
}

// label names the case for the table, progress lines and -only:
// "mem-bulk mtu=1500".
func (c benchCase) label() string {
	return strings.TrimSpace(c.workload + " " + c.name)
}

// plan returns the cases of a full or quick run, in the order they run.
// The sizes are the issue's; quick ones are small enough that the whole
// quick run takes well under two minutes on two cores.
func plan(quick bool) []benchCase {
	mem := []string{"synack", "gvisor", "kernel"}
	bulk := append(mem[:3:3], "kernel-veth")
	// The emulated paths: synack with each congestion control against
	// gVisor (its default, NewReno) and the kernel's CUBIC and BBR; the
	// ratios are synack-bbr's (benchCase.ref).
	lossyPeers := []string{"synack-reno", "synack-cubic", "synack-bbr", "synack-bbr-draft", "gvisor", "kernel-cubic", "kernel-bbr"}
	tunPeers := []string{"synack", "gvisor"}
	bulkBytes, tunBytes, lossyBytes := "2147483648", "2147483648", "268435456"
	dur, lossyCap := "5s", "120s"
	idleConns := []string{"10000", "50000"}
	losses := []string{"0", "0.1", "1", "3"}
	if quick {
		// The path cases: one of each kind of contender.
		lossyPeers = []string{"synack-cubic", "synack-bbr", "gvisor", "kernel-bbr"}
		bulkBytes, tunBytes, lossyBytes = "134217728", "67108864", "2097152"
		dur, lossyCap = "500ms", "2s" // the loss-based contenders hit the cap
		idleConns = []string{"2000"}
		losses = []string{"1"}
	}
	var cs []benchCase
	for _, mtu := range []string{"1500", "65535"} {
		cs = append(cs, benchCase{"mtu=" + mtu, "mem-bulk", []string{"-mtu", mtu, "-bytes", bulkBytes}, bulk})
	}
	cs = append(cs, benchCase{"", "mem-rr", []string{"-duration", dur}, mem})
	// The same on one CPU: without the wake of a thread on the other,
	// halted vCPU (some 10 µs here), which makes the tail of the case above
	// for every contender.
	cs = append(cs, benchCase{"cpus=1", "mem-rr", []string{"-duration", dur, "-cpus", "1"}, mem})
	for _, d := range []string{"1", "8"} {
		cs = append(cs, benchCase{"dialers=" + d, "mem-connrate", []string{"-dialers", d, "-duration", dur}, mem})
	}
	for _, n := range idleConns {
		cs = append(cs, benchCase{"conns=" + n, "mem-idle", []string{"-conns", n}, mem})
	}
	// synack's own cases: batched ACKs on the plain link, then the pipe's
	// offload mode (TSO packets of up to 64 KiB across it).
	cs = append(cs, benchCase{"mtu=1500 batch-acks", "mem-bulk", []string{"-mtu", "1500", "-batch-acks", "-bytes", bulkBytes}, []string{"synack"}})
	cs = append(cs, benchCase{"mtu=1500 offload", "mem-bulk", []string{"-mtu", "1500", "-offload", "-bytes", bulkBytes}, []string{"synack"}})
	for _, tc := range []struct{ name, mtu, extra string }{{"", "1500", ""}, {"", "65535", ""}, {" offload", "1500", "-offload"}} {
		for _, rev := range []bool{false, true} {
			args, dir := []string{"-mtu", tc.mtu, "-bytes", tunBytes}, "stack→kernel"
			if tc.extra != "" {
				args = append(args, tc.extra)
			}
			if rev {
				args, dir = append(args, "-reverse"), "kernel→stack"
			}
			cs = append(cs, benchCase{"mtu=" + tc.mtu + tc.name + " " + dir, "tun-bulk", args, tunPeers})
		}
	}
	// Cores: eight connections on one and on two queues of the device,
	// with offloads, each way.
	for _, rev := range []bool{false, true} {
		for _, q := range []string{"1", "2"} {
			args, dir := []string{"-mtu", "1500", "-offload", "-flows", "8", "-queues", q, "-bytes", tunBytes}, "stack→kernel"
			if rev {
				args, dir = append(args, "-reverse"), "kernel→stack"
			}
			cs = append(cs, benchCase{"mtu=1500 offload flows=8 queues=" + q + " " + dir, "tun-bulk", args, []string{"synack"}})
		}
	}
	for _, l := range losses {
		cs = append(cs, benchCase{"loss=" + l + "%", "lossy-goodput", []string{"-loss", l, "-bytes", lossyBytes, "-cap", lossyCap}, lossyPeers})
	}
	// The same path without loss: 1% of packets 5 ms late, then a 1 MB
	// bottleneck queue with a probe measuring the delay it adds.
	cs = append(cs,
		benchCase{"late=1% by=5ms", "reordering", []string{"-reorder", "1", "-reorder-delay", "5ms", "-bytes", lossyBytes, "-cap", lossyCap}, lossyPeers},
		benchCase{"queue=1000000", "bufferbloat", []string{"-queue", "1000000", "-bytes", lossyBytes, "-cap", lossyCap}, lossyPeers})
	// Transparent proxies between the kernel's sockets in two namespaces:
	// synack proxy's engine against gVisor's forwarders as tun2socks
	// builds them, on the same TUN device and topology. gVisor's
	// connect-rate run is left out of the quick run: about once in 10,000
	// connections a client's connect to it times out, which would fail CI
	// now and then.
	proxyPeers := []string{"synack", "gvisor"}
	proxyBytes, proxyDur, proxyConns, connPeers := "1073741824", "2s", "5000", proxyPeers
	if quick {
		proxyBytes, proxyDur, proxyConns, connPeers = "67108864", "500ms", "1000", []string{"synack"}
	}
	for _, off := range []bool{false, true} {
		for _, rev := range []bool{false, true} {
			if quick && off != rev {
				continue // quick: up without offloads, down with them
			}
			args, name := []string{"-bytes", proxyBytes}, "dir=up"
			if rev {
				args, name = append(args, "-reverse"), "dir=down"
			}
			if off {
				args, name = append(args, "-offload"), name+" offload"
			}
			cs = append(cs, benchCase{name, "proxy-bulk", args, proxyPeers})
		}
	}
	cs = append(cs,
		benchCase{"dialers=1", "proxy-connrate", []string{"-dialers", "1", "-duration", proxyDur}, connPeers},
		benchCase{"conns=" + proxyConns, "proxy-idle", []string{"-conns", proxyConns}, proxyPeers})
	// Over WireGuard: two netstacks behind wireguard-go devices joined by
	// loopback UDP, wg-quick's MTU.
	wg := []string{"synack", "gvisor"}
	wgBytes, wgConns := "1073741824", "10000"
	if quick {
		wgBytes, wgConns = "67108864", "1000"
	}
	cs = append(cs,
		benchCase{name: "mtu=1420", workload: "wg-bulk", args: []string{"-mtu", "1420", "-bytes", wgBytes}, peers: wg},
		benchCase{workload: "wg-rr", args: []string{"-mtu", "1420", "-duration", dur}, peers: wg},
		benchCase{name: "conns=" + wgConns, workload: "wg-idle", args: []string{"-mtu", "1420", "-conns", wgConns}, peers: wg})
	return cs
}

// checkPeers verifies that every name is a known contender.
func checkPeers(names []string) error {
	for _, n := range names {
		if _, ok := peers[n]; !ok {
			return fmt.Errorf("unknown contender %q", n)
		}
	}
	return nil
}
