package trace

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/synack-go/synack/wire"
)

// lostSYN is a handshake whose first SYN is lost, then data, as both
// stacks trace it.
func lostSYN() []Event {
	c := netip.MustParseAddrPort("10.0.0.1:40000")
	s := netip.MustParseAddrPort("10.0.0.2:80")
	syn := &wire.TCPSegment{SrcPort: 40000, DstPort: 80, Seq: 1000, Flags: wire.SYN}
	synack := &wire.TCPSegment{SrcPort: 80, DstPort: 40000, Seq: 5000, Ack: 1001, Flags: wire.SYN | wire.ACK}
	ack := &wire.TCPSegment{SrcPort: 40000, DstPort: 80, Seq: 1001, Ack: 5001, Flags: wire.ACK, Window: 502}
	data := &wire.TCPSegment{SrcPort: 40000, DstPort: 80, Seq: 1001, Ack: 5001, Flags: wire.ACK | wire.PSH, Payload: make([]byte, 5)}
	events := []Event{
		{Kind: StateChange, Local: s, Remote: c, From: "CLOSED", To: "LISTEN"},
		{Kind: StateChange, Local: c, Remote: s, From: "CLOSED", To: "SYN_SENT"},
		{Kind: SegmentOut, Local: c, Remote: s, Seg: syn}, // lost
		{Kind: Timer, Local: c, Remote: s, Why: "retransmit"},
		{Kind: SegmentOut, Local: c, Remote: s, Seg: syn},
		{Kind: SegmentIn, Local: s, Remote: c, Seg: syn},
		{Kind: StateChange, Local: s, Remote: c, From: "LISTEN", To: "SYN_RECV"},
		{Kind: SegmentOut, Local: s, Remote: c, Seg: synack},
		{Kind: SegmentIn, Local: c, Remote: s, Seg: synack},
		{Kind: StateChange, Local: c, Remote: s, From: "SYN_SENT", To: "ESTABLISHED"},
		{Kind: SegmentOut, Local: c, Remote: s, Seg: ack},
		{Kind: SegmentOut, Local: c, Remote: s, Seg: data},
		{Kind: SegmentIn, Local: s, Remote: c, Seg: ack},
		{Kind: StateChange, Local: s, Remote: c, From: "SYN_RECV", To: "ESTABLISHED"},
		{Kind: SegmentIn, Local: s, Remote: c, Seg: data},
	}
	for i := range events {
		events[i].At = time.Duration(i) * time.Millisecond
	}
	return events
}

// A handshake with a lost first SYN, drawn as a ladder: one arrow per
// segment, a cross for the lost one, the retransmission marked, states on
// both sides.
func TestWriteLadder(t *testing.T) {
	var b strings.Builder
	if err := WriteLadder(&b, lostSYN(), LadderOptions{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	t.Log("\n" + out)
	for _, want := range []string{
		"10.0.0.1:40000", "10.0.0.2:80",
		"SYN seq 0 ", "SYN,ACK seq 0 ack 1 ", "ACK seq 1 ack 1 ", "PSH,ACK seq 1 ack 1 len 5",
		"(retransmission)", "LISTEN", "SYN_SENT", "SYN_RECV", "ESTABLISHED",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("ladder lacks %q", want)
		}
	}
	if n := strings.Count(out, ">|"); n != 3 {
		t.Errorf("%d arrows left to right that arrive, want 3", n)
	}
	if n := strings.Count(out, "|<"); n != 1 {
		t.Errorf("%d arrows right to left, want 1", n)
	}
	if n := strings.Count(out, "X"); n != 1 {
		t.Errorf("%d crosses, want 1 for the lost SYN", n)
	}
}

func TestWriteLadderEmpty(t *testing.T) {
	if err := WriteLadder(&strings.Builder{}, nil, LadderOptions{}); err == nil {
		t.Fatal("no error for no connection")
	}
}
