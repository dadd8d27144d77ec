package trace

import (
	"encoding/xml"
	"io"
	"strings"
	"testing"
)

// svgCounts parses an SVG document and counts its arrow groups by class.
func svgCounts(t *testing.T, doc string) map[string]int {
	t.Helper()
	counts := make(map[string]int)
	dec := xml.NewDecoder(strings.NewReader(doc))
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v", err)
		}
		el, ok := tok.(xml.StartElement)
		if !ok || el.Name.Local != "g" {
			continue
		}
		for _, a := range el.Attr {
			if a.Name.Local == "class" {
				for _, c := range strings.Fields(a.Value) {
					counts[c]++
				}
			}
		}
	}
	return counts
}

// The lost-SYN handshake as SVG: one arrow group per segment sent, the lost
// one crossed, the retransmission dashed, a state mark per change.
func TestWriteSVG(t *testing.T) {
	var b strings.Builder
	if err := WriteSVG(&b, lostSYN(), LadderOptions{Times: true}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	c := svgCounts(t, out)
	if c["seg"] != 5 || c["lost"] != 1 || c["rexmit"] != 1 || c["syn"] != 3 || c["state"] != 5 || c["note"] != 1 {
		t.Errorf("arrow and state groups: %v", c)
	}
	for _, want := range []string{
		"<title>IP 10.0.0.1.40000 &gt; 10.0.0.2.80: Flags [S], seq 0, win 0, length 0 (lost)</title>",
		">SYN,ACK seq 0 ack 1</text>", ">SYN seq 0 (retransmission)</text>", ">ESTABLISHED</text>",
		">0.002000</text>", `class="cross"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("SVG lacks %s", want)
		}
	}
	golden(t, "lost_syn.svg", out)
}

// Two connections share the rows: they are drawn side by side.
func TestWriteSVGSeveral(t *testing.T) {
	events := append(conversation(cli4, srv4), conversation(cli6, srv6)...)
	var b strings.Builder
	if err := WriteSVG(&b, events, LadderOptions{}); err != nil {
		t.Fatal(err)
	}
	if c := svgCounts(t, b.String()); c["seg"] != 18 {
		t.Errorf("%d arrows, want 18", c["seg"])
	}
	b.Reset()
	if err := WriteSVG(&b, events, LadderOptions{Conns: []Conn{{srv6, cli6}}}); err != nil {
		t.Fatal(err)
	}
	if c := svgCounts(t, b.String()); c["seg"] != 9 || strings.Contains(b.String(), "10.0.0.1") {
		t.Errorf("one connection chosen, drew %d arrows", c["seg"])
	}
	if err := WriteSVG(io.Discard, events, LadderOptions{Conns: []Conn{{cli4, cli6}}}); err == nil {
		t.Error("no error for a connection not in the events")
	}
}
