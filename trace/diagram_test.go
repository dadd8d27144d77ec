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

// Identical segments sent in a burst arrive in the order they were sent:
// three duplicate ACKs with nothing to tell them apart are drawn first to
// first, so that their arrows never cross. Duplicate ACKs that differ only
// in their SACK blocks are told apart by them.
func TestDiagramMatchesInOrder(t *testing.T) {
	c, s := cli4, srv4
	ack := wire.TCPSegment{Seq: 51, Ack: 11, Flags: wire.ACK, Window: 100}
	sacked := func(right wire.Seq) wire.TCPSegment {
		a := ack
		a.Options.NumSACK = 1
		a.Options.SACK[0] = wire.SACKBlock{Left: 21, Right: right}
		return a
	}
	for _, tc := range []struct {
		name string
		segs []wire.TCPSegment
	}{
		{"identical", []wire.TCPSegment{ack, ack, ack}},
		{"sack blocks", []wire.TCPSegment{sacked(31), sacked(41), sacked(51)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var events []Event
			for _, sg := range tc.segs {
				events = append(events, out(0, "", s, c, sg))
			}
			for _, sg := range tc.segs {
				events = append(events, in(0, "", c, s, sg))
			}
			d, err := buildDiagram(events, &LadderOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for i, a := range d.arrows {
				if want := len(tc.segs) + i; a.send != i || a.arrive != want {
					t.Errorf("arrow %d: sent at row %d, arrives at row %d; want %d and %d", i, a.send, a.arrive, i, want)
				}
			}
		})
	}
	// A resent segment: the copy that arrives is the retransmission.
	data := wire.TCPSegment{Seq: 11, Ack: 51, Flags: wire.ACK, Window: 100, Payload: make([]byte, 10)}
	events := []Event{out(0, "", c, s, data), out(0, "", c, s, data), in(0, "", s, c, data)}
	d, err := buildDiagram(events, &LadderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.arrows[0].arrive != -1 || d.arrows[1].arrive != 2 {
		t.Errorf("original arrives at %d, retransmission at %d; want -1 (lost) and 2", d.arrows[0].arrive, d.arrows[1].arrive)
	}
}
