package main

import (
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/synack-go/synack/trace"
	"github.com/synack-go/synack/wire"
)

// ipPacket returns seg, sent from src to dst, as an IP packet.
func ipPacket(src, dst netip.AddrPort, seg *wire.TCPSegment) []byte {
	hl := wire.IPHeaderLen(dst.Addr())
	pkt := make([]byte, hl+seg.Len())
	wire.PutIPHeader(pkt, src.Addr(), dst.Addr(), wire.ProtoTCP, seg.Len(), 64)
	seg.Emit(pkt[hl:])
	wire.TCP(pkt[hl:]).SetChecksum(src.Addr(), dst.Addr())
	return pkt
}

// captured returns the segments a scenario's capture should hold, as
// "flags seq ack len" with absolute numbers: what the client sent and
// received, in the order the client did so.
func captured(events []trace.Event) []string {
	var want []string
	for _, e := range events {
		if e.Seg == nil || e.Stack != "client" || e.Kind != trace.SegmentIn && e.Kind != trace.SegmentOut {
			continue
		}
		s := e.Seg
		want = append(want, fmt.Sprintf("%#04x %d %d %d", uint16(s.Flags), uint32(s.Seq), uint32(s.Ack), len(s.Payload)))
	}
	return want
}

// TestDemoPcapTshark writes the capture of every scenario and has tshark
// dissect it with checksum validation on: every packet's flags, seq, ack
// and length agree with synack's own trace, and no checksum is wrong.
func TestDemoPcapTshark(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not in PATH; install it (apt-get install tshark) to dissect the demo's captures")
	}
	for _, sc := range demoScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			var file bytes.Buffer
			events := demoEvents(t, sc.name, &file)
			path := filepath.Join(t.TempDir(), sc.name+".pcap")
			if err := os.WriteFile(path, file.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(tshark, "-n", "-r", path, "-T", "fields",
				"-e", "tcp.flags", "-e", "tcp.seq", "-e", "tcp.ack", "-e", "tcp.len",
				"-e", "tcp.checksum.status", "-e", "ip.checksum.status",
				"-o", "tcp.relative_sequence_numbers:FALSE",
				"-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("tshark: %v\n%s", err, stderr.Bytes())
			}
			var got []string
			for line := range strings.Lines(string(out)) {
				f := strings.Split(strings.TrimRight(line, "\n"), "\t")
				if len(f) != 6 {
					t.Fatalf("tshark printed %q", line)
				}
				if f[4] != "1" || f[5] != "1" {
					t.Errorf("checksum status tcp %s ip %s (1 is good) in %q", f[4], f[5], line)
				}
				ack := f[2]
				flags, _ := strconv.ParseUint(strings.TrimPrefix(f[0], "0x"), 16, 16)
				if flags&0x10 == 0 {
					ack = "0" // tshark shows the field's bytes even without ACK
				}
				got = append(got, fmt.Sprintf("%#04x %s %s %s", flags, f[1], ack, f[3]))
			}
			want := captured(events)
			for i := range want {
				// The trace's ack of a segment without ACK is what the
				// stack put in the field: zero.
				if w := strings.Fields(want[i]); len(w) == 4 {
					if fl, _ := strconv.ParseUint(w[0][2:], 16, 16); fl&0x10 == 0 {
						want[i] = fmt.Sprintf("%s %s 0 %s", w[0], w[1], w[3])
					}
				}
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("tshark:\n%s\nthe trace:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// stateChanges returns, per endpoint, the states events show it entering.
// An initial CLOSED, which the inference shows for a port nobody listens
// on and a stack does not trace, is left out.
func stateChanges(events []trace.Event) map[string][]string {
	m := make(map[string][]string)
	for _, e := range events {
		if e.Kind == trace.StateChange && (e.From != "" || e.To != "CLOSED") {
			k := e.Local.String() + " " + e.Remote.String()
			m[k] = append(m[k], e.To)
		}
	}
	return m
}

// TestDemoInferredStates checks the inference of `synack trace` against
// the stacks themselves: each scenario's segments, seen as a capture on
// the link between the stacks sees them, must imply the state changes the
// stacks traced. What needs a clock (TIME_WAIT ending) or happens inside a
// stack (a SYN or ACK dropped on a full accept queue, a SYN cookie) is out
// of a capture's sight; backlog-full, full of both, is left out.
func TestDemoInferredStates(t *testing.T) {
	for _, sc := range demoScenarios() {
		if sc.name == "backlog-full" {
			continue
		}
		t.Run(sc.name, func(t *testing.T) {
			events := demoEvents(t, sc.name, io.Discard)
			// Rebuild the wire's view: every segment that arrived.
			var c trace.Capture
			t0 := time.Unix(1_700_000_000, 0)
			for _, e := range events {
				if e.Kind != trace.SegmentIn {
					continue
				}
				pkt := ipPacket(e.Remote, e.Local, e.Seg)
				if err := c.Add(t0.Add(e.At), pkt, len(pkt)); err != nil {
					t.Fatal(err)
				}
			}
			want := stateChanges(events)
			for k, states := range want {
				// A capture cannot see TIME_WAIT end.
				if n := len(states); n >= 2 && states[n-2] == "TIME_WAIT" && states[n-1] == "CLOSED" {
					want[k] = states[:n-1]
				}
			}
			got := stateChanges(c.Events())
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("inferred %v\nthe stacks %v", got, want)
			}
		})
	}
}
