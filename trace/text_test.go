package trace

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/synack-go/synack/wire"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var (
	cli4 = netip.MustParseAddrPort("10.0.0.1:49152")
	srv4 = netip.MustParseAddrPort("10.0.0.2:80")
	cli6 = netip.MustParseAddrPort("[2001:db8::1]:49152")
	srv6 = netip.MustParseAddrPort("[2001:db8::2]:80")
)

// Option sets as Linux sends them: on a SYN, on data.
var (
	synOpts = func(tsval, tsecr uint32) wire.TCPOptions {
		return wire.TCPOptions{MSS: 1460, SACKPermitted: true, HasTS: true, TSVal: tsval, TSEcr: tsecr, HasWScale: true, WScale: 7}
	}
	tsOpts = func(tsval, tsecr uint32) wire.TCPOptions {
		return wire.TCPOptions{HasTS: true, TSVal: tsval, TSEcr: tsecr}
	}
)

// out is a SegmentOut event of the stack at local, sent to remote.
func out(at time.Duration, stack string, local, remote netip.AddrPort, seg wire.TCPSegment) Event {
	seg.SrcPort, seg.DstPort = local.Port(), remote.Port()
	return Event{Kind: SegmentOut, At: at, Stack: stack, Local: local, Remote: remote, Seg: &seg}
}

// in is a SegmentIn event of the stack at local, received from remote.
func in(at time.Duration, stack string, local, remote netip.AddrPort, seg wire.TCPSegment) Event {
	seg.SrcPort, seg.DstPort = remote.Port(), local.Port()
	return Event{Kind: SegmentIn, At: at, Stack: stack, Local: local, Remote: remote, Seg: &seg}
}

func state(at time.Duration, stack string, local, remote netip.AddrPort, from, to, why string) Event {
	return Event{Kind: StateChange, At: at, Stack: stack, Local: local, Remote: remote, From: from, To: to, Why: why}
}

func blk(l, r wire.Seq) wire.SACKBlock { return wire.SACKBlock{Left: l, Right: r} }

func us(n int) time.Duration { return time.Duration(n) * time.Microsecond }

// conversation is one whole connection between cli and srv as both stacks
// report it, each segment once (as its sender emits it): the handshake, data
// each way, and the four-way close, with the state changes between.
func conversation(cli, srv netip.AddrPort) []Event {
	data := func(n int) []byte { return bytes.Repeat([]byte{'x'}, n) }
	const c, s = "client", "server"
	return []Event{
		state(us(1000), c, cli, srv, "CLOSED", "SYN_SENT", "connect"),
		out(us(1000), c, cli, srv, wire.TCPSegment{Seq: 1000, Flags: wire.SYN, Window: 64240, Options: synOpts(100, 0)}),
		state(us(2000), s, srv, cli, "LISTEN", "SYN_RECV", "rcvd SYN"),
		out(us(2000), s, srv, cli, wire.TCPSegment{Seq: 5000, Ack: 1001, Flags: wire.SYN | wire.ACK, Window: 65160, Options: synOpts(200, 100)}),
		state(us(3000), c, cli, srv, "SYN_SENT", "ESTABLISHED", "rcvd SYN-ACK"),
		out(us(3000), c, cli, srv, wire.TCPSegment{Seq: 1001, Ack: 5001, Flags: wire.ACK, Window: 502, Options: tsOpts(101, 200)}),
		out(us(3100), c, cli, srv, wire.TCPSegment{Seq: 1001, Ack: 5001, Flags: wire.PSH | wire.ACK, Window: 502, Options: tsOpts(101, 200), Payload: data(100)}),
		state(us(4000), s, srv, cli, "SYN_RECV", "ESTABLISHED", "rcvd ACK"),
		out(us(4000), s, srv, cli, wire.TCPSegment{Seq: 5001, Ack: 1101, Flags: wire.ACK, Window: 509, Options: tsOpts(201, 101)}),
		out(us(4200), s, srv, cli, wire.TCPSegment{Seq: 5001, Ack: 1101, Flags: wire.PSH | wire.ACK, Window: 509, Options: tsOpts(201, 101), Payload: data(50)}),
		out(us(5200), c, cli, srv, wire.TCPSegment{Seq: 1101, Ack: 5051, Flags: wire.FIN | wire.ACK, Window: 502, Options: tsOpts(103, 201)}),
		state(us(5200), c, cli, srv, "ESTABLISHED", "FIN_WAIT1", "close"),
		state(us(6200), s, srv, cli, "ESTABLISHED", "CLOSE_WAIT", "rcvd FIN"),
		out(us(6200), s, srv, cli, wire.TCPSegment{Seq: 5051, Ack: 1102, Flags: wire.FIN | wire.ACK, Window: 509, Options: tsOpts(203, 103)}),
		state(us(6200), s, srv, cli, "CLOSE_WAIT", "LAST_ACK", "close"),
		state(us(7200), c, cli, srv, "FIN_WAIT1", "TIME_WAIT", "rcvd FIN-ACK"),
		out(us(7200), c, cli, srv, wire.TCPSegment{Seq: 1102, Ack: 5052, Flags: wire.ACK, Window: 502, Options: tsOpts(104, 203)}),
		state(us(8200), s, srv, cli, "LAST_ACK", "CLOSED", "rcvd ACK"),
	}
}

// render traces events through a new Text with opts and returns its output.
func render(t testing.TB, opts TextOptions, events []Event) string {
	t.Helper()
	var buf bytes.Buffer
	tx := NewText(&buf, opts)
	for i := range events {
		tx.Trace(&events[i])
	}
	if err := tx.Err(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestTextGolden(t *testing.T) {
	for _, tc := range []struct {
		file string
		opts TextOptions
		cli  netip.AddrPort
		srv  netip.AddrPort
	}{
		{"conversation.txt", TextOptions{Stack: true}, cli4, srv4},
		{"conversation_absolute.txt", TextOptions{Stack: true, Absolute: true}, cli4, srv4},
		{"conversation_ipv6.txt", TextOptions{Stack: true}, cli6, srv6},
		{"conversation_segments_only.txt", TextOptions{}, cli4, srv4},
	} {
		t.Run(tc.file, func(t *testing.T) {
			events := conversation(tc.cli, tc.srv)
			if tc.opts == (TextOptions{}) {
				var segs []Event
				for _, e := range events {
					if e.Kind == SegmentOut {
						segs = append(segs, e)
					}
				}
				events = segs
			}
			golden(t, tc.file, render(t, tc.opts, events))
		})
	}
}

// TestTextLines checks single lines, each from a fresh Text (so a
// conversation's first ACK-bearing segment prints absolute numbers).
func TestTextLines(t *testing.T) {
	sack := tsOpts(300, 400)
	sack.NumSACK = 2
	sack.SACK[0] = wire.SACKBlock{Left: 5201, Right: 5301}
	sack.SACK[1] = wire.SACKBlock{Left: 5401, Right: 5501}
	for _, tc := range []struct {
		name   string
		opts   TextOptions
		events []Event
		want   string // the last line
	}{{
		name:   "SYN",
		events: []Event{out(0, "", cli4, srv4, wire.TCPSegment{Seq: 1234, Flags: wire.SYN, Window: 65535, Options: synOpts(1, 0)})},
		want:   "0.000000 IP 10.0.0.1.49152 > 10.0.0.2.80: Flags [S], seq 1234, win 65535, options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0",
	}, {
		name:   "SYN-ACK prints absolute numbers",
		events: []Event{in(us(123), "", cli4, srv4, wire.TCPSegment{Seq: 5678, Ack: 1235, Flags: wire.SYN | wire.ACK, Window: 65160, Options: synOpts(9, 1)})},
		want:   "0.000000 IP 10.0.0.2.80 > 10.0.0.1.49152: Flags [S.], seq 5678, ack 1235, win 65160, options [mss 1460,sackOK,TS val 9 ecr 1,nop,wscale 7], length 0",
	}, {
		name: "RST-ACK refusing a SYN",
		events: []Event{
			out(0, "", cli4, srv4, wire.TCPSegment{Seq: 1234, Flags: wire.SYN, Window: 65535, Options: synOpts(1, 0)}),
			in(us(50), "", cli4, srv4, wire.TCPSegment{Seq: 0, Ack: 1235, Flags: wire.RST | wire.ACK}),
		},
		want: "0.000050 IP 10.0.0.2.80 > 10.0.0.1.49152: Flags [R.], seq 0, ack 1235, win 0, length 0",
	}, {
		name: "bare RST prints absolute seq",
		events: []Event{
			out(0, "", cli4, srv4, wire.TCPSegment{Seq: 1001, Ack: 5001, Flags: wire.ACK, Window: 502}),
			out(us(7), "", cli4, srv4, wire.TCPSegment{Seq: 1001, Flags: wire.RST}),
		},
		want: "0.000007 IP 10.0.0.1.49152 > 10.0.0.2.80: Flags [R], seq 1001, win 0, length 0",
	}, {
		// The base is the first seq seen, here a pure ACK's: tcpdump's own rule.
		name: "RST-ACK in a conversation is relative",
		events: []Event{
			out(0, "", cli4, srv4, wire.TCPSegment{Seq: 1001, Ack: 5001, Flags: wire.ACK, Window: 502}),
			in(us(7), "", cli4, srv4, wire.TCPSegment{Seq: 5001, Ack: 1001, Flags: wire.RST | wire.ACK}),
		},
		want: "0.000007 IP 10.0.0.2.80 > 10.0.0.1.49152: Flags [R.], seq 1, ack 0, win 0, length 0",
	}, {
		name: "data and SACK edges relative to the peer's base",
		events: []Event{
			out(0, "", cli4, srv4, wire.TCPSegment{Seq: 1001, Ack: 5001, Flags: wire.ACK, Window: 502}),
			out(us(1), "", cli4, srv4, wire.TCPSegment{Seq: 1001, Ack: 5101, Flags: wire.ACK, Window: 502, Options: sack}),
		},
		want: "0.000001 IP 10.0.0.1.49152 > 10.0.0.2.80: Flags [.], ack 101, win 502, options [nop,nop,TS val 300 ecr 400,nop,nop,sack 2 {201:301}{401:501}], length 0",
	}, {
		name: "SACK from the other side",
		events: []Event{
			out(0, "", cli4, srv4, wire.TCPSegment{Seq: 5000, Ack: 1001, Flags: wire.ACK, Window: 502}),
			in(us(1), "", cli4, srv4, wire.TCPSegment{Seq: 1001, Ack: 5101, Flags: wire.ACK, Window: 502, Options: sack}),
		},
		want: "0.000001 IP 10.0.0.2.80 > 10.0.0.1.49152: Flags [.], ack 101, win 502, options [nop,nop,TS val 300 ecr 400,nop,nop,sack 2 {201:301}{401:501}], length 0",
	}, {
		name: "absolute SACK",
		opts: TextOptions{Absolute: true},
		events: []Event{
			out(0, "", cli4, srv4, wire.TCPSegment{Seq: 1001, Ack: 5001, Flags: wire.ACK, Window: 502}),
			out(us(1), "", cli4, srv4, wire.TCPSegment{Seq: 1001, Ack: 5101, Flags: wire.ACK, Window: 502, Options: sack}),
		},
		want: "0.000001 IP 10.0.0.1.49152 > 10.0.0.2.80: Flags [.], ack 5101, win 502, options [nop,nop,TS val 300 ecr 400,nop,nop,sack 2 {5201:5301}{5401:5501}], length 0",
	}, {
		name: "sequence wrap",
		events: []Event{
			out(0, "", cli4, srv4, wire.TCPSegment{Seq: 0xffffff00, Ack: 7, Flags: wire.ACK, Window: 502}),
			out(us(1), "", cli4, srv4, wire.TCPSegment{Seq: 0xffffff00, Ack: 7, Flags: wire.PSH | wire.ACK, Window: 502, Payload: make([]byte, 0x200)}),
		},
		want: "0.000001 IP 10.0.0.1.49152 > 10.0.0.2.80: Flags [P.], seq 0:512, ack 1, win 502, length 512",
	}, {
		name:   "URG, no options",
		events: []Event{out(0, "", cli4, srv4, wire.TCPSegment{Seq: 1, Flags: wire.URG | wire.PSH | wire.FIN, Window: 9, Urgent: 3, Payload: []byte("abc")})},
		want:   "0.000000 IP 10.0.0.1.49152 > 10.0.0.2.80: Flags [FPU], seq 1:4, win 9, urg 3, length 3",
	}, {
		name:   "options without timestamps",
		events: []Event{out(0, "", cli4, srv4, wire.TCPSegment{Seq: 1, Flags: wire.SYN, Window: 9, Options: wire.TCPOptions{MSS: 536, SACKPermitted: true, HasWScale: true}})},
		want:   "0.000000 IP 10.0.0.1.49152 > 10.0.0.2.80: Flags [S], seq 1, win 9, options [mss 536,nop,nop,sackOK,nop,wscale 0], length 0",
	}, {
		name: "SACK blocks past 40 bytes are not sent",
		events: []Event{out(0, "", cli4, srv4, wire.TCPSegment{Seq: 1, Flags: wire.SYN, Window: 9,
			Options: wire.TCPOptions{MSS: 536, HasTS: true, HasWScale: true, WScale: 14, NumSACK: 4, SACK: [4]wire.SACKBlock{blk(1, 2), blk(3, 4), blk(5, 6), blk(7, 8)}}})},
		want: "0.000000 IP 10.0.0.1.49152 > 10.0.0.2.80: Flags [S], seq 1, win 9, options [mss 536,nop,nop,TS val 0 ecr 0,nop,wscale 14,nop,nop,sack 2 {1:2}{3:4}], length 0",
	}, {
		name:   "IPv6",
		events: []Event{out(0, "", cli6, srv6, wire.TCPSegment{Seq: 1234, Flags: wire.SYN, Window: 65535, Options: synOpts(1, 0)})},
		want:   "0.000000 IP6 2001:db8::1.49152 > 2001:db8::2.80: Flags [S], seq 1234, win 65535, options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0",
	}, {
		name: "IPv4-mapped IPv6",
		events: []Event{out(0, "", netip.MustParseAddrPort("[::ffff:10.0.0.1]:1"), netip.MustParseAddrPort("[::ffff:10.0.0.2]:2"),
			wire.TCPSegment{Seq: 1, Flags: wire.SYN, Window: 1})},
		want: "0.000000 IP6 ::ffff:10.0.0.1.1 > ::ffff:10.0.0.2.2: Flags [S], seq 1, win 1, length 0",
	}, {
		name:   "stack time and name",
		opts:   TextOptions{Time: TimeStack, Stack: true},
		events: []Event{out(1234567891*time.Nanosecond, "client", cli4, srv4, wire.TCPSegment{Seq: 1, Flags: wire.SYN})},
		want:   "1.234567 [client] IP 10.0.0.1.49152 > 10.0.0.2.80: Flags [S], seq 1, win 0, length 0",
	}, {
		name: "relative time from the first event, negative for an earlier clock",
		events: []Event{
			out(2*time.Second, "", cli4, srv4, wire.TCPSegment{Seq: 1, Flags: wire.SYN}),
			out(time.Second+500*time.Millisecond, "", srv4, cli4, wire.TCPSegment{Seq: 1, Flags: wire.SYN}),
		},
		want: "-0.500000 IP 10.0.0.2.80 > 10.0.0.1.49152: Flags [S], seq 1, win 0, length 0",
	}, {
		name:   "no time, empty stack name",
		opts:   TextOptions{Time: TimeNone, Stack: true},
		events: []Event{out(time.Hour, "", cli4, srv4, wire.TCPSegment{Seq: 1, Flags: wire.SYN})},
		want:   "IP 10.0.0.1.49152 > 10.0.0.2.80: Flags [S], seq 1, win 0, length 0",
	}, {
		name:   "state change",
		opts:   TextOptions{Time: TimeStack, Stack: true},
		events: []Event{state(us(123), "client", cli4, srv4, "SYN_SENT", "ESTABLISHED", "rcvd SYN-ACK")},
		want:   "0.000123 [client] 10.0.0.1.49152 > 10.0.0.2.80: state SYN_SENT -> ESTABLISHED (rcvd SYN-ACK)",
	}, {
		name:   "state change without cause",
		events: []Event{state(0, "", cli6, srv6, "FIN_WAIT2", "TIME_WAIT", "")},
		want:   "0.000000 2001:db8::1.49152 > 2001:db8::2.80: state FIN_WAIT2 -> TIME_WAIT",
	}, {
		name:   "timer",
		events: []Event{{Kind: Timer, Local: cli4, Remote: srv4, Why: "retransmit"}},
		want:   "0.000000 10.0.0.1.49152 > 10.0.0.2.80: timer retransmit",
	}, {
		name:   "drop outside any connection",
		opts:   TextOptions{Stack: true},
		events: []Event{{Kind: Drop, Stack: "server", Why: "bad-checksum"}},
		want:   "0.000000 [server] drop bad-checksum",
	}, {
		name:   "congestion",
		events: []Event{{Kind: Congestion, Local: cli4, Remote: srv4, Cwnd: 14600, Ssthresh: 4294967295}},
		want:   "0.000000 10.0.0.1.49152 > 10.0.0.2.80: cwnd 14600 ssthresh 4294967295",
	}, {
		name:   "unknown kind, nil segment",
		events: []Event{{Kind: 42}, {Kind: SegmentOut, Local: cli4, Remote: srv4}},
		want:   "0.000000 10.0.0.1.49152 > 10.0.0.2.80: SegmentOut (no segment)",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got := render(t, tc.opts, tc.events)
			if !strings.HasSuffix(got, "\n") {
				t.Fatalf("output %q does not end in a newline", got)
			}
			lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
			if len(lines) != len(tc.events) {
				t.Errorf("%d lines for %d events:\n%s", len(lines), len(tc.events), got)
			}
			if last := lines[len(lines)-1]; last != tc.want {
				t.Errorf("got  %s\nwant %s", last, tc.want)
			}
		})
	}
}

// TestTextRelativePerConnection checks that each conversation has its own
// bases, whichever order their segments interleave in, and that a new
// connection on a reused 4-tuple starts over at its SYN-ACK.
func TestTextRelativePerConnection(t *testing.T) {
	cliB := netip.MustParseAddrPort("10.0.0.1:49153")
	syn := func(at int, from, to netip.AddrPort, iss wire.Seq) Event {
		return out(us(at), "", from, to, wire.TCPSegment{Seq: iss, Flags: wire.SYN, Window: 100})
	}
	synack := func(at int, from, to netip.AddrPort, iss, ack wire.Seq) Event {
		return out(us(at), "", from, to, wire.TCPSegment{Seq: iss, Ack: ack, Flags: wire.SYN | wire.ACK, Window: 100})
	}
	data := func(at int, from, to netip.AddrPort, seq, ack wire.Seq, n int) Event {
		return out(us(at), "", from, to, wire.TCPSegment{Seq: seq, Ack: ack, Flags: wire.PSH | wire.ACK, Window: 100, Payload: make([]byte, n)})
	}
	events := []Event{
		syn(0, cli4, srv4, 100),
		syn(1, cliB, srv4, 90000),
		synack(2, srv4, cliB, 70000, 90001),
		synack(3, srv4, cli4, 300, 101),
		data(4, cli4, srv4, 101, 301, 10),
		data(5, cliB, srv4, 90001, 70001, 20),
		data(6, srv4, cliB, 70001, 90021, 30),
		data(7, srv4, cli4, 301, 111, 40),
		// The 4-tuple of the first connection is used again, with new ISNs.
		syn(8, cli4, srv4, 5000),
		synack(9, srv4, cli4, 8000, 5001),
		data(10, cli4, srv4, 5001, 8001, 50),
	}
	want := `0.000000 IP 10.0.0.1.49152 > 10.0.0.2.80: Flags [S], seq 100, win 100, length 0
0.000001 IP 10.0.0.1.49153 > 10.0.0.2.80: Flags [S], seq 90000, win 100, length 0
0.000002 IP 10.0.0.2.80 > 10.0.0.1.49153: Flags [S.], seq 70000, ack 90001, win 100, length 0
0.000003 IP 10.0.0.2.80 > 10.0.0.1.49152: Flags [S.], seq 300, ack 101, win 100, length 0
0.000004 IP 10.0.0.1.49152 > 10.0.0.2.80: Flags [P.], seq 1:11, ack 1, win 100, length 10
0.000005 IP 10.0.0.1.49153 > 10.0.0.2.80: Flags [P.], seq 1:21, ack 1, win 100, length 20
0.000006 IP 10.0.0.2.80 > 10.0.0.1.49153: Flags [P.], seq 1:31, ack 21, win 100, length 30
0.000007 IP 10.0.0.2.80 > 10.0.0.1.49152: Flags [P.], seq 1:41, ack 11, win 100, length 40
0.000008 IP 10.0.0.1.49152 > 10.0.0.2.80: Flags [S], seq 5000, win 100, length 0
0.000009 IP 10.0.0.2.80 > 10.0.0.1.49152: Flags [S.], seq 8000, ack 5001, win 100, length 0
0.000010 IP 10.0.0.1.49152 > 10.0.0.2.80: Flags [P.], seq 1:51, ack 1, win 100, length 50
`
	if got := render(t, TextOptions{}, events); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// TestTextBounded checks that the conversation table stays bounded and that
// a forgotten conversation starts over with absolute numbers.
func TestTextBounded(t *testing.T) {
	tx := NewText(io.Discard, TextOptions{})
	for i := range maxConversations + 100 {
		local := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 1)
		e := out(0, "", local, srv4, wire.TCPSegment{Seq: 1, Ack: 1, Flags: wire.ACK})
		tx.Trace(&e)
	}
	if n := len(tx.convs); n > maxConversations {
		t.Errorf("%d conversations kept, want at most %d", n, maxConversations)
	}
}

func TestTextFilters(t *testing.T) {
	events := []Event{
		out(0, "a", cli4, srv4, wire.TCPSegment{Seq: 1, Flags: wire.SYN}),
		in(0, "a", cli4, srv4, wire.TCPSegment{Seq: 2, Flags: wire.SYN}),
		{Kind: Timer, Why: "retransmit"},
	}
	for _, tc := range []struct {
		f    SegmentFilter
		want string
	}{
		{BothSegments, "S>1 S<2 T"},
		{OutSegments, "S>1 T"},
		{InSegments, "S<2 T"},
		{NoSegments, "T"},
	} {
		got := render(t, TextOptions{Segments: tc.f, Time: TimeNone}, events)
		var short []string
		for line := range strings.Lines(got) {
			switch {
			case strings.HasPrefix(line, "IP 10.0.0.1"):
				short = append(short, "S>"+line[len(line)-len("1, win 0, length 0\n"):][:1])
			case strings.HasPrefix(line, "IP 10.0.0.2"):
				short = append(short, "S<"+line[len(line)-len("2, win 0, length 0\n"):][:1])
			case strings.HasPrefix(line, "timer"):
				short = append(short, "T")
			default:
				t.Errorf("unexpected line %q", line)
			}
		}
		if s := strings.Join(short, " "); s != tc.want {
			t.Errorf("filter %d: got %s, want %s", tc.f, s, tc.want)
		}
	}
}

// failWriter fails every write after the first n.
type failWriter struct {
	n      int
	writes int
}

var errWrite = errors.New("disk full")

func (w *failWriter) Write(p []byte) (int, error) {
	w.writes++
	if w.writes > w.n {
		return 0, errWrite
	}
	return len(p), nil
}

func TestTextWriteError(t *testing.T) {
	w := &failWriter{n: 1}
	tx := NewText(w, TextOptions{})
	e := Event{Kind: Timer, Why: "retransmit"}
	for range 5 {
		tx.Trace(&e)
	}
	if err := tx.Err(); !errors.Is(err, errWrite) {
		t.Errorf("Err() = %v, want %v", err, errWrite)
	}
	if w.writes != 2 {
		t.Errorf("%d writes, want 2: a Text stops writing after an error", w.writes)
	}
}

func TestTextConcurrent(t *testing.T) {
	var buf bytes.Buffer
	tx := NewText(&buf, TextOptions{Time: TimeNone})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			local := netip.AddrPortFrom(cli4.Addr(), uint16(1000+g))
			for i := range 50 {
				e := out(us(i), "", local, srv4, wire.TCPSegment{Seq: wire.Seq(i), Ack: 1, Flags: wire.ACK | wire.PSH, Payload: make([]byte, 1)})
				tx.Trace(&e)
			}
		})
	}
	wg.Wait()
	n := 0
	for line := range strings.Lines(buf.String()) {
		if !strings.HasPrefix(line, "IP 10.0.0.1.") || !strings.HasSuffix(line, ", length 1\n") {
			t.Fatalf("torn line %q", line)
		}
		n++
	}
	if n != 200 {
		t.Errorf("%d lines, want 200", n)
	}
}

func TestAppendSegment(t *testing.T) {
	seg := wire.TCPSegment{SrcPort: 49152, DstPort: 80, Seq: 1001, Ack: 2001, Flags: wire.PSH | wire.ACK, Window: 502, Payload: make([]byte, 100)}
	got := string(AppendSegment([]byte("> "), cli4.Addr(), srv4.Addr(), &seg))
	want := "> IP 10.0.0.1.49152 > 10.0.0.2.80: Flags [P.], seq 1001:1101, ack 2001, win 502, length 100"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got := string(AppendSegment(nil, netip.Addr{}, netip.Addr{}, &seg)); !strings.HasPrefix(got, "IP ?.49152 > ?.80: ") {
		t.Errorf("invalid addresses: got %s", got)
	}
	if got := string(AppendSegment(nil, netip.Addr{}, netip.Addr{}, nil)); got != "no segment" {
		t.Errorf("nil segment: got %s", got)
	}
}

// TestTextZeroAllocs checks that a Text in steady state formats and writes a
// segment without allocating.
func TestTextZeroAllocs(t *testing.T) {
	tx := NewText(io.Discard, TextOptions{Stack: true})
	events := conversation(cli4, srv4)
	for i := range events {
		tx.Trace(&events[i])
	}
	sack := tsOpts(1, 2)
	sack.NumSACK = 1
	sack.SACK[0] = wire.SACKBlock{Left: 2000, Right: 3000}
	for _, e := range []Event{
		out(us(9000), "client", cli4, srv4, wire.TCPSegment{Seq: 1102, Ack: 5052, Flags: wire.PSH | wire.ACK, Window: 502, Options: sack, Payload: make([]byte, 1448)}),
		in(us(9000), "server", cli6, srv6, wire.TCPSegment{Seq: 1, Flags: wire.SYN, Options: synOpts(1, 2)}),
		state(us(9000), "client", cli4, srv4, "ESTABLISHED", "FIN_WAIT1", "close"),
		{Kind: Congestion, Local: cli4, Remote: srv4, Cwnd: 1, Ssthresh: 2, Why: "loss"},
	} {
		if n := testing.AllocsPerRun(100, func() { tx.Trace(&e) }); n != 0 {
			t.Errorf("%v: %v allocs per event, want 0", e.Kind, n)
		}
	}
}

func BenchmarkTextSegment(b *testing.B) {
	tx := NewText(io.Discard, TextOptions{Stack: true})
	first := out(0, "client", cli4, srv4, wire.TCPSegment{Seq: 1001, Ack: 5001, Flags: wire.ACK, Window: 502, Options: tsOpts(1, 2)})
	tx.Trace(&first)
	e := out(us(10), "client", cli4, srv4, wire.TCPSegment{Seq: 1001, Ack: 5001, Flags: wire.PSH | wire.ACK, Window: 502, Options: tsOpts(3, 4), Payload: make([]byte, 1448)})
	b.ReportAllocs()
	for b.Loop() {
		tx.Trace(&e)
	}
}
