package workload

import (
	"context"
	"net"

	"github.com/synack-go/synack/link/impair"
)

// Net is two hosts joined by a link, as one contender builds them: the
// server host listens, the client host dials it. Workloads use nothing
// else, so every contender runs the same code.
type Net interface {
	// Listen listens on port of the server host.
	Listen(port uint16) (net.Listener, error)
	// Dial connects from the client host to port of the server host.
	Dial(ctx context.Context, port uint16) (net.Conn, error)
	// Close tears both hosts and the link down.
	Close() error
}

// PacketCounter is a Net that can say how many IP packets crossed its link
// so far, both directions together: the figure behind packets/s.
type PacketCounter interface {
	Packets() uint64
}

// Retransmitter is a Net that can say how many segments the sending end of
// c retransmitted.
type Retransmitter interface {
	Retransmits(c net.Conn) uint64
}

// Noter is a Net that describes its link for the result's Note.
type Noter interface {
	Note() string
}

// ConnLimiter is a Net that can hold only so many connections (the kernel's
// two descriptors per connection against RLIMIT_NOFILE); mem-idle then
// opens that many and says so.
type ConnLimiter interface {
	MaxConns() int
	Why() string
}

// KernelMemory is a Net whose connections live in the kernel: mem-idle
// then counts the kernel's slab growth into their memory.
type KernelMemory interface {
	KernelMemory() bool
}

// Spec says what link a workload needs. Contenders map it onto their own
// links; every field's zero value means "not asked for".
type Spec struct {
	// Workload is the workload's name ("mem-bulk", ...): a contender may
	// use a different link for each (the kernel: loopback or TUN).
	Workload string
	// MTU is the link MTU; 0 means 1500.
	MTU int
	// Data impairs the client-to-server direction (the data of a bulk
	// transfer), Ack the other direction. Every contender passes its
	// packets through link/impair with these configs.
	Data, Ack impair.Config
	// CC names the congestion control to use ("reno", "cubic", "bbr";
	// synack also "bbr-draft"); empty means the contender's default.
	CC string
	// Delivered, if set, is called with the packets the Data direction
	// delivers, after the impairments, before the receiving host gets
	// them (the reordering workload counts duplicates there). A contender
	// that cannot call it leaves it; the workload then says "n/a".
	Delivered func(pkts [][]byte)
	// Variant picks one of a contender's ways to run the workload: for
	// the kernel "veth" runs mem-bulk between two namespaces instead of
	// over loopback. Empty means the contender's usual way.
	Variant string
	// Offload asks for the link's offloads (TSO, GRO, checksums left to
	// the link) where the contender has them: on a TUN device,
	// virtio-net headers.
	Offload bool
	// Queues is the number of link queues, each with its own reader (a
	// multi-queue TUN device); 0 or 1 means one.
	Queues int
	// BatchACKs asks synack to batch ACKs on any link (Options.BatchACKs);
	// other contenders refuse it.
	BatchACKs bool
}

// Contender is one TCP implementation under test.
type Contender struct {
	// Name labels its results ("synack", "gvisor", "kernel").
	Name string
	// NewNet builds the hosts and link a workload asks for, or says why
	// it cannot (errors.ErrUnsupported wrapped in an explanation for a
	// workload the contender does not do, ErrSkip for one that needs what
	// the machine lacks, such as root).
	NewNet func(spec Spec) (Net, error)
	// Note, if set, describes how the contender is set up; it goes into
	// every result's Note.
	Note string
}
