package trace

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Summary describes one connection of a trace in a few numbers, as a
// first look at a long capture: what tcptrace's and Wireshark's
// conversation tables give.
type Summary struct {
	Conn Conn
	// Start and End are the times of the connection's first and last
	// event, from the start of the trace.
	Start, End time.Duration
	// Bytes are the distinct payload bytes each way, [0] from Conn.Left,
	// [1] from Conn.Right; Segments and Retransmits count segments.
	Bytes       [2]int64
	Segments    [2]int
	Retransmits [2]int
	// Lost counts segments sent and never received, each way; it is known
	// only when both ends were traced (a capture cannot tell).
	Lost [2]int
	// RTTMin and RTTMedian are taken from RTTSamples round trips in the
	// direction that carried more data, from a segment to the ACK that
	// covered it (segments sent more than once give none). Zero when
	// there is none.
	RTTMin, RTTMedian time.Duration
	RTTSamples        int
	// States are the states each side entered, in order.
	States [2][]string
	// Ended says how the connection ended: "closed (FIN both ways)",
	// "reset by ip:port", or that it was open when the trace ended.
	Ended string
}

// Duration returns End - Start.
func (s *Summary) Duration() time.Duration { return s.End - s.Start }

// Goodput returns the bits per second of distinct payload the busier
// direction carried over the connection's duration, or 0.
func (s *Summary) Goodput() float64 {
	d := s.Duration()
	if d <= 0 {
		return 0
	}
	return float64(max(s.Bytes[0], s.Bytes[1])*8) / d.Seconds()
}

// Summarize returns a Summary of every connection in events that conns
// chooses (every one when conns is empty), in the order of their first
// segment. It takes one pass over the events per connection, so a trace of
// a hundred thousand segments is summarized in well under a second.
func Summarize(events []Event, conns ...Conn) []Summary {
	flows := flowsOf(events, conns)
	out := make([]Summary, len(flows))
	for i, f := range flows {
		out[i] = f.summary()
	}
	return out
}

func (f *connFlow) summary() Summary {
	s := Summary{Conn: f.conn, Start: f.start, End: f.end, Bytes: f.bytes, Segments: f.count,
		Retransmits: f.retrans, Lost: f.lost, States: f.states, Ended: f.ended, RTTSamples: len(f.rtt)}
	if len(f.rtt) > 0 {
		v := make([]int64, len(f.rtt))
		for i, p := range f.rtt {
			v[i] = p.v
		}
		slices.Sort(v)
		s.RTTMin = time.Duration(v[0]) * time.Microsecond
		s.RTTMedian = time.Duration(v[len(v)/2]) * time.Microsecond
	}
	return s
}

// WriteSummaries writes summaries as text, a paragraph per connection:
//
//	connection 1: 10.0.0.1:49152 -> 10.0.0.2:80
//	  duration    1.234567 s (from 0.000000)
//	  bytes       10.0.0.1:49152 -> 120 in 3 segments; 10.0.0.2:80 -> 67108864 in 46422 segments
//	  goodput     435.2 Mbit/s
//	  retransmits 0 -> and 12 <-
//	  rtt         min 0.210 ms, median 0.950 ms (40211 samples)
//	  states      10.0.0.1:49152 SYN_SENT ESTABLISHED ...; 10.0.0.2:80 LISTEN ...
//	  ended       closed (FIN both ways)
//
// It returns the writer's error.
func WriteSummaries(w io.Writer, sums []Summary) error {
	var b strings.Builder
	for i := range sums {
		s := &sums[i]
		if i > 0 {
			b.WriteString("\n")
		}
		c := s.Conn
		fmt.Fprintf(&b, "connection %d: %v <-> %v\n", i+1, c.Left, c.Right)
		fmt.Fprintf(&b, "  duration     %s s (from %s)\n", seconds(s.Duration()), seconds(s.Start))
		fmt.Fprintf(&b, "  data         %v -> %d bytes in %d segments; %v -> %d bytes in %d segments\n",
			c.Left, s.Bytes[0], s.Segments[0], c.Right, s.Bytes[1], s.Segments[1])
		fmt.Fprintf(&b, "  goodput      %s\n", bitRate(s.Goodput()))
		fmt.Fprintf(&b, "  retransmits  %d from %v, %d from %v", s.Retransmits[0], c.Left, s.Retransmits[1], c.Right)
		if s.Lost[0]+s.Lost[1] > 0 {
			fmt.Fprintf(&b, "; lost on the link: %d and %d", s.Lost[0], s.Lost[1])
		}
		b.WriteString("\n")
		if s.RTTSamples > 0 {
			fmt.Fprintf(&b, "  rtt          min %s, median %s (%d samples)\n", millis(s.RTTMin), millis(s.RTTMedian), s.RTTSamples)
		} else {
			b.WriteString("  rtt          no sample\n")
		}
		fmt.Fprintf(&b, "  states       %v %s; %v %s\n", c.Left, orNone(s.States[0]), c.Right, orNone(s.States[1]))
		fmt.Fprintf(&b, "  ended        %s\n", s.Ended)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func orNone(states []string) string {
	if len(states) == 0 {
		return "(none seen)"
	}
	return strings.Join(states, " ")
}

// millis formats d in milliseconds with three decimals: "0.950 ms".
func millis(d time.Duration) string {
	return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond))
}

// bitRate formats bits per second: "435.2 Mbit/s".
func bitRate(bps float64) string {
	switch {
	case bps >= 1e9:
		return fmt.Sprintf("%.2f Gbit/s", bps/1e9)
	case bps >= 1e6:
		return fmt.Sprintf("%.1f Mbit/s", bps/1e6)
	case bps >= 1e3:
		return fmt.Sprintf("%.1f kbit/s", bps/1e3)
	}
	return fmt.Sprintf("%.0f bit/s", bps)
}
