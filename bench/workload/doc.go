// Package workload holds the benchmark workloads of bench/compare, written
// once against net.Conn and net.Listener so that every contender (synack,
// gVisor's netstack, the kernel) runs exactly the same code: the same bytes
// in the same write sizes, verified the same way, timed the same way.
//
// A contender supplies a [Net]: two hosts joined by a link (in memory, a TUN
// device, an impaired path). [Main] parses a workload's command line, builds
// the Net through the contender's [Contender.NewNet], runs the workload and
// prints its [Result], as text or as one line of JSON for bench/compare.
//
// The workloads (see BASELINES.md for the figures they are compared with):
//
//	mem-bulk       one connection, -bytes one way in -write sized writes
//	mem-rr         1-byte request/response for -duration: round trips/s, latency
//	mem-connrate   Dial + Accept + 1 byte echoed + Close by -dialers loops
//	mem-idle       -conns established idle connections: memory per connection
//	tun-bulk       mem-bulk where one host is the stack on a TUN device and
//	               the other the kernel in a network namespace
//	lossy-goodput  mem-bulk over an emulated path (delay, loss, rate limit),
//	               capped at -cap: goodput and retransmissions
//	reordering     the same path without loss, -reorder percent of packets
//	               -reorder-delay late: goodput and spurious retransmissions
//	bufferbloat    the same path behind a 1 MB queue, with a ping-like probe
//	               on a second connection: goodput and the delay it adds
package workload
