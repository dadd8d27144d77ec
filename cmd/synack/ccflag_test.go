package main

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"github.com/synack-go/synack"
	"github.com/synack-go/synack/link/pipe"
	"github.com/synack-go/synack/sim"
)

// TestCCFlag: --cc gives the stack's connections the congestion control
// it names, and NewStack takes the configuration it makes.
func TestCCFlag(t *testing.T) {
	for _, tc := range []struct{ arg, name string }{
		{"", ""}, // the default
		{"reno", "reno"},
		{"cubic", "cubic"},
		{"bbr", "bbr"},
		{"bbr-draft", "bbr-draft"},
	} {
		var f tunFlags
		fs := newFlagSet("serve", serveUsage, new(bytes.Buffer))
		f.register(fs.FlagSet)
		args := []string{}
		if tc.arg != "" {
			args = []string{"--cc", tc.arg}
		}
		if _, err := parseFlags(fs, args); err != nil {
			t.Fatalf("--cc %s: %v", tc.arg, err)
		}
		cfg := f.tcpConfig()
		if cfg.CongestionControl != tc.name || cfg.NewCC != nil {
			t.Errorf("--cc %q: CongestionControl %q, NewCC set %v", tc.arg, cfg.CongestionControl, cfg.NewCC != nil)
		}
		sm := sim.New(sim.Config{Seed: 1})
		a, b := sm.Pipe(pipe.Config{})
		st, err := synack.NewStack(a, synack.Options{Addrs: []netip.Prefix{netip.MustParsePrefix("10.77.0.2/24")},
			Clock: sm, Rand: sm.Rand(), TCP: cfg})
		if err != nil {
			t.Errorf("--cc %q: NewStack: %v", tc.arg, err)
		} else {
			st.Close()
		}
		b.Close()
		sm.Close()
	}
}

// TestCCFlagUnknown: an unknown --cc is a usage error (exit 2) naming the
// algorithms there are, for serve and get alike.
func TestCCFlagUnknown(t *testing.T) {
	link := strings.Join(linkArgs, " ")
	for _, args := range []string{
		"serve " + link + " --echo --cc vegas",
		"get " + link + " http://10.77.0.1/ --cc vegas",
		"serve --cc BBR",
	} {
		var stdout, stderr bytes.Buffer
		code := run(strings.Fields(args), &stdout, &stderr)
		msg := stderr.String()
		if code != 2 || !strings.Contains(msg, `unknown congestion control "`) || !strings.Contains(msg, "reno, cubic, bbr") ||
			!strings.Contains(msg, "bbr-draft") || strings.Count(msg, "\n") != 1 {
			t.Errorf("synack %s: exit %d, stderr %q; want exit 2 and one line naming the known algorithms", args, code, msg)
		}
	}
}
