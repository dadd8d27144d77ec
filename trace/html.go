package trace

import (
	"bufio"
	_ "embed"
	"encoding/json"
	"io"
	"strings"

	"github.com/synack-go/synack/wire"
)

//go:embed html_ladder.css
var htmlCSS string

//go:embed html_ladder.js
var htmlJS string

// WriteHTML writes one self-contained HTML page (inline CSS and script, no
// network fetch) that shows the SVG ladder of WriteSVG and makes it
// explorable: hovering an arrow shows the whole segment (its tcpdump line,
// endpoints, flags, relative and absolute numbers, length, window, options
// and whether it was lost or retransmitted), and buttons, a slider or the
// arrow keys step through the rows in time order, dimming what has not
// happened yet. WriteHTML returns an error when events hold no connection
// that opts selects, or the writer's error.
func WriteHTML(w io.Writer, events []Event, opts LadderOptions) error {
	d, err := buildDiagram(events, &opts)
	if err != nil {
		return err
	}
	page, err := json.Marshal(d.pageData(&opts))
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	title := esc(d.title(&opts))
	bw.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" + title + "</title>\n")
	bw.WriteString("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	bw.WriteString("<style>\n" + htmlCSS + "</style>\n</head>\n<body>\n<header>\n<h1>" + title + "</h1>\n")
	bw.WriteString(`<button id="first" title="first step (Home)">|&lt;</button> <button id="prev" title="previous step (&#8592;)">&lt; step</button> ` +
		`<button id="next" title="next step (&#8594;)">step &gt;</button> <button id="last" title="last step (End)">&gt;|</button> ` +
		`<button id="play" title="play (space)">play</button> <input type="range" id="slider" min="0" value="0" aria-label="step"> <span id="status"></span>` + "\n")
	bw.WriteString("<div id=\"info\"></div>\n</header>\n<main>\n")
	d.svg(bw, &opts)
	bw.WriteString("</main>\n<div id=\"tip\" hidden></div>\n")
	// encoding/json escapes <, > and &, so the data cannot end the script.
	bw.WriteString("<script type=\"application/json\" id=\"ladder-data\">")
	bw.Write(page)
	bw.WriteString("</script>\n<script>\n" + htmlJS + "</script>\n</body>\n</html>\n")
	return bw.Flush()
}

// htmlPage is the data the page's script reads.
type htmlPage struct {
	Rows []htmlRow `json:"rows"`
	Segs []htmlSeg `json:"segs"`
}

// htmlRow describes one row, for the line under the buttons.
type htmlRow struct {
	Text string `json:"text"`
}

// htmlSeg is everything the tooltip shows about one segment.
type htmlSeg struct {
	Line    string `json:"line"`
	From    string `json:"from"`
	To      string `json:"to"`
	Stack   string `json:"stack,omitempty"`
	At      string `json:"at,omitempty"`
	Flags   string `json:"flags"`
	Seq     uint32 `json:"seq"`
	AbsSeq  uint32 `json:"absSeq"`
	HasAck  bool   `json:"hasAck"`
	Ack     uint32 `json:"ack"`
	AbsAck  uint32 `json:"absAck"`
	Len     int    `json:"len"`
	Win     uint16 `json:"win"`
	Options string `json:"options,omitempty"`
	Fate    string `json:"fate"`
}

// pageData collects what the page's script needs.
func (d *diagram) pageData(opts *LadderOptions) *htmlPage {
	p := &htmlPage{Rows: make([]htmlRow, len(d.rows)), Segs: make([]htmlSeg, len(d.arrows))}
	for i := range d.arrows {
		a := &d.arrows[i]
		s := a.ev.Seg
		from, to := a.ev.Local, a.ev.Remote
		if a.ev.Kind == SegmentIn {
			from, to = to, from
		}
		fate := "arrived"
		switch {
		case a.arrive < 0:
			fate = "lost on the link"
		case a.arrive == a.send:
			fate = "received (its sending was not traced)"
		}
		if a.retrans {
			fate += ", retransmission"
		}
		opt := strings.TrimSuffix(strings.TrimPrefix(string(appendOptions(nil, &s.Options, uint32(s.Ack)-a.ack)), ", options ["), "]")
		hs := htmlSeg{
			Line: a.tcpdump(), From: from.String(), To: to.String(), Stack: a.ev.Stack,
			Flags: "[" + s.Flags.String() + "] " + string(appendFlagNames(nil, s.Flags)),
			Seq:   a.seq, AbsSeq: uint32(s.Seq), HasAck: s.Flags&wire.ACK != 0, Ack: a.ack, AbsAck: uint32(s.Ack),
			Len: len(s.Payload), Win: s.Window, Options: opt, Fate: fate,
		}
		if opts.Times {
			hs.At = seconds(a.ev.At-d.start) + " s"
		}
		p.Segs[i] = hs
	}
	for i := range d.rows {
		r := &d.rows[i]
		c := d.conns[r.lane]
		who := func(left bool) string {
			ep := c.Right
			if left {
				ep = c.Left
			}
			if r.ev.Stack != "" && r.ev.Local == ep {
				return r.ev.Stack + " " + ep.String()
			}
			return ep.String()
		}
		var text string
		switch r.kind {
		case rowSend:
			a := &d.arrows[r.arrow]
			text = who(a.fromLeft) + " sends " + a.label()
			if a.arrive < 0 {
				text += " (lost)"
			}
		case rowArrive:
			text = who(r.left) + " receives " + d.arrows[r.arrow].label()
		case rowState:
			text = who(r.left) + " enters " + r.ev.To
			if r.ev.Why != "" {
				text += " (" + flatWhy(r.ev.Why) + ")"
			}
		case rowNote:
			text = who(r.left) + ": " + r.note()
		}
		if opts.Times && !r.hoisted {
			text = seconds(r.ev.At-d.start) + "  " + text
		}
		p.Rows[i] = htmlRow{Text: text}
	}
	return p
}
