package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/synack-go/synack"
	"github.com/synack-go/synack/tcp"
)

func TestParseArgsInterspersed(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	o := fs.String("o", "-", "")
	n := fs.Int("n", 0, "")
	pos, err := parseArgs(fs, []string{"-n", "3", "http://x/", "-o", "f", "second", "--", "-n"})
	if err != nil {
		t.Fatal(err)
	}
	if *o != "f" || *n != 3 || !slices.Equal(pos, []string{"http://x/", "second", "-n"}) {
		t.Fatalf("o=%q n=%d pos=%q", *o, *n, pos)
	}
}

func TestPrefixList(t *testing.T) {
	var l prefixList
	if err := l.Set("10.77.0.2/24, fd77::2/64"); err != nil {
		t.Fatal(err)
	}
	if err := l.Set("10.78.0.2/16"); err != nil {
		t.Fatal(err)
	}
	if got := l.String(); got != "10.77.0.2/24,fd77::2/64,10.78.0.2/16" {
		t.Fatalf("String = %q", got)
	}
	for _, bad := range []string{"10.77.0.2", "fd77::2", "x/24", "10.77.0.2/24,"} {
		if err := new(prefixList).Set(bad); err == nil {
			t.Errorf("Set(%q) accepted it", bad)
		}
	}
}

func TestByteSize(t *testing.T) {
	for in, want := range map[string]int{"0": 0, "262144": 262144, "256k": 256 << 10, "1M": 1 << 20} {
		var b byteSize
		if err := b.Set(in); err != nil || int(b) != want {
			t.Errorf("Set(%q) = %d, %v; want %d", in, b, err, want)
		}
	}
	for _, bad := range []string{"", "-1", "1.5k", "2g", "lots", "2000m"} {
		var b byteSize
		if err := b.Set(bad); err == nil {
			t.Errorf("Set(%q) accepted it", bad)
		}
	}
}

// TestFlagErrors: bad command lines fail before anything is created, with
// a message that says what is wrong.
func TestFlagErrors(t *testing.T) {
	link := strings.Join(linkArgs, " ")
	for _, tc := range []struct {
		cmd, args, want string
	}{
		{"serve", "--echo", "--tun is required"},
		{"serve", "--tun t0 --host-addr 10.77.0.1/24 --echo", "--addr is required"},
		{"serve", "--tun t0 --addr 10.77.0.2/24 --echo", "--host-addr is required"},
		{"serve", "--tun t0 --addr 10.77.0.2/24 --host-addr 10.77.0.2/24 --echo", "is both --addr and --host-addr"},
		{"serve", link, "one of --http DIR, --echo or --discard is required"},
		{"serve", link + " --echo --discard", "choose one"},
		{"serve", link + " --http /nonexistent/dir", "is not a directory"},
		{"serve", link + " --echo --port 70000", "bad --port"},
		{"serve", link + " --echo --impair loss=lots", "impair: loss=lots"},
		{"serve", link + " --echo extra", `unexpected argument "extra"`},
		{"serve", "--addr 10.77.0.2", "want an address with its prefix"},
		{"serve", "--tun t0 --addr 10.79.0.2/24 --host-addr 10.77.0.1/24 --echo", "shares a subnet with no --host-addr"},
		{"serve", "--tun t0 --addr 10.77.0.2/24 --host-addr 10.77.0.1/24 --configured --echo", "choose one"},
		{"get", link, "want exactly one URL"},
		{"get", link + " https://10.77.0.1/", "is not an http:// URL"},
		{"get", link + " http://10.77.0.1/ http://10.77.0.1/", "want exactly one URL"},
		{"get", "http://10.77.0.1/ --tun t0 --addr 10.77.0.2/24 --host-addr 10.77.0.1/24 --impair delay=x", "impair: delay=x"},
	} {
		run := serve
		if tc.cmd == "get" {
			run = get
		}
		var stderr bytes.Buffer
		err := run(context.Background(), strings.Fields(tc.args), io.Discard, &stderr)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %s = %v, want an error saying %q", tc.cmd, tc.args, err, tc.want)
		}
	}
}

// TestHelpAndVersion: every command's --help (and -h, and synack help
// COMMAND) prints its usage on stdout, nothing on stderr, and exits 0;
// --version names the module and the Go version; a bad flag is one line
// that says what is wrong and where to look, with exit status 2.
func TestHelpAndVersion(t *testing.T) {
	for _, name := range []string{"demo", "serve", "get", "trace", "bench"} {
		for _, args := range [][]string{{name, "--help"}, {name, "-h"}, {"help", name}} {
			var stdout, stderr bytes.Buffer
			if code := run(args, &stdout, &stderr); code != 0 || stderr.Len() > 0 || !strings.Contains(stdout.String(), "usage: synack "+name) {
				t.Errorf("synack %s: exit %d, stdout %.80q, stderr %q", strings.Join(args, " "), code, stdout.String(), stderr.String())
			}
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--version"}, &stdout, &stderr); code != 0 || !strings.HasPrefix(stdout.String(), "synack ") || !strings.Contains(stdout.String(), " go1.") {
		t.Errorf("--version: exit %d, %q", code, stdout.String())
	}
	for _, args := range [][]string{
		{"serve", "--addr", "10.79.0.2"},
		{"demo", "--nope"},
		{"trace"},
		{"nope"},
	} {
		stdout.Reset()
		stderr.Reset()
		code := run(args, &stdout, &stderr)
		if code != 2 || strings.Count(stderr.String(), "\n") != 1 || !strings.Contains(stderr.String(), "--help") || stdout.Len() > 0 {
			t.Errorf("synack %s: exit %d, stderr %q, stdout %q: want one line with a hint and exit 2", strings.Join(args, " "), code, stderr.String(), stdout.String())
		}
	}
}

func TestProgressLine(t *testing.T) {
	for _, tc := range []struct {
		n     uint64
		total int64
		want  string
	}{
		{0, 100 << 20, "[>                             ]   0%  0 / 100M  0 kbit/s"},
		{50 << 20, 100 << 20, "[===============>              ]  50%  50M / 100M  419.4 Mbit/s"},
		{100 << 20, 100 << 20, "[==============================] 100%  100M / 100M  838.9 Mbit/s"},
		{3 << 20, -1, "3.0M  25.2 Mbit/s"},
	} {
		if got := progressLine(tc.n, tc.total, time.Second); got != tc.want {
			t.Errorf("progressLine(%d, %d) = %q, want %q", tc.n, tc.total, got, tc.want)
		}
	}
}

func TestStatsTable(t *testing.T) {
	rows := []synack.ConnInfo{
		{
			Local:  netip.MustParseAddrPort("10.77.0.2:80"),
			Remote: netip.MustParseAddrPort("10.77.0.1:40000"),
			Stats: tcp.Stats{State: tcp.StateEstablished, RTT: 1500 * time.Microsecond, RTTVar: 250 * time.Microsecond,
				RTO: 201 * time.Millisecond, MSS: 1448, Cwnd: 14480, Ssthresh: 1 << 31,
				BytesSent: 3 << 20, BytesAcked: 3<<20 - 1448, BytesReceived: 80, Retransmits: 7},
		},
		{
			Local:  netip.MustParseAddrPort("[fd77::2]:80"),
			Remote: netip.MustParseAddrPort("[fd77::1]:40001"),
			Stats:  tcp.Stats{State: tcp.StateTimeWait, MSS: 1428, Cwnd: 2856, Ssthresh: 28560},
		},
	}
	var b strings.Builder
	if err := writeStatsTable(&b, rows); err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"STATE        LOCAL         PEER             RTT/VAR ms  RTO ms  CWND      SSTHRESH  SENT  ACKED  RECEIVED  RETRANS",
		"ESTABLISHED  10.77.0.2:80  10.77.0.1:40000  1.5/0.25    201     10 (14K)  -         3.0M  3.0M   80        7",
		"TIME_WAIT    [fd77::2]:80  [fd77::1]:40001  0/0         0       2 (2.8K)  28K       0     0      0         0",
		"",
	}, "\n")
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
	if got := stateCounts(rows); got != ": 1 ESTABLISHED, 1 TIME_WAIT" {
		t.Errorf("stateCounts = %q", got)
	}
	b.Reset()
	rows[0].Stats.RecoveryStats = tcp.RecoveryStats{CC: "cubic", CAStateName: "recovery", Lost: 2896, Sacked: 1448,
		Retrans: 1448, Reordering: 3, DSACKDups: 1, BytesRetrans: 7 * 1448, MinRTT: time.Millisecond,
		PacingRate: 12_500_000, DeliveryRate: 10_000_000}
	rows[0].Stats.Unacked, rows[0].Stats.Backoff, rows[0].Stats.SndBuf, rows[0].Stats.RcvBuf = 14480, 1, 4<<20, 6<<20
	rows[0].Stats.RcvRTT, rows[0].Stats.RcvSpace = 2*time.Millisecond, 65536
	if err := writeStatsDetails(&b, rows[:1]); err != nil {
		t.Fatal(err)
	}
	want = "10.77.0.2:80 10.77.0.1:40000\n\tcubic ca_state:recovery rto:201 rtt:1.5/0.25 backoff:1 mss:1448 cwnd:14480" +
		" bytes_sent:3145728 bytes_retrans:10136 bytes_acked:3144280 bytes_received:80" +
		" unacked:14480 retrans:1448/7 lost:2896 sacked:1448 reordering:3 dsack_dups:1 probes:0" +
		" minrtt:1 rcv_rtt:2 rcv_space:65536 sndbuf:4194304 rcvbuf:6291456 pacing_rate:100000000 delivery_rate:80000000\n"
	if b.String() != want {
		t.Errorf("details:\n%q\nwant:\n%q", b.String(), want)
	}
	header := "-- 19:00:00: 2 connections" + stateCounts(rows)
	if n, tw, ok := parseStatsHeader(header); !ok || n != 2 || tw != 1 {
		t.Errorf("parseStatsHeader(%q) = %d, %d, %v", header, n, tw, ok)
	}
}

// TestTunHints: opening a device fails with a hint at what to do.
func TestTunHints(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"syn7", fmt.Errorf(`tun: TUNSETIFF "syn7": %w`, syscall.EPERM), "needs root or CAP_NET_ADMIN"},
		{"lo", fmt.Errorf(`tun: TUNSETIFF "lo": %w`, syscall.EINVAL), "lo exists and is not a TUN device"},
	} {
		if got := tunHint(tc.name, tc.err); !strings.Contains(got.Error(), tc.want) || !errors.Is(got, tc.err) {
			t.Errorf("tunHint(%s, %v) = %v, want it to say %q", tc.name, tc.err, got, tc.want)
		}
	}
	if got := hostExample(netip.MustParsePrefix("10.79.0.2/24")); got.String() != "10.79.0.1/24" {
		t.Errorf("hostExample = %v", got)
	}
}
