package trace

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/synack-go/synack/wire"
)

func TestParseConn(t *testing.T) {
	for in, want := range map[string]Conn{
		"10.0.0.1:49152-10.0.0.2:80":           {cli4, srv4},
		"10.0.0.2:80,10.0.0.1:49152":           {srv4, cli4},
		"[2001:db8::1]:49152-[2001:db8::2]:80": {cli6, srv6},
	} {
		got, err := ParseConn(in)
		if err != nil || got != want {
			t.Errorf("ParseConn(%q) = %v, %v", in, got, err)
		}
		if !got.Same(Conn{got.Right, got.Left}) {
			t.Errorf("%v is not the same as its reverse", got)
		}
		if back, err := ParseConn(got.String()); err != nil || back != got {
			t.Errorf("String does not parse back: %q", got.String())
		}
	}
	for _, bad := range []string{"", "10.0.0.1:1", "10.0.0.1-10.0.0.2", "a:1-b:2", "10.0.0.1:1-"} {
		if _, err := ParseConn(bad); err == nil {
			t.Errorf("ParseConn(%q) succeeded", bad)
		}
	}
}

func TestConns(t *testing.T) {
	events := append(append([]Event{{Kind: Timer, Why: "stray"}}, conversation(cli6, srv6)...), conversation(cli4, srv4)...)
	// A connection seen first from its receiving end keeps its sender left.
	events = append(events, in(0, "", srv4, netip.MustParseAddrPort("10.0.0.9:7"), wire.TCPSegment{Flags: wire.SYN}))
	got := Conns(events)
	want := []Conn{{cli6, srv6}, {cli4, srv4}, {netip.MustParseAddrPort("10.0.0.9:7"), srv4}}
	if len(got) != len(want) {
		t.Fatalf("Conns = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Conns = %v, want %v", got, want)
		}
	}
}

// A passive end traced LISTEN only when the SYN arrived; the ladder puts
// it at the top, as the listener was there first. Duplicate ACKs are
// marked, and a lost data segment's retransmission too.
func TestLadderMarks(t *testing.T) {
	c, s := cli4, srv4
	seg := func(seq, ack wire.Seq, f wire.TCPFlags, n int) wire.TCPSegment {
		return wire.TCPSegment{Seq: seq, Ack: ack, Flags: f, Window: 100, Payload: make([]byte, n)}
	}
	pair := func(from, to netip.AddrPort, sg wire.TCPSegment, lost bool) []Event {
		evs := []Event{out(0, "", from, to, sg)}
		if !lost {
			evs = append(evs, in(0, "", to, from, sg))
		}
		return evs
	}
	var events []Event
	events = append(events, state(0, "", c, s, "CLOSED", "SYN_SENT", "connect"))
	events = append(events, pair(c, s, seg(0, 0, wire.SYN, 0), false)...)
	events = append(events, state(0, "", s, c, "CLOSED", "LISTEN", "listen"), state(0, "", s, c, "LISTEN", "SYN_RECV", "rcvd SYN"))
	events = append(events, pair(s, c, seg(50, 1, wire.SYN|wire.ACK, 0), false)...)
	events = append(events, pair(c, s, seg(1, 51, wire.ACK, 0), false)...)
	events = append(events, pair(c, s, seg(1, 51, wire.ACK, 10), false)...)
	events = append(events, pair(c, s, seg(11, 51, wire.ACK, 10), true)...)
	events = append(events, pair(c, s, seg(21, 51, wire.ACK, 10), false)...)
	events = append(events, pair(s, c, seg(51, 11, wire.ACK, 0), false)...)
	events = append(events, pair(s, c, seg(51, 11, wire.ACK, 0), false)...)
	events = append(events, pair(c, s, seg(11, 51, wire.ACK, 10), false)...)
	events = append(events, pair(s, c, seg(51, 31, wire.ACK, 0), false)...)
	var b strings.Builder
	if err := WriteLadder(&b, events, LadderOptions{}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	t.Log("\n" + b.String())
	if !strings.HasPrefix(lines[1], "SYN_SENT ") || !strings.HasSuffix(lines[1], "| LISTEN") {
		t.Errorf("LISTEN not at the top: %q", lines[1])
	}
	for _, want := range []string{"ACK seq 1 ack 11 -", "ACK seq 1 ack 11 (dup ACK) -", "ACK seq 11 ack 1 len 10 (retransmission) -", "ACK seq 1 ack 31 -"} {
		if strings.Count(b.String(), want) != 1 {
			t.Errorf("one %q wanted", want)
		}
	}
}
