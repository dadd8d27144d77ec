package workload

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"testing"
)

// loopback is a Net of the kernel's loopback, a known-good TCP, to check
// the workloads themselves. It listens on ephemeral ports, so that tests
// never collide with a port in use on the host, and remembers which one
// stands for each workload port.
type loopback struct {
	ports map[uint16]string
}

func (l *loopback) Listen(port uint16) (net.Listener, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err == nil {
		l.ports[port] = ln.Addr().String()
	}
	return ln, err
}

func (l *loopback) Dial(ctx context.Context, port uint16) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp4", l.ports[port])
}

func (l *loopback) Close() error { return nil }

// small are the quickest arguments of every in-memory workload.
var small = [][]string{
	{"mem-bulk", "-bytes", strconv.Itoa(8 << 20)},
	{"mem-bulk", "-bytes", strconv.Itoa(8 << 20), "-mtu", "65535", "-write", "1000"},
	{"mem-rr", "-duration", "50ms"},
	{"mem-connrate", "-duration", "50ms", "-dialers", "2"},
	{"mem-idle", "-conns", "50"},
	{"lossy-goodput", "-bytes", strconv.Itoa(256 << 10), "-loss", "1", "-delay", "1ms", "-cap", "20s"},
	// Capped: goodput so far, not a failure.
	{"lossy-goodput", "-bytes", strconv.Itoa(1 << 30), "-loss", "3", "-delay", "1ms", "-cap", "300ms"},
	{"lossy-goodput", "-bytes", strconv.Itoa(256 << 10), "-loss", "1", "-delay", "1ms", "-cap", "20s", "-cc", "bbr-draft"},
	{"reordering", "-bytes", strconv.Itoa(1 << 20), "-delay", "1ms", "-reorder", "5", "-cap", "20s", "-cc", "bbr"},
	{"bufferbloat", "-bytes", strconv.Itoa(1 << 20), "-delay", "1ms", "-probe-interval", "1ms", "-cap", "20s", "-cc", "reno"},
}

// headlines are the headline metrics each workload must report on synack.
var headlines = map[string][]string{
	"reordering":  {"goodput", "spurious retransmits"},
	"bufferbloat": {"goodput", "added delay p50", "added delay p95"},
}

// TestWorkloads runs every in-memory workload, small, on synack and on the
// kernel's loopback, and checks that each prints one JSON result with its
// headline figures.
func TestWorkloads(t *testing.T) {
	contenders := []Contender{
		Synack,
		{Name: "loopback", NewNet: func(Spec) (Net, error) { return &loopback{ports: map[uint16]string{}}, nil }},
	}
	for _, c := range contenders {
		for _, args := range small {
			if c.Name == "loopback" && IsPathWorkload(args[0]) {
				continue // loopback cannot be impaired
			}
			t.Run(c.Name+"/"+args[0], func(t *testing.T) {
				var out bytes.Buffer
				if err := Main(c, append(args, "-json"), &out); err != nil {
					t.Fatal(err)
				}
				var r Result
				if err := json.Unmarshal(out.Bytes(), &r); err != nil {
					t.Fatalf("%v: %s", err, out.Bytes())
				}
				headline := 0
				for _, m := range r.Metrics {
					if m.Headline {
						headline++
					}
				}
				if r.Workload != args[0] || headline == 0 {
					t.Errorf("result %+v: want workload %s with headline metrics", r, args[0])
				}
				for _, name := range headlines[args[0]] {
					if m, ok := r.Metric(name); !ok || !m.Headline {
						t.Errorf("result %+v: no headline %q", r, name)
					}
				}
			})
		}
	}
}

// TestUnknownCC: a congestion control synack does not know fails the run
// and names the ones it has.
func TestUnknownCC(t *testing.T) {
	err := Main(Synack, []string{"lossy-goodput", "-cc", "vegas"}, new(bytes.Buffer))
	if err == nil || !strings.Contains(err.Error(), "reno, cubic, bbr") || !strings.Contains(err.Error(), "bbr-draft") {
		t.Fatalf("-cc vegas: %v", err)
	}
}

// TestUnknownWorkload checks that a typo fails instead of measuring nothing.
func TestUnknownWorkload(t *testing.T) {
	if err := Main(Synack, []string{"mem-blk"}, new(bytes.Buffer)); err == nil {
		t.Fatal("an unknown workload ran")
	}
}
