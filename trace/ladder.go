package trace

import (
	"bufio"
	"io"
	"strconv"
	"strings"
	"time"
)

// LadderOptions shapes a ladder diagram, as text, SVG or HTML. The zero
// value is ready to use.
type LadderOptions struct {
	// Width is the number of columns between the two vertical lines of a
	// text ladder. Zero means 56. SVG and HTML ladders ignore it.
	Width int
	// Absolute prints absolute sequence numbers instead of numbers relative
	// to each side's initial sequence number.
	Absolute bool
	// Conns chooses the connections to draw, in either order of their
	// endpoints; nil draws every connection in the events.
	Conns []Conn
	// Times writes each row's time, in seconds since the first event
	// drawn, beside SVG and HTML ladders. Off by default, so that runs on
	// the real clock draw the same picture every time.
	Times bool
	// Title heads SVG and HTML ladders. Empty means the connections'
	// endpoints.
	Title string
}

// WriteLadder draws connections as the ladder diagrams of a TCP textbook,
// one after another: two vertical lines per connection, one per endpoint,
// and an arrow per segment carrying its flags, sequence and acknowledgment
// numbers (relative to each side's initial sequence number) and payload
// length, marked when it is a retransmission or a duplicate ACK. Each
// side's new state is written beside its line after every change, and
// timers and drops inside the lines; a passive end's LISTEN, which a stack
// traces when the SYN arrives, heads its line, where the listener was
// before. A segment that was sent and never arrived ends in a cross.
// events must hold both stacks' events, as a
// Recorder attached to both collects them, to tell lost segments; with one
// stack's events every segment is drawn as arrived. WriteLadder returns an
// error when events hold no connection that opts selects, or the writer's
// error.
func WriteLadder(w io.Writer, events []Event, opts LadderOptions) error {
	d, err := buildDiagram(events, &opts)
	if err != nil {
		return err
	}
	width := opts.Width
	if width <= 0 {
		width = 56
	}
	bw := bufio.NewWriter(w)
	for lane, c := range d.conns {
		if lane > 0 {
			bw.WriteString("\n")
		}
		l := textLadder{w: bw, width: width}
		ls, rs := c.Left.String(), c.Right.String()
		l.line(ls, strings.Repeat(" ", max(width-len(rs)+2, 1))+rs, "")
		for i := range d.rows {
			r := &d.rows[i]
			if r.lane != lane {
				continue
			}
			switch r.kind {
			case rowState:
				l.state(r.left, r.ev.To)
			case rowSend:
				a := &d.arrows[r.arrow]
				l.arrow(a.fromLeft, a.label(), a.arrive >= 0)
			case rowNote:
				l.note(r.left, r.note())
			}
		}
		l.flushStates()
	}
	return bw.Flush()
}

// textLadder writes one connection's ladder.
type textLadder struct {
	w            *bufio.Writer
	width        int
	pendL, pendR string // states to print with the next line
}

const margin = 14 // columns for the left state names

// state notes a new state for one side; it is printed on that side's next
// line.
func (l *textLadder) state(left bool, s string) {
	p := &l.pendR
	if left {
		p = &l.pendL
	}
	if *p != "" {
		l.flushStates()
	}
	*p = s
}

func (l *textLadder) flushStates() {
	if l.pendL == "" && l.pendR == "" {
		return
	}
	l.line(l.pendL, "|"+strings.Repeat(" ", l.width)+"|", l.pendR)
	l.pendL, l.pendR = "", ""
}

func (l *textLadder) line(left, mid, right string) {
	l.w.WriteString(left)
	l.w.WriteString(strings.Repeat(" ", max(margin-len(left), 1)))
	l.w.WriteString(mid)
	if right != "" {
		l.w.WriteString(" ")
		l.w.WriteString(right)
	}
	l.w.WriteString("\n")
}

// note writes a timer or drop inside the lines, on its side.
func (l *textLadder) note(left bool, text string) {
	l.flushStates()
	text = "(" + text + ")"
	if len(text) > l.width-2 {
		text = text[:l.width-2]
	}
	pad := strings.Repeat(" ", l.width-2-len(text))
	mid := " " + text + pad + " "
	if !left {
		mid = " " + pad + text + " "
	}
	l.line("", "|"+mid+"|", "")
}

// arrow draws one segment.
func (l *textLadder) arrow(fromLeft bool, label string, arrived bool) {
	l.flushStates()
	label = " " + label + " "
	room := l.width - 2 // arrow head and tail
	if len(label) > room {
		label = label[:room]
	}
	dashes := room - len(label)
	var mid string
	if fromLeft {
		mid = "-" + label + strings.Repeat("-", dashes) + ">"
		if !arrived {
			mid = "-" + label + strings.Repeat("-", dashes/2) + "X" + strings.Repeat(" ", dashes-dashes/2)
		}
	} else {
		mid = "<" + strings.Repeat("-", dashes) + label + "-"
		if !arrived {
			mid = strings.Repeat(" ", dashes-dashes/2) + "X" + strings.Repeat("-", dashes/2) + label + "-"
		}
	}
	l.line("", "|"+mid+"|", "")
}

// seconds formats d as seconds with six decimals, "0.001012".
func seconds(d time.Duration) string { return string(appendSeconds(nil, d)) }

// appendSeconds appends d as seconds with six decimals, as tcpdump prints
// relative times.
func appendSeconds(b []byte, d time.Duration) []byte {
	if d < 0 {
		b = append(b, '-')
		d = -d
	}
	b = strconv.AppendInt(b, int64(d/time.Second), 10)
	us := int64(d%time.Second) / int64(time.Microsecond)
	b = append(b, '.')
	for div := int64(100000); div > 0; div /= 10 {
		b = append(b, byte('0'+us/div%10))
	}
	return b
}
