package script

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseScript(t *testing.T) {
	src := `// a header comment
--tolerance_usecs=10000
--define=PORT_OPT=SO_REUSEADDR

` + "`sysctl -q net.ipv4.tcp_sack=0`" + `

0    socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0   setsockopt(3, SOL_SOCKET, PORT_OPT, [1], 4) = 0
+.1  < S 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>
*    > S. 0:0(0) ack 1 <...>
1.0~1.2 > . 1:1(0) ack 1 win 257 urg 0 <nop,nop,sack 1:2 3:4>
+.1~+.2 > P. 1:1001(1000) ack 1
+0...1.5 read(3, ..., 1000) = -1 EAGAIN (Resource temporarily unavailable)
1.6  fcntl(3, F_GETFL) = 0x802 (flags O_RDWR|O_NONBLOCK)
+0   %{
assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd
assert tcpi_ca_state in (TCP_CA_Open, TCP_CA_Disorder); assert 1 <= tcpi_rtt/1000 < 200
}%
+0   < [ect0] FPU. 1:1(0) ack 1 win 0
+0   < icmp unreachable frag_needed mtu 1200 [1:1001(1000)]
+0   ` + "`tc qdisc show`" + `
` + "`echo cleanup`" + `
`
	s, err := Parse("t.pkt", src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Options) != 2 || s.Options[0].Name != "tolerance_usecs" || s.Options[0].Value != "10000" {
		t.Errorf("options %+v", s.Options)
	}
	if s.Init == nil || !strings.Contains(s.Init.Text, "tcp_sack=0") || s.Cleanup == nil || s.Cleanup.Text != "echo cleanup" {
		t.Errorf("init %+v cleanup %+v", s.Init, s.Cleanup)
	}
	if n := len(s.Events); n != 12 {
		t.Fatalf("%d events", n)
	}
	ev := s.Events
	if c := ev[1].Call; c.Args[2].Sym != "SO_REUSEADDR" {
		t.Errorf("--define not applied: %v", c.Args[2])
	}
	if p := ev[2].Packet; p.Dir != Inbound || p.Flags != flagSYN || len(p.Options) != 5 || p.Options[2].TSVal != 100 || ev[2].Time.Start != 100*time.Millisecond {
		t.Errorf("SYN line %+v", p)
	}
	if ev[3].Time.Kind != TimeAny || !ev[3].Packet.AnyOptions {
		t.Errorf("* line %+v", ev[3])
	}
	if tm := ev[4].Time; !tm.Range || tm.Start != time.Second || tm.End != 1200*time.Millisecond || tm.EndKind != TimeAbsolute {
		t.Errorf("window %+v", tm)
	}
	if o := ev[4].Packet.Options[2]; o.Kind != OptSACK || len(o.SACK) != 2 || o.SACK[1] != [2]uint32{3, 4} {
		t.Errorf("sack %+v", o)
	}
	if tm := ev[5].Time; !tm.Range || tm.Kind != TimeRelative || tm.EndKind != TimeRelative {
		t.Errorf("relative window %+v", tm)
	}
	if tm := ev[6].Time; !tm.Block || tm.End != 1500*time.Millisecond || ev[6].Call.Errno != "EAGAIN" || ev[6].Call.Note != "Resource temporarily unavailable" {
		t.Errorf("blocking call %+v %+v", tm, ev[6].Call)
	}
	if c := ev[7].Call; c.Result.Int != 0x802 || c.Note != "flags O_RDWR|O_NONBLOCK" {
		t.Errorf("hex result %+v", c)
	}
	if c := ev[8].Code; len(c.Asserts) != 3 {
		t.Errorf("asserts %+v", c)
	}
	if p := ev[9].Packet; p.ECN != ECNECT0 || p.Flags != flagFIN|flagPSH|flagURG|flagACK {
		t.Errorf("ip info, flags %+v", p)
	}
	if p := ev[10].Packet; p.Proto != ProtoICMP || p.ICMPCode != "frag_needed" || p.MTU != 1200 || p.QuoteLen != 1000 {
		t.Errorf("icmp %+v", p)
	}
	if ev[11].Command == nil {
		t.Errorf("timed command %+v", ev[11])
	}
}

// TestParseErrors checks that mistakes are reported at their line with a
// message that names them.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		src  string
		line int
		want string
	}{
		{"0 < X 0:0(0) win 1", 1, "unknown TCP flag"},
		{"0 < S 0:10(5) win 1", 1, "END must be START+LEN"},
		{"0 < S 0:0(0) win 1 <mss 1460,bogus 3>", 1, "unknown TCP option"},
		{"0 < S 0:0(0) win 1 <mss 1460,nop>", 1, "multiple of 4"},
		{"0 < S 0:0(0) <mss 1460>", 1, "needs a window"},
		{"0 < S 0:0(0) win 1 <...>", 1, "only allowed on outbound"},
		{"0 socket(..., SOCK_STREAM, 0) = 3\n1 close(3) = 0\n0.5 close(3) = 0", 3, "before the previous absolute time"},
		{"0 socket(..., SOCK_STREAM, 0) = 3\n* close(3) = 0", 2, "only allowed on outbound"},
		{"0 socket(..., SOCK_STREAM, 0) = 3\n+0~+1 close(3) = 0", 2, "only allowed on outbound"},
		{"0 close(3) = -1 EWHATEVER (nope)", 1, "unknown errno"},
		{"0 close(3) = -1 EBADF", 1, "followed by a note"},
		{"0 close(3) = 0 EBADF (Bad file descriptor)", 1, "goes with the result -1"},
		{"0 setsockopt(3, SOL_TCP, TCP_CONGESTION, \"reno, 4) = 0", 1, "string is never closed"},
		{"0 %{ print(tcpi_rtt) }%", 1, "only assert statements"},
		{"0 %{\nassert tcpi_rtt >\n}%", 2, "code block"},
		{"+1 close(3) = 0", 1, "first event must be at time 0"},
		{"0 > S. 0:0(0) ack 1 <mss 1460>\n+1...+2 close(3) = 0", 2, "without +"},
		{"0 > S. 0:0(0) ack 1 <mss 1460>\n1.0~0.5 > . 1:1(0) ack 1", 2, "ends"},
		{"0 > . 1:1(0) ack 1 /* never closed", 1, "never closed"},
		{"0 < . 1:1(0) ack 1 win 99999", 1, "out of range"},
		{"0 close(3) = 0\n`echo a`\n+1 close(3) = 0", 2, "must be the last thing"},
		{"// synack: known-difference\n0 close(3) = 0", 1, "bad header"},
		{"// synack: known-difference issue-12 line 7: x\n0 close(3) = 0", 1, "no event starts"},
	} {
		_, err := Parse("bad.pkt", tc.src, nil)
		if err == nil {
			t.Errorf("%q parsed; want an error at line %d", tc.src, tc.line)
			continue
		}
		e, ok := err.(*Error)
		if !ok || e.Line != tc.line || !strings.Contains(e.Msg, tc.want) || !strings.HasPrefix(err.Error(), "bad.pkt:") {
			t.Errorf("%q: got %v, want bad.pkt:%d: ...%s...", tc.src, err, tc.line, tc.want)
		}
	}
}

func TestHeaders(t *testing.T) {
	src := `0 socket(..., SOCK_STREAM, 0) = 3
// synack: known-difference issue-12: the next event
+0 close(3) = 0
+0 close(3) = -1 EBADF (Bad file descriptor) // synack: choice documented: on its own line
// synack: known-difference new line 3: named
`
	s, err := Parse("h.pkt", src, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Expectation{
		{HeaderLine: 2, Line: 3, Kind: "known-difference", Issue: "issue-12", Why: "the next event"},
		{HeaderLine: 4, Line: 4, Kind: "choice", Issue: "documented", Why: "on its own line"},
		{HeaderLine: 5, Line: 3, Kind: "known-difference", Issue: "new", Why: "named"},
	}
	if len(s.Expect) != len(want) {
		t.Fatalf("%+v", s.Expect)
	}
	for i := range want {
		if s.Expect[i] != want[i] {
			t.Errorf("header %d: %+v, want %+v", i, s.Expect[i], want[i])
		}
	}
	res := &Result{Err: &Error{File: "h.pkt", Line: 3}}
	if v, e := s.Judge(res); v != KnownDifference || e.Issue != "issue-12" {
		t.Errorf("Judge = %v %+v", v, e)
	}
	if v, _ := s.Judge(&Result{}); v != UnexpectedPass {
		t.Errorf("Judge of a pass = %v", v)
	}
	if v, _ := s.Judge(&Result{Err: &Error{File: "h.pkt", Line: 1}}); v != Fail {
		t.Errorf("Judge of another line = %v", v)
	}
}

func TestLexNumbers(t *testing.T) {
	lx := newLexer("n", "+.25 0.300 3 0x1F -1 192.0.2.1 1...2 1.5~2 abc1 12ab", 1, nil)
	var got []string
	for {
		tok, err := lx.next()
		if err != nil {
			t.Fatal(err)
		}
		if tok.kind == tokEOF {
			break
		}
		got = append(got, tokNames[tok.kind]+":"+tok.text)
	}
	want := "punctuation:+ number:.25 number:0.300 integer:3 integer:0x1F integer:-1 IPv4 address:192.0.2.1 " +
		"integer:1 ...:... integer:2 number:1.5 punctuation:~ integer:2 word:abc1 word:12ab"
	if strings.Join(got, " ") != want {
		t.Errorf("tokens\n%s\nwant\n%s", strings.Join(got, " "), want)
	}
	for s, want := range map[string]time.Duration{"2": 2 * time.Second, ".25": 250 * time.Millisecond,
		"0.000001": time.Microsecond, "1.5": 1500 * time.Millisecond} {
		if d, err := parseSeconds(s); err != nil || d != want {
			t.Errorf("parseSeconds(%q) = %v, %v", s, d, err)
		}
	}
}

func TestCodeAsserts(t *testing.T) {
	vars := func(n string) (float64, bool) {
		v, ok := map[string]float64{"tcpi_snd_cwnd": 10, "tcpi_rtt": 100500, "tcpi_options": 7, "TCP_CA_Open": 0, "tcpi_ca_state": 0}[n]
		return v, ok
	}
	for src, want := range map[string]bool{
		"assert tcpi_snd_cwnd == 10":                          true,
		"assert tcpi_snd_cwnd != 10, tcpi_snd_cwnd":           false,
		"assert 100000 <= tcpi_rtt <= 101000":                 true,
		"assert 100000 <= tcpi_rtt < 100500":                  false,
		"assert tcpi_rtt // 1000 == 100":                      true,
		"assert tcpi_options & 2 != 0 and not tcpi_ca_state":  true,
		"assert tcpi_ca_state in (1, 2) or tcpi_snd_cwnd > 9": true,
		"assert -tcpi_snd_cwnd + 2 * 5 == 0":                  true,
		"assert max(tcpi_snd_cwnd, 12) == 12":                 true,
		"assert abs(tcpi_snd_cwnd - 12) == 2":                 true,
		"assert tcpi_ca_state == TCP_CA_Open":                 true,
	} {
		c, err := parseCode("c", 1, src)
		if err != nil {
			t.Errorf("%q: %v", src, err)
			continue
		}
		v, err := c.Asserts[0].Cond.eval(vars)
		if err != nil || (v != 0) != want {
			t.Errorf("%q = %v, %v; want %v", src, v, err, want)
		}
	}
	c, _ := parseCode("c", 1, "assert tcpi_nope == 1")
	if _, err := c.Asserts[0].Cond.eval(vars); err == nil || !strings.Contains(err.Error(), "tcpi_nope") {
		t.Errorf("unknown name: %v", err)
	}
}

func TestReadSetup(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "common.sh"), []byte("#!/bin/sh\n# comment\nsysctl -q net.ipv4.tcp_sack=1\nsysctl -w net.ipv4.tcp_rmem=\"4096  87380 6291456\"\nip link set dev x up\n"), 0o644)
	cmd := &Command{Line: 3, Text: "./common.sh\nsysctl -q net.ipv4.tcp_sack=0 net.ipv4.tcp_dsack=0; echo 1 > /proc/sys/net/ipv4/tcp_ecn\ntc qdisc add dev tun0 root fq"}
	st, err := ReadSetup(cmd, "s.pkt", dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"net.ipv4.tcp_sack": "0", "net.ipv4.tcp_rmem": "4096 87380 6291456", "net.ipv4.tcp_dsack": "0", "net.ipv4.tcp_ecn": "1"}
	if len(st.Sysctls) != len(want) {
		t.Errorf("sysctls %+v", st.Sysctls)
	}
	for k, v := range want {
		if got, ok := st.Get(k); !ok || got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if len(st.Ignored) != 2 || !strings.Contains(st.Ignored[0], "ip link") || !strings.Contains(st.Ignored[1], "s.pkt:5: tc qdisc") {
		t.Errorf("ignored %q", st.Ignored)
	}
	if _, err := ReadSetup(&Command{Line: 1, Text: "./missing.sh"}, "s.pkt", dir); err == nil {
		t.Error("a missing shell file read without error")
	}
}

func TestConfig(t *testing.T) {
	s, err := Parse("c.pkt", "--ip_version=ipv6\n--tolerance_usecs=1000\n0 close(3) = 0", nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewConfig(s, Overrides{"tolerance_usecs": "7000"})
	if err != nil {
		t.Fatal(err)
	}
	if c.LocalIP.String() != "fd3d:fa7b:d17d::1" || c.RemoteIP.String() != "2001:db8::1" || c.Tolerance != 7*time.Millisecond {
		t.Errorf("config %+v", c)
	}
	s, _ = Parse("c.pkt", "--no_such_option=1\n0 close(3) = 0", nil)
	if _, err := NewConfig(s, nil); err == nil || !strings.Contains(err.Error(), "c.pkt:1: unknown option --no_such_option") {
		t.Errorf("unknown option: %v", err)
	}
}

func TestLinuxRetriesTimeout(t *testing.T) {
	// tcp_retries2 = 15 gives Linux's well-known 924.6 s.
	if d := linuxRetriesTimeout(15); d != 924600*time.Millisecond {
		t.Errorf("linuxRetriesTimeout(15) = %v", d)
	}
	if d := linuxRetriesTimeout(3); d != 3*time.Second {
		t.Errorf("linuxRetriesTimeout(3) = %v", d)
	}
}
