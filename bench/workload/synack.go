package workload

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/synack-go/synack"
	"github.com/synack-go/synack/link"
	"github.com/synack-go/synack/link/impair"
	"github.com/synack-go/synack/link/pipe"
	"github.com/synack-go/synack/tcp"
)

// The addresses of the two in-memory hosts, for every userspace contender.
var (
	ClientPrefix = netip.MustParsePrefix("10.0.0.1/24")
	ServerPrefix = netip.MustParsePrefix("10.0.0.2/24")
)

// Synack is the synack contender: two stacks with default options on a
// link/pipe, each direction wrapped in link/impair when the workload asks
// for an emulated path.
var Synack = Contender{
	Name:   "synack",
	NewNet: newSynackNet,
	Note:   "default options (autotuned buffers from 1 MiB, SACK, CUBIC unless -cc)",
}

// synackNet is two synack stacks on one in-memory link.
type synackNet struct {
	client, server *synack.Stack
	note           string
}

func newSynackNet(spec Spec) (Net, error) {
	if spec.Workload == "tun-bulk" {
		return newSynackTUN(spec)
	}
	if IsProxyWorkload(spec.Workload) {
		return newSynackProxy(spec)
	}
	cfg, err := synackTCP(spec.CC)
	if err != nil {
		return nil, err
	}
	if spec.Variant != "" {
		return nil, fmt.Errorf("%w: synack has no variant %q", errors.ErrUnsupported, spec.Variant)
	}
	a, b := pipe.New(pipe.Config{MTU: spec.MTU, Offload: spec.Offload, Queues: spec.Queues})
	var ca, cb link.Endpoint = a, b
	if spec.Data != (impair.Config{}) {
		var inner link.Endpoint = a
		if spec.Delivered != nil {
			inner = tapWrites{a, spec.Delivered}
		}
		ca = impair.Wrap(inner, spec.Data)
	}
	if spec.Ack != (impair.Config{}) {
		cb = impair.Wrap(b, spec.Ack)
	}
	var batch synack.BatchACKMode
	if spec.BatchACKs {
		batch = synack.BatchACKsOn
	}
	client, err := synack.NewStack(ca, synack.Options{Name: "client", Addrs: []netip.Prefix{ClientPrefix}, BatchACKs: batch, TCP: cfg})
	if err != nil {
		cb.Close()
		return nil, err
	}
	// A deep SYN queue so that mem-idle's dial loops never meet cookies.
	server, err := synack.NewStack(cb, synack.Options{Name: "server", Addrs: []netip.Prefix{ServerPrefix}, SynBacklog: 4096, BatchACKs: batch, TCP: cfg})
	if err != nil {
		client.Close()
		return nil, err
	}
	n := &synackNet{client: client, server: server, note: "link/pipe"}
	if spec.CC != "" {
		n.note += ", congestion control " + spec.CC
	}
	if spec.Offload {
		n.note += " with offloads (TSO packets of up to 64 KiB, checksums left to the link, batched ACKs)"
	}
	if spec.Queues > 1 {
		n.note += fmt.Sprintf(", %d queues", spec.Queues)
	}
	if spec.BatchACKs {
		n.note += ", batched ACKs"
	}
	return n, nil
}

func (n *synackNet) Listen(port uint16) (net.Listener, error) {
	return n.server.ListenAddrPort("tcp", netip.AddrPortFrom(ServerPrefix.Addr(), port), 4096)
}

func (n *synackNet) Dial(ctx context.Context, port uint16) (net.Conn, error) {
	return n.client.DialContext(ctx, "tcp", netip.AddrPortFrom(ServerPrefix.Addr(), port).String())
}

func (n *synackNet) Close() error {
	return errors.Join(n.client.Close(), n.server.Close())
}

func (n *synackNet) Note() string { return n.note }

// Packets counts what both ends wrote to the pipe.
func (n *synackNet) Packets() uint64 {
	cs, ss := n.client.Stats(), n.server.Stats()
	return cs.PacketsOut + ss.PacketsOut
}

// Retransmits reads the sender's connection statistics.
func (n *synackNet) Retransmits(c net.Conn) uint64 {
	if sc, ok := c.(*synack.Conn); ok {
		return sc.Stats().Retransmits
	}
	return 0
}

// synackTCP returns the tunables of both stacks for congestion control
// name (tcp.CongestionControlNames): the stack's default for "".
func synackTCP(name string) (tcp.Config, error) {
	var cfg tcp.Config
	if name != "" {
		if err := tcp.CheckCongestionControl(name); err != nil {
			return cfg, fmt.Errorf("synack: %w", err)
		}
		cfg.CongestionControl = name
	}
	return cfg, nil
}

// tapWrites is an endpoint that shows every packet written to it to tap
// first: the packets an impaired path delivers.
type tapWrites struct {
	link.Endpoint
	tap func(pkts [][]byte)
}

func (t tapWrites) WriteBatch(pkts [][]byte) error {
	t.tap(pkts)
	return t.Endpoint.WriteBatch(pkts)
}
