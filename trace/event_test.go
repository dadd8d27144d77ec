package trace

import (
	"strings"
	"sync"
	"testing"

	"github.com/synack-go/synack/wire"
)

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{
		SegmentIn: "SegmentIn", SegmentOut: "SegmentOut", StateChange: "StateChange",
		Timer: "Timer", Drop: "Drop", Congestion: "Congestion", 6: "Kind(6)", 255: "Kind(255)",
	} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", uint8(k), got, want)
		}
	}
}

func TestMulti(t *testing.T) {
	var got []string
	rec := func(name string) Tracer {
		return Func(func(e *Event) { got = append(got, name+":"+e.Why) })
	}
	a, b, c := rec("a"), rec("b"), rec("c")
	m := Multi(a, nil, Multi(b, nil, c))
	m.Trace(&Event{Kind: Timer, Why: "rto"})
	if want := "a:rto b:rto c:rto"; strings.Join(got, " ") != want {
		t.Errorf("got %q, want %q", strings.Join(got, " "), want)
	}
	if n := len(m.(multi)); n != 3 {
		t.Errorf("nested Multi not flattened: %d tracers", n)
	}
	if Multi() != nil || Multi(nil, nil) != nil {
		t.Error("Multi of no tracer is not nil")
	}
	r := new(Recorder)
	if Multi(nil, r) != r {
		t.Error("Multi of one tracer does not return it")
	}
}

func TestRecorder(t *testing.T) {
	var r Recorder
	payload := []byte("hello, world")
	seg := wire.TCPSegment{SrcPort: 1, DstPort: 2, Seq: 100, Flags: wire.PSH | wire.ACK, Options: wire.TCPOptions{NumSACK: 1, SACK: [4]wire.SACKBlock{blk(1, 2)}}, Payload: payload}
	e := out(us(5), "client", cli4, srv4, seg)
	r.Trace(&e)
	// The stack reuses its event and segment after Trace returns.
	e.Seg.Seq, e.Seg.Options.SACK[0].Left, e.Seg.Payload[0] = 999, 999, 'X'
	e.Why = "changed"
	big := out(us(6), "client", cli4, srv4, wire.TCPSegment{Payload: make([]byte, 100)})
	r.Trace(&big)
	r.Trace(&Event{Kind: Congestion, Cwnd: 10})

	evs := r.Events()
	if len(evs) != 3 || r.Len() != 3 {
		t.Fatalf("%d events (Len %d), want 3", len(evs), r.Len())
	}
	s := evs[0].Seg
	if s == e.Seg || s.Seq != 100 || s.Options.SACK[0].Left != 1 || evs[0].Why != "" || evs[0].Stack != "client" || evs[0].At != us(5) {
		t.Errorf("recorded event not a deep copy: %+v, seg %+v", evs[0], s)
	}
	if len(s.Payload) != len(payload) || s.SeqLen() != uint32(len(payload)) {
		t.Errorf("payload length %d, want %d", len(s.Payload), len(payload))
	}
	if &s.Payload[0] == &payload[0] || s.Payload[0] != 0 {
		t.Error("payload bytes were kept")
	}
	if len(evs[1].Seg.Payload) != 100 || evs[2].Seg != nil || evs[2].Cwnd != 10 {
		t.Errorf("later events wrong: %+v %+v", evs[1], evs[2])
	}
	if l := len(s.Payload); cap(s.Payload) != l {
		t.Errorf("payload stand-in has spare capacity %d: appends would share", cap(s.Payload)-l)
	}
	evs[0].Why = "mine"
	if r.Events()[0].Why != "" {
		t.Error("Events result aliases the recorder's slice")
	}
	r.Reset()
	if r.Len() != 0 {
		t.Error("Reset kept events")
	}
}

func TestRecorderConcurrent(t *testing.T) {
	var r Recorder
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 100 {
				e := out(us(i), "s", cli4, srv4, wire.TCPSegment{Seq: wire.Seq(g), Payload: make([]byte, i)})
				r.Trace(&e)
			}
		})
	}
	wg.Wait()
	if r.Len() != 400 {
		t.Errorf("%d events, want 400", r.Len())
	}
}
