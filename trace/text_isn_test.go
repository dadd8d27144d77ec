package trace

import (
	"strings"
	"testing"

	"github.com/synack-go/synack/wire"
)

// FromISN numbers every segment from each side's ISN, SYNs included, so
// that runs with different ISNs print the same lines.
func TestTextFromISN(t *testing.T) {
	var segs []Event
	for _, e := range conversation(cli4, srv4) {
		if e.Kind == SegmentOut {
			segs = append(segs, e)
		}
	}
	got := render(t, TextOptions{Time: TimeNone, FromISN: true}, segs)
	for _, want := range []string{
		"Flags [S], seq 0, win 64240,",
		"Flags [S.], seq 0, ack 1, win 65160,",
		"Flags [.], ack 1, win 502,",
		"Flags [P.], seq 1:101, ack 1,",
		"Flags [F.], seq 51, ack 102,",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("lacks %q:\n%s", want, got)
		}
	}
	// Other ISNs, the same lines.
	for i := range segs {
		s := *segs[i].Seg
		if segs[i].Local == cli4 {
			s.Seq += 77777
			if s.Flags&wire.ACK != 0 {
				s.Ack += 99999
			}
		} else {
			s.Seq += 99999
			s.Ack += 77777
		}
		segs[i].Seg = &s
	}
	if again := render(t, TextOptions{Time: TimeNone, FromISN: true}, segs); again != got {
		t.Errorf("other ISNs print differently:\n%s\nwas\n%s", again, got)
	}

	// A RST answering a SYN has no ISN of its own: it counts from its seq.
	refused := []Event{
		out(0, "", cli4, srv4, wire.TCPSegment{Seq: 4000, Flags: wire.SYN}),
		in(0, "", cli4, srv4, wire.TCPSegment{Seq: 0, Ack: 4001, Flags: wire.RST | wire.ACK}),
		// A new SYN with another ISN: a new incarnation.
		out(0, "", cli4, srv4, wire.TCPSegment{Seq: 9000, Flags: wire.SYN}),
		in(0, "", cli4, srv4, wire.TCPSegment{Seq: 300, Ack: 9001, Flags: wire.SYN | wire.ACK}),
	}
	want := `IP 10.0.0.1.49152 > 10.0.0.2.80: Flags [S], seq 0, win 0, length 0
IP 10.0.0.2.80 > 10.0.0.1.49152: Flags [R.], seq 0, ack 1, win 0, length 0
IP 10.0.0.1.49152 > 10.0.0.2.80: Flags [S], seq 0, win 0, length 0
IP 10.0.0.2.80 > 10.0.0.1.49152: Flags [S.], seq 0, ack 1, win 0, length 0
`
	if got := render(t, TextOptions{Time: TimeNone, FromISN: true}, refused); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}
