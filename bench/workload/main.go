package workload

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"time"
)

// ErrSkip marks a workload that cannot run on this machine (no root, no
// TUN device): Main reports it as skipped, which is not a failure.
var ErrSkip = errors.New("skipped")

// workloads lists the workloads Main knows.
var workloads = []string{"mem-bulk", "mem-rr", "mem-connrate", "mem-idle", "tun-bulk", "lossy-goodput", "reordering", "bufferbloat",
	"wg-bulk", "wg-rr", "wg-idle", "proxy-bulk", "proxy-connrate", "proxy-idle"}

// Usage describes the workloads and their flags.
const Usage = `workloads:
  mem-bulk       -mtu 1500 -bytes 2147483648 -write 65536 -offload (synack: the
                 pipe's offload mode, TSO packets of up to 64 KiB across it)
                 -batch-acks (synack: one ACK per read batch on a plain link)
  mem-rr         -duration 5s
  mem-connrate   -dialers 1 -duration 5s
  mem-idle       -conns 10000
  tun-bulk       -mtu 1500 -bytes 2147483648 -reverse (kernel sends to the stack)
                 -offload (virtio-net offloads: TSO, GRO, checksums) -flows 1
                 -queues 1 (queues of the TUN device, a reader each)
  lossy-goodput  -loss 1 (percent) -bytes 268435456 -cap 120s -delay 10ms
                 -rate 200000000 -queue 500000 -cc reno (synack also bbr-draft)
  reordering     lossy-goodput's path without loss, -reorder 1 (percent of
                 packets) -reorder-delay 5ms late: goodput, and the spurious
                 retransmissions (data that had arrived already, on the wire)
  bufferbloat    lossy-goodput's path (-loss 0) with -queue 1000000, and a
                 64-byte request/response every -probe-interval 10ms on a
                 second connection: goodput, and the queueing delay the
                 transfer adds to the probe's round trip (p50, p95)
  proxy-bulk     -bytes 1073741824 -reverse -offload: a transparent proxy
                 between the kernel's sockets in two namespaces (clients
                 whose default route is the proxy's TUN device, servers
                 behind a veth), each flow opened again from a third
  proxy-connrate -dialers 1 -duration 5s, through the proxy
  proxy-idle     -conns 10000 idle proxied flows: memory per flow
  wg-bulk, wg-rr, wg-idle  mem-bulk, mem-rr and mem-idle between two
                 netstacks behind wireguard-go devices joined by loopback
                 UDP (the wireguard module's contenders only); -mtu 1420
common flags: -json (one line of JSON), -seed 1, -variant NAME (a contender's
other way to run the workload, e.g. the kernel's "veth" for mem-bulk),
-cpus N (run on CPUs 0..N-1 only, as taskset: mem-rr's cpus=1 case), -cpuprofile FILE,
-mutexprofile FILE, -blockprofile FILE
`

// params are a workload's command-line flags.
type params struct {
	mtu      int
	bytes    int64
	write    int
	duration time.Duration
	dialers  int
	conns    int
	reverse  bool
	offload  bool
	batchACK bool
	flows    int
	queues   int
	loss     float64
	capDur   time.Duration
	delay    time.Duration
	rate     int64
	queue    int
	cc       string
	reorder  float64
	reorderD time.Duration
	probeInt time.Duration
	variant  string
	cpus     int
	seed     uint64
	json     bool
	profile  string
	mutexPr  string
	blockPr  string
}

// Main runs the workload args[0] with the flags that follow on contender c
// and prints its result on w, as text, or as one JSON line with -json.
// A workload the machine cannot run (ErrSkip) prints a skipped result and
// returns nil; any other failure, a corrupted or unfinished transfer
// included, returns an error.
func Main(c Contender, args []string, w io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return fmt.Errorf("which workload?\n%s", Usage)
	}
	name := args[0]
	defBytes := int64(2 << 30)
	defQueue := 500000
	if IsPathWorkload(name) {
		defBytes = 256 << 20
	}
	if name == "bufferbloat" {
		defQueue = 1000000
	}
	var p params
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(w)
	fs.IntVar(&p.mtu, "mtu", 1500, "link MTU (mem-bulk, tun-bulk, the emulated paths)")
	fs.Int64Var(&p.bytes, "bytes", defBytes, "bytes to transfer")
	fs.IntVar(&p.write, "write", 64<<10, "bytes per Write")
	fs.DurationVar(&p.duration, "duration", 5*time.Second, "how long to run (mem-rr, mem-connrate)")
	fs.IntVar(&p.dialers, "dialers", 1, "concurrent dial loops (mem-connrate)")
	fs.IntVar(&p.conns, "conns", 10000, "idle connections (mem-idle)")
	fs.BoolVar(&p.reverse, "reverse", false, "the server host sends (tun-bulk: kernel to stack)")
	fs.BoolVar(&p.offload, "offload", false, "use the link's offloads: TSO, GRO, checksums (tun-bulk; mem-bulk for synack)")
	fs.BoolVar(&p.batchACK, "batch-acks", false, "synack: batch ACKs also on a link without offloads (Options.BatchACKs)")
	fs.IntVar(&p.flows, "flows", 1, "connections sharing the bytes, at once (mem-bulk, tun-bulk)")
	fs.IntVar(&p.queues, "queues", 1, "link queues, one reader each (tun-bulk; mem-bulk for synack)")
	fs.Float64Var(&p.loss, "loss", 0, "random loss on the data direction, percent (lossy-goodput, bufferbloat)")
	fs.DurationVar(&p.capDur, "cap", 120*time.Second, "stop the transfer there and report goodput so far (the emulated paths)")
	fs.DurationVar(&p.delay, "delay", 10*time.Millisecond, "one-way delay each direction (the emulated paths)")
	fs.Int64Var(&p.rate, "rate", 200e6, "bottleneck rate in bit/s on the data direction (the emulated paths)")
	fs.IntVar(&p.queue, "queue", defQueue, "bottleneck drop-tail queue in bytes (the emulated paths)")
	fs.Float64Var(&p.reorder, "reorder", 1, "packets of the data direction delivered late, percent (reordering)")
	fs.DurationVar(&p.reorderD, "reorder-delay", defaultReorderDelay, "how late (reordering)")
	fs.DurationVar(&p.probeInt, "probe-interval", 10*time.Millisecond, "time between the probe's requests (bufferbloat)")
	fs.StringVar(&p.cc, "cc", "", "congestion control: reno, cubic, bbr; synack also bbr-draft (empty: the contender's default)")
	fs.StringVar(&p.variant, "variant", "", "the contender's other way to run the workload")
	fs.IntVar(&p.cpus, "cpus", 0, "run on CPUs 0..cpus-1 only, as taskset does (0: wherever the scheduler likes)")
	fs.Uint64Var(&p.seed, "seed", 1, "seed of the data pattern and the impairments")
	fs.BoolVar(&p.json, "json", false, "print one line of JSON")
	fs.StringVar(&p.profile, "cpuprofile", "", "write a CPU profile of the run to this file (go tool pprof)")
	fs.StringVar(&p.mutexPr, "mutexprofile", "", "write a profile of mutex contention in the run to this file")
	fs.StringVar(&p.blockPr, "blockprofile", "", "write a profile of goroutines' blocking in the run to this file")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if p.write <= 0 || p.bytes <= 0 {
		return errors.New("-write and -bytes must be positive")
	}
	if p.flows < 1 || p.queues < 1 {
		return errors.New("-flows and -queues must be at least 1")
	}
	if p.cpus < 0 {
		return errors.New("-cpus must not be negative")
	}
	if p.cpus > 0 {
		if err := pinCPUs(p.cpus); err != nil {
			return err
		}
	}
	if p.profile != "" {
		f, err := os.Create(p.profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if p.mutexPr != "" {
		runtime.SetMutexProfileFraction(1)
		defer writeProfile("mutex", p.mutexPr)
	}
	if p.blockPr != "" {
		runtime.SetBlockProfileRate(1)
		defer writeProfile("block", p.blockPr)
	}
	res, err := run(c, name, &p)
	if errors.Is(err, ErrSkip) {
		res.Skipped, err = strings.TrimPrefix(err.Error(), ErrSkip.Error()+": "), nil
	}
	if err != nil {
		return fmt.Errorf("%s %s (%s): %w", name, res.Case, c.Name, err)
	}
	if c.Note != "" {
		res.addNote(c.Note)
	}
	if p.json {
		return res.WriteJSON(w)
	}
	return res.WriteText(w)
}

// writeProfile writes the runtime's profile name (mutex, block) to file,
// reporting a failure on stderr: the run's result is printed regardless.
func writeProfile(name, file string) {
	f, err := os.Create(file)
	if err == nil {
		err = pprof.Lookup(name).WriteTo(f, 0)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "writing the %s profile: %v\n", name, err)
	}
}

// run builds the Net and runs one workload.
func run(c Contender, name string, p *params) (Result, error) {
	res := Result{Workload: name, Contender: c.Name, Case: caseOf(name, p)}
	spec := Spec{Workload: name, MTU: p.mtu, CC: p.cc, Variant: p.variant, Offload: p.offload, Queues: p.queues, BatchACKs: p.batchACK}
	var dups *dupCounter
	if IsPathWorkload(name) {
		spec.Data, spec.Ack = pathConfigs(name, p)
	}
	if name == "reordering" {
		dups = newDupCounter()
		spec.Delivered = dups.Observe
	}
	if !slices.Contains(workloads, name) {
		return res, fmt.Errorf("unknown workload %q\n%s", name, Usage)
	}
	n, err := c.NewNet(spec)
	if err != nil {
		return res, err
	}
	defer n.Close()
	if nt, ok := n.(Noter); ok {
		res.addNote(nt.Note())
	}
	switch name {
	case "mem-bulk", "tun-bulk", "wg-bulk", "proxy-bulk":
		o, err := runBulk(n, bulkOpts{total: p.bytes, write: p.write, reverse: p.reverse,
			limit: 10 * time.Minute, seed: p.seed, flows: p.flows})
		if err != nil {
			return res, err
		}
		bulkMetrics(&res, o)
	case "lossy-goodput":
		o, err := runBulk(n, bulkOpts{total: p.bytes, write: p.write, cap: p.capDur, seed: p.seed})
		if err != nil {
			return res, err
		}
		lossyMetrics(&res, o)
	case "reordering":
		o, err := runBulk(n, bulkOpts{total: p.bytes, write: p.write, cap: p.capDur, seed: p.seed})
		if err != nil {
			return res, err
		}
		reorderMetrics(&res, o, dups)
	case "bufferbloat":
		if p.probeInt <= 0 {
			return res, errors.New("-probe-interval must be positive")
		}
		o, err := runBufferbloat(n, bulkOpts{total: p.bytes, write: p.write, cap: p.capDur, seed: p.seed}, p.probeInt)
		if err != nil {
			return res, err
		}
		bloatMetrics(&res, o)
	case "mem-rr", "wg-rr":
		o, err := runRR(n, p.duration)
		if err != nil {
			return res, err
		}
		rrMetrics(&res, o)
	case "mem-connrate", "proxy-connrate":
		o, err := runConnRate(n, p.dialers, p.duration)
		if err != nil {
			return res, err
		}
		connMetrics(&res, o)
	case "mem-idle", "wg-idle", "proxy-idle":
		conns := p.conns
		if cl, ok := n.(ConnLimiter); ok && cl.MaxConns() < conns {
			conns = cl.MaxConns()
			res.addNote(fmt.Sprintf("%d connections, the most this process can hold (%s)", conns, cl.Why()))
		}
		o, err := runIdle(n, conns)
		if err != nil {
			return res, err
		}
		if km, ok := n.(KernelMemory); ok && km.KernelMemory() {
			o.kernelMemory = true
			res.addNote("memory includes the kernel's slab growth (machine-wide, noisy)")
		}
		if name == "proxy-idle" {
			proxyIdleMetrics(&res, o)
		} else {
			idleMetrics(&res, o)
		}
	}
	return res, nil
}

// caseOf names the parameters that tell one case of a workload from
// another; bench/compare groups results by workload and case.
func caseOf(name string, p *params) string {
	var kv []string
	switch name {
	case "mem-bulk", "wg-bulk":
		kv = append(kv, fmt.Sprintf("mtu=%d", p.mtu))
		kv = append(kv, bulkShape(p)...)
	case "tun-bulk":
		dir := "out"
		if p.reverse {
			dir = "in"
		}
		kv = append(kv, fmt.Sprintf("mtu=%d", p.mtu), "dir="+dir)
		kv = append(kv, bulkShape(p)...)
	case "proxy-bulk":
		dir := "up"
		if p.reverse {
			dir = "down"
		}
		kv = append(kv, "dir="+dir)
		kv = append(kv, bulkShape(p)...)
	case "mem-connrate", "proxy-connrate":
		kv = append(kv, fmt.Sprintf("dialers=%d", p.dialers))
	case "mem-idle", "wg-idle", "proxy-idle":
		kv = append(kv, fmt.Sprintf("conns=%d", p.conns))
	case "lossy-goodput":
		kv = append(kv, fmt.Sprintf("loss=%g%%", p.loss))
	case "reordering":
		kv = append(kv, fmt.Sprintf("late=%g%%", p.reorder), "by="+p.reorderD.String())
	case "bufferbloat":
		kv = append(kv, fmt.Sprintf("queue=%d", p.queue))
		if p.loss != 0 {
			kv = append(kv, fmt.Sprintf("loss=%g%%", p.loss))
		}
	}
	if p.cpus > 0 {
		kv = append(kv, fmt.Sprintf("cpus=%d", p.cpus))
	}
	sort.Strings(kv)
	return strings.Join(kv, " ")
}

// bulkShape names a bulk case's offloads, flows and queues when they are
// not the defaults.
func bulkShape(p *params) []string {
	var kv []string
	if p.offload {
		kv = append(kv, "offload")
	}
	if p.batchACK {
		kv = append(kv, "batch-acks")
	}
	if p.flows > 1 {
		kv = append(kv, fmt.Sprintf("flows=%d", p.flows))
	}
	if p.queues > 1 {
		kv = append(kv, fmt.Sprintf("queues=%d", p.queues))
	}
	return kv
}

const gib = 1 << 30

func bulkMetrics(r *Result, o bulkOut) {
	sec := o.elapsed.Seconds()
	r.Bytes = o.bytes
	r.add("throughput", "Gbit/s", float64(o.bytes)*8/sec/1e9, Higher, true)
	if o.packets > 0 {
		r.add("packets", "Mpkt/s", float64(o.packets)/sec/1e6, Higher, true)
	}
	r.add("cpu", "s/GiB", o.cpu.Seconds()/(float64(o.bytes)/gib), Lower, true)
	r.add("elapsed", "s", sec, Lower, false)
}

func lossyMetrics(r *Result, o bulkOut) {
	sec := o.elapsed.Seconds()
	r.Bytes = o.bytes
	r.add("goodput", "Mbit/s", float64(o.bytes)*8/sec/1e6, Higher, true)
	r.add("retransmits", "segments", float64(o.retrans), Lower, true)
	done := 0.0
	if o.completed {
		done = 1
	} else {
		r.addNote(fmt.Sprintf("capped at %v: %d bytes arrived", o.elapsed, o.bytes))
	}
	r.add("completed", "bool", done, Higher, false)
	r.add("elapsed", "s", sec, Lower, false)
}

// reorderMetrics is lossyMetrics with the spurious retransmissions: data
// segments that reached the receiver carrying only bytes it had (nothing
// is lost on this path but what the bottleneck's queue drops).
func reorderMetrics(r *Result, o bulkOut, dups *dupCounter) {
	sec := o.elapsed.Seconds()
	r.Bytes = o.bytes
	r.add("goodput", "Mbit/s", float64(o.bytes)*8/sec/1e6, Higher, true)
	if dups.segs.Load() > 0 {
		r.add("spurious retransmits", "segments", float64(dups.dups.Load()), Lower, true)
	} else {
		r.addNote("spurious retransmits n/a: the contender does not show its link's packets")
	}
	r.add("retransmits", "segments", float64(o.retrans), Lower, false)
	if !o.completed {
		r.addNote(fmt.Sprintf("capped at %v: %d bytes arrived", o.elapsed, o.bytes))
	}
	r.add("elapsed", "s", sec, Lower, false)
}

// bloatMetrics reports the bulk transfer's goodput and the delay it added
// to the probe's round trips.
func bloatMetrics(r *Result, o bloatOut) {
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	sec := o.bulk.elapsed.Seconds()
	r.Bytes = o.bulk.bytes
	r.add("goodput", "Mbit/s", float64(o.bulk.bytes)*8/sec/1e6, Higher, true)
	r.add("added delay p50", "ms", ms(quantile(o.added, 0.50)), Lower, true)
	r.add("added delay p95", "ms", ms(quantile(o.added, 0.95)), Lower, true)
	r.add("idle rtt", "ms", ms(o.baseline), Lower, false)
	r.add("probes", "count", float64(len(o.added)), Higher, false)
	r.add("retransmits", "segments", float64(o.bulk.retrans), Lower, false)
	if !o.bulk.completed {
		r.addNote(fmt.Sprintf("capped at %v: %d bytes arrived", o.bulk.elapsed, o.bulk.bytes))
	}
	r.add("elapsed", "s", sec, Lower, false)
}

func rrMetrics(r *Result, o rrOut) {
	us := func(d time.Duration) float64 { return float64(d) / 1e3 }
	r.add("round trips", "k/s", float64(len(o.rtts))/o.elapsed.Seconds()/1e3, Higher, true)
	r.add("p50", "µs", us(quantile(o.rtts, 0.50)), Lower, true)
	r.add("p99", "µs", us(quantile(o.rtts, 0.99)), Lower, true)
	r.add("p99.9", "µs", us(quantile(o.rtts, 0.999)), Lower, true)
	r.add("cpu", "µs/trip", us(o.cpu)/float64(len(o.rtts)), Lower, false)
}

func connMetrics(r *Result, o connOut) {
	r.add("rate", "k conns/s", float64(o.conns)/o.elapsed.Seconds()/1e3, Higher, true)
	if o.conns > 0 {
		r.add("cpu", "µs/conn", float64(o.cpu)/1e3/float64(o.conns), Lower, true)
	}
	r.add("conns", "count", float64(o.conns), Higher, false)
}

func idleMetrics(r *Result, o idleOut) {
	n := float64(o.conns)
	per := func(a, b uint64) float64 { return (float64(a) - float64(b)) / n }
	mem := per(o.after.heap+o.after.stacks, o.before.heap+o.before.stacks)
	slab := per(o.after.slab, o.before.slab)
	total := mem
	if o.kernelMemory {
		total += slab
	}
	r.add("memory", "B/endpoint", total/2, Lower, true)
	r.add("heap+stacks", "B/endpoint", mem/2, Lower, false)
	r.add("rss", "B/conn", per(o.after.rss, o.before.rss), Lower, true)
	r.add("kernel slab", "B/conn", slab, Lower, false)
	r.add("goroutines", "per conn", float64(o.after.gs-o.before.gs)/n, Lower, false)
	r.add("setup", "k conns/s", n/o.setup.Seconds()/1e3, Higher, false)
}

// proxyIdleMetrics reports proxy-idle per proxied flow: the whole
// process's heap and stacks, the two kernel sockets the harness holds for
// each flow (the same for every contender) and the proxy's flow (its
// stack's connection, the relay, the upstream socket).
func proxyIdleMetrics(r *Result, o idleOut) {
	n := float64(o.conns)
	per := func(a, b uint64) float64 { return (float64(a) - float64(b)) / n }
	r.add("memory", "B/flow", per(o.after.heap+o.after.stacks, o.before.heap+o.before.stacks), Lower, true)
	r.add("rss", "B/flow", per(o.after.rss, o.before.rss), Lower, true)
	r.add("goroutines", "per flow", float64(o.after.gs-o.before.gs)/n, Lower, false)
	r.add("setup", "k flows/s", n/o.setup.Seconds()/1e3, Higher, false)
}
