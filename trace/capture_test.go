package trace

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/synack-go/synack/wire"
)

// ipPacket returns seg from src to dst as an IP packet.
func ipPacket(src, dst netip.AddrPort, seg wire.TCPSegment) []byte {
	seg.SrcPort, seg.DstPort = src.Port(), dst.Port()
	hl := wire.IPHeaderLen(dst.Addr())
	pkt := make([]byte, hl+seg.Len())
	wire.PutIPHeader(pkt, src.Addr(), dst.Addr(), wire.ProtoTCP, seg.Len(), 64)
	seg.Emit(pkt[hl:])
	wire.TCP(pkt[hl:]).SetChecksum(src.Addr(), dst.Addr())
	return pkt
}

// capStep is one captured segment: from the client ('c') or the server
// ('s'), with its flags, seq, ack and payload length.
type capStep struct {
	from     byte
	flags    wire.TCPFlags
	seq, ack wire.Seq
	n        int
}

const (
	syn    = wire.SYN
	synack = wire.SYN | wire.ACK
	ack    = wire.ACK
	psh    = wire.PSH | wire.ACK
	fin    = wire.FIN | wire.ACK
	rst    = wire.RST
	rstack = wire.RST | wire.ACK
)

// inferred feeds the steps to a Capture and returns the state changes it
// infers, as "c:SYN_SENT s:SYN_RECV ...".
func inferred(t *testing.T, steps []capStep) string {
	t.Helper()
	var c Capture
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, st := range steps {
		src, dst := cli4, srv4
		if st.from == 's' {
			src, dst = srv4, cli4
		}
		seg := wire.TCPSegment{Seq: st.seq, Ack: st.ack, Flags: st.flags, Window: 1000, Payload: make([]byte, st.n)}
		if err := c.Add(t0.Add(time.Duration(i)*time.Millisecond), ipPacket(src, dst, seg), 0); err != nil {
			t.Fatal(err)
		}
	}
	events := c.Events()
	var got []string
	segs := 0
	for _, e := range events {
		switch e.Kind {
		case StateChange:
			who := "c"
			if e.Local == srv4 {
				who = "s"
			}
			got = append(got, who+":"+e.To)
		case SegmentOut:
			segs++
		}
	}
	if segs != len(steps) {
		t.Errorf("%d SegmentOut events for %d segments", segs, len(steps))
	}
	return strings.Join(got, " ")
}

func TestCaptureInfersStates(t *testing.T) {
	const c, s = 'c', 's'
	open := []capStep{{c, syn, 100, 0, 0}, {s, synack, 500, 101, 0}, {c, ack, 101, 501, 0}}
	for _, tc := range []struct {
		name  string
		steps []capStep
		want  string
	}{
		{"four-way close", append(open[:3:3],
			capStep{c, psh, 101, 501, 10}, capStep{s, ack, 501, 111, 0},
			capStep{c, fin, 111, 501, 0}, capStep{s, ack, 501, 112, 0},
			capStep{s, fin, 501, 112, 0}, capStep{c, ack, 112, 502, 0}),
			"s:LISTEN c:SYN_SENT s:SYN_RECV c:ESTABLISHED s:ESTABLISHED c:FIN_WAIT1 s:CLOSE_WAIT c:FIN_WAIT2 s:LAST_ACK c:TIME_WAIT s:CLOSED"},
		{"FIN and ACK of FIN together", append(open[:3:3],
			capStep{c, fin, 101, 501, 0}, capStep{s, fin, 501, 102, 0}, capStep{c, ack, 102, 502, 0}),
			"s:LISTEN c:SYN_SENT s:SYN_RECV c:ESTABLISHED s:ESTABLISHED c:FIN_WAIT1 s:CLOSE_WAIT s:LAST_ACK c:FIN_WAIT2 c:TIME_WAIT s:CLOSED"},
		{"simultaneous close", append(open[:3:3],
			capStep{c, fin, 101, 501, 0}, capStep{s, fin, 501, 101, 0},
			capStep{c, ack, 102, 502, 0}, capStep{s, ack, 502, 102, 0}),
			"s:LISTEN c:SYN_SENT s:SYN_RECV c:ESTABLISHED s:ESTABLISHED c:FIN_WAIT1 s:FIN_WAIT1 s:CLOSING c:CLOSING s:TIME_WAIT c:TIME_WAIT"},
		{"simultaneous open", []capStep{
			{c, syn, 100, 0, 0}, {s, syn, 500, 0, 0}, {c, synack, 100, 501, 0}, {s, synack, 500, 101, 0}},
			"c:SYN_SENT s:SYN_SENT s:SYN_RECV c:SYN_RECV s:ESTABLISHED c:ESTABLISHED"},
		{"lost SYN retransmitted", []capStep{
			{c, syn, 100, 0, 0}, {c, syn, 100, 0, 0}, {s, synack, 500, 101, 0}, {c, ack, 101, 501, 0}},
			"s:LISTEN c:SYN_SENT s:SYN_RECV c:ESTABLISHED s:ESTABLISHED"},
		{"closed port", []capStep{{c, syn, 100, 0, 0}, {s, rstack, 0, 101, 0}},
			"s:CLOSED c:SYN_SENT c:CLOSED"},
		{"reset", append(open[:3:3], capStep{c, rst, 101, 0, 0}),
			"s:LISTEN c:SYN_SENT s:SYN_RECV c:ESTABLISHED s:ESTABLISHED c:CLOSED s:CLOSED"},
		{"mid-connection", []capStep{{c, psh, 7, 9, 5}, {s, ack, 9, 12, 0}, {s, fin, 9, 12, 0}},
			"c:ESTABLISHED s:ESTABLISHED s:FIN_WAIT1 c:CLOSE_WAIT"},
		{"from the SYN-ACK", []capStep{{s, synack, 500, 101, 0}, {c, ack, 101, 501, 0}},
			"s:SYN_RECV c:SYN_SENT c:ESTABLISHED s:ESTABLISHED"},
		{"4-tuple reused", append(append(open[:3:3],
			capStep{c, rstack, 101, 501, 0}),
			capStep{c, syn, 9000, 0, 0}, capStep{s, synack, 7000, 9001, 0}, capStep{c, ack, 9001, 7001, 0}),
			"s:LISTEN c:SYN_SENT s:SYN_RECV c:ESTABLISHED s:ESTABLISHED c:CLOSED s:CLOSED s:LISTEN c:SYN_SENT s:SYN_RECV c:ESTABLISHED s:ESTABLISHED"},
	} {
		if got := inferred(t, tc.steps); got != tc.want {
			t.Errorf("%s:\ngot  %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

func TestCaptureAdd(t *testing.T) {
	var c Capture
	now := time.Now()
	seg := wire.TCPSegment{Seq: 1, Ack: 2, Flags: psh, Window: 9, Payload: []byte("hello, world")}
	full := ipPacket(cli4, srv4, seg)
	if err := c.Add(now, full[:len(full)-5], len(full)); err != nil {
		t.Fatalf("packet cut by the snapshot length: %v", err)
	}
	if err := c.Add(now, full[:30], 0); !errors.Is(err, wire.ErrTruncated) {
		t.Errorf("truncated packet: %v, want wire.ErrTruncated", err)
	}
	udp := append([]byte(nil), full...)
	udp[9] = wire.ProtoUDP
	udp[10], udp[11] = 0, 0
	wire.IPv4(udp).SetChecksum()
	if err := c.Add(now, udp, 0); !errors.Is(err, ErrNotTCP) {
		t.Errorf("UDP: %v, want ErrNotTCP", err)
	}
	if err := c.Add(now, []byte{0x45}, 0); err == nil {
		t.Error("no error for one byte")
	}
	ev := c.Events()
	if c.Len() != 1 || len(ev) != 4 || len(ev[2].Seg.Payload) != 12 || ev[2].Kind != SegmentOut {
		t.Fatalf("events %+v", ev)
	}
}

// The events of a capture draw and print like a stack's.
func TestCaptureDraws(t *testing.T) {
	var c Capture
	t0 := time.Unix(1000, 0)
	for i, e := range conversation(cli4, srv4) {
		if e.Kind != SegmentOut {
			continue
		}
		src, dst := e.Local, e.Remote
		if err := c.Add(t0.Add(time.Duration(i)*time.Millisecond), ipPacket(src, dst, *e.Seg), 0); err != nil {
			t.Fatal(err)
		}
	}
	var b strings.Builder
	if err := WriteLadder(&b, c.Events(), LadderOptions{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	t.Log("\n" + out)
	if strings.Contains(out, "X") {
		t.Error("a capture shows a lost segment")
	}
	for _, want := range []string{"LISTEN", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT", "CLOSE_WAIT", "LAST_ACK", "CLOSED", "FIN,ACK seq 51 ack 102"} {
		if !strings.Contains(out, want) {
			t.Errorf("ladder lacks %s", want)
		}
	}
	b.Reset()
	tx := NewText(&b, TextOptions{Segments: OutSegments})
	for _, e := range c.Events() {
		tx.Trace(&e)
	}
	if !strings.Contains(b.String(), "0.000000 10.0.0.2.80 > 10.0.0.1.49152: state LISTEN (listening)\n") {
		t.Errorf("text:\n%s", b.String())
	}
}
