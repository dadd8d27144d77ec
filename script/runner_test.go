package script_test

import (
	"strings"
	"testing"

	"github.com/synack-go/synack/internal/netns"
	"github.com/synack-go/synack/script"
)

// prologue opens a connection with a peer that offers SACK and window
// scale but no timestamps, and turns quick ACKs on, in 8 lines; the case
// scripts below start at line 9.
const prologue = `0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 < S 0:0(0) win 65535 <mss 1460,nop,nop,sackOK,nop,wscale 7>
+0 > S. 0:0(0) ack 1 win 65535 <mss 1460,nop,nop,sackOK,nop,wscale 8>
+.1 < . 1:1(0) ack 1 win 1000
+0 accept(3, ..., ...) = 4
`

// mustFail are scripts with one mistake each: the run must fail at the
// mistake's line with a message that says what differs.
var mustFail = []struct {
	name string
	body string // after prologue, from line 9 (plus the setsockopt at 9)
	line int
	want []string
}{
	{"wrong ack", `+0 setsockopt(4, SOL_TCP, TCP_QUICKACK, [1], 4) = 0
+0 < P. 1:1001(1000) ack 1 win 1000
+0 > . 1:1(0) ack 999
`, 11, []string{"expected IP ", "Flags [.], seq 1, ack 999", "got ", "ack 1001", "ack: expected 999, got 1001"}},
	{"wrong flags", `+0 write(4, ..., 100) = 100
+0 > F. 1:101(100) ack 1
`, 10, []string{"flags: expected F., got P."}},
	{"wrong option", `+0 write(4, ..., 100) = 100
+0 > P. 1:101(100) ack 1 <nop,nop,sack 1:2>
`, 10, []string{"options: expected <nop,nop,sack 1 {1:2}>, got <>"}},
	{"packet too late", `+0 write(4, ..., 100) = 100
+0 > P. 1:101(100) ack 1
+.1 > P. 1:101(100) ack 1
`, 11, []string{"got nothing by", "(then at", "seq 1:101"}},
	{"packet too early", `+0 write(4, ..., 100) = 100
+.05 > P. 1:101(100) ack 1
`, 10, []string{"too early"}},
	{"missing packet", `+0 write(4, ..., 100) = 100
+0 > P. 1:101(100) ack 1
+.1 < . 1:1(0) ack 101 win 1000
+0 > . 1:1(0) ack 1
`, 12, []string{"got nothing by"}},
	{"wrong errno", `+0 < R. 1:1(0) ack 1 win 0
+0 read(4, ..., 100) = -1 ETIMEDOUT (Connection timed out)
`, 10, []string{"read(4, ..., 100): expected -1 ETIMEDOUT, got -1 ECONNRESET"}},
	{"wrong return value", `+0 write(4, ..., 100) = 99
`, 9, []string{"write(4, ..., 100): expected 99, got 100"}},
	{"call that blocks", `+0 read(4, ..., 100) = 100
`, 9, []string{"blocked"}},
	{"blocking call returns late", `+0...0.1 read(4, ..., 100) = 100
+.3 < P. 1:101(100) ack 1 win 1000
`, 9, []string{"still blocks"}},
	{"failed assertion", `+0 %{ assert tcpi_snd_cwnd == 99, "cwnd" }%
+0 write(4, ..., 100) = 100
+0 > P. 1:101(100) ack 1
`, 9, []string{"assertion failed: assert tcpi_snd_cwnd == 99", "tcpi_snd_cwnd = 10", ": cwnd"}},
	{"unknown ecr", `+0 < P. 1:101(100) ack 1 win 1000 <nop,nop,TS val 1 ecr 77>
`, 9, []string{"TS ecr 77"}},
}

// TestRunnerFailures checks that each broken script fails at its line,
// against synack, and against the kernel when root.
func TestRunnerFailures(t *testing.T) {
	targets := []string{"synack"}
	if script.KernelUnavailable() == "" && !testing.Short() {
		targets = append(targets, "kernel")
		netns.Serialize(t)
	}
	for _, tc := range mustFail {
		for _, target := range targets {
			t.Run(tc.name+"/"+target, func(t *testing.T) {
				t.Parallel()
				src := prologue + tc.body
				s, err := script.Parse("case.pkt", src, nil)
				if err != nil {
					t.Fatal(err)
				}
				run := func() *script.Result {
					if target == "kernel" {
						return script.Run(s, script.NewKernelTarget(), script.Options{Overrides: script.Overrides{"tolerance_usecs": kernelTolerance}})
					}
					return script.Run(s, script.NewSynackTarget(1), script.Options{})
				}
				res := run()
				// Real time on a shared machine: a run the scheduler
				// delayed fails early; it gets two more chances to fail
				// where it must.
				for attempt := 1; target == "kernel" && res.Line() != tc.line && attempt < kernelAttempts; attempt++ {
					t.Logf("attempt %d: %v", attempt, res.Err)
					res = run()
				}
				if res.Err == nil {
					t.Fatalf("the run passed; want a failure at line %d", tc.line)
				}
				if res.Line() != tc.line {
					t.Errorf("failed at line %d, want %d: %v", res.Line(), tc.line, res.Err)
				}
				msg := res.Err.Error()
				if !strings.HasPrefix(msg, "case.pkt:") {
					t.Errorf("message %q does not start with case.pkt:LINE:", msg)
				}
				for _, w := range tc.want {
					if !strings.Contains(msg, w) {
						t.Errorf("message lacks %q:\n%s", w, msg)
					}
				}
			})
		}
	}
}

// TestRunnerPasses is the control: the prologue alone, and a correct
// exchange, pass.
func TestRunnerPasses(t *testing.T) {
	src := prologue + `+0 setsockopt(4, SOL_TCP, TCP_QUICKACK, [1], 4) = 0
+0 < P. 1:1001(1000) ack 1 win 1000
+0 > . 1:1(0) ack 1001
+0 read(4, ..., 2000) = 1000
+0 write(4, ..., 100) = 100
+0 > P. 1:101(100) ack 1001
`
	s, err := script.Parse("ok.pkt", src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res := script.Run(s, script.NewSynackTarget(1), script.Options{}); res.Err != nil {
		t.Fatal(res.Err)
	}
}

// TestRunReplays checks that the synack target is deterministic: two runs
// of a script with the same seed send the same bytes at the same times.
func TestRunReplays(t *testing.T) {
	s, err := script.ParseFile("testdata/tcp/sack-two-holes.pkt", nil)
	if err != nil {
		t.Fatal(err)
	}
	a := script.Run(s, script.NewSynackTarget(7), script.Options{Seed: 7})
	b := script.Run(s, script.NewSynackTarget(7), script.Options{Seed: 7})
	if a.Err != nil || b.Err != nil {
		t.Fatal(a.Err, b.Err)
	}
	if len(a.Packets) != len(b.Packets) {
		t.Fatalf("%d packets, then %d", len(a.Packets), len(b.Packets))
	}
	for i := range a.Packets {
		if a.Packets[i].At != b.Packets[i].At || string(a.Packets[i].Data) != string(b.Packets[i].Data) {
			t.Fatalf("packet %d differs between runs", i)
		}
	}
}
