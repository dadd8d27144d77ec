package main

import (
	"bytes"
	"encoding/xml"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/synack-go/synack/trace"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ (and the README's ladder)")

// golden compares got with the file at path, or rewrites it under -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./cmd/synack -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test ./cmd/synack -update rewrites it); got:\n%s", path, got)
	}
}

// TestDemoGolden plays every scenario and compares what `synack demo
// --scenario NAME --times` prints with testdata/demo/NAME.txt, so that a
// change in the stack's behaviour, or in when it acts, shows in review as a
// diff of ladders; without --times it must print the same lines, time
// stamps aside. The scenarios run side by side, each on its own
// simulation: a busy machine must not change a byte.
func TestDemoGolden(t *testing.T) {
	for _, sc := range demoScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			if err := runDemo([]string{"--scenario", sc.name, "--times"}, &out); err != nil {
				t.Fatalf("%v\n%s", err, out.Bytes())
			}
			golden(t, filepath.Join("testdata", "demo", sc.name+".txt"), out.Bytes())
			var plain bytes.Buffer
			if err := runDemo([]string{"--scenario", sc.name}, &plain); err != nil {
				t.Fatal(err)
			}
			if want := withoutTimes(out.Bytes()); !bytes.Equal(plain.Bytes(), want) {
				t.Errorf("without --times the demo prints:\n%s\nwant:\n%s", plain.Bytes(), want)
			}
		})
	}
}

// withoutTimes removes the time stamps --times puts before the trace's
// lines.
func withoutTimes(b []byte) []byte {
	var out []byte
	for line := range bytes.Lines(b) {
		if stamp, rest, ok := bytes.Cut(line, []byte(" ")); ok && isTimeStamp(stamp) {
			line = rest
		}
		out = append(out, line...)
	}
	return out
}

// isTimeStamp reports whether b is a time stamp of --times: "0.015000".
func isTimeStamp(b []byte) bool {
	sec, frac, ok := bytes.Cut(b, []byte("."))
	if !ok || len(sec) == 0 || len(frac) != 6 {
		return false
	}
	for _, c := range append(sec, frac...) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// The README's command, with no flags, tells the whole story.
func TestDemoDefault(t *testing.T) {
	var out bytes.Buffer
	if err := runDemo(nil, &out); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("testdata", "demo", "story.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), withoutTimes(want)) && !*update {
		t.Errorf("synack demo differs from --scenario story:\n%s", out.Bytes())
	}
}

func TestDemoList(t *testing.T) {
	var out bytes.Buffer
	if err := runDemo([]string{"--list"}, &out); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"handshake", "data-and-ack", "half-close", "four-way-close", "simultaneous-open",
		"simultaneous-close", "rst-abort", "rst-closed-port", "lost-syn", "lost-data", "zero-window", "backlog-full"} {
		if !strings.Contains(out.String(), "\n"+name+" ") {
			t.Errorf("--list lacks %s:\n%s", name, out.String())
		}
	}
	if err := runDemo([]string{"--scenario", "nope"}, io.Discard); err == nil || !strings.Contains(err.Error(), "lost-syn") {
		t.Errorf("unknown scenario: %v", err)
	}
}

// --svg, --html and --pcap write a picture with one arrow per segment, a
// page, and a capture.
func TestDemoFiles(t *testing.T) {
	dir := t.TempDir()
	svg, page, capture := filepath.Join(dir, "l.svg"), filepath.Join(dir, "l.html"), filepath.Join(dir, "l.pcap")
	var out bytes.Buffer
	if err := runDemo([]string{"--scenario", "lost-data", "--svg", svg, "--html", page, "--pcap", capture}, &out); err != nil {
		t.Fatal(err)
	}
	segments := strings.Count(out.String(), "] IP ")
	b, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(b, new(struct{})); err != nil {
		t.Errorf("SVG does not parse: %v", err)
	}
	if n := strings.Count(string(b), `<g class="seg `); n != segments {
		t.Errorf("SVG has %d arrows, the trace %d segments", n, segments)
	}
	if n := strings.Count(string(b), ` lost"`); n != 1 {
		t.Errorf("SVG has %d lost arrows, want 1", n)
	}
	if b, err = os.ReadFile(page); err != nil || !bytes.Contains(b, []byte("<!DOCTYPE html>")) {
		t.Errorf("no HTML page: %v", err)
	}
	if b, err = os.ReadFile(capture); err != nil || len(b) < 24+segments*40 {
		t.Errorf("capture of %d bytes: %v", len(b), err)
	}
}

// TestREADMELadder keeps the README's picture what the demo draws:
// docs/ladder-four-way-close.svg is what `synack demo --scenario
// four-way-close --svg FILE` writes, rewritten with -update.
func TestREADMELadder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "l.svg")
	if err := runDemo([]string{"--scenario", "four-way-close", "--svg", path}, io.Discard); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, filepath.Join("..", "..", "docs", "ladder-four-way-close.svg"), b)
}

// demoEvents plays a scenario and returns its events and, in pcap, the
// client's capture.
func demoEvents(t *testing.T, name string, pcap io.Writer) []trace.Event {
	t.Helper()
	for _, sc := range demoScenarios() {
		if sc.name == name {
			events, err := sc.run(io.Discard, demoOptions{pcap: pcap})
			if err != nil {
				t.Fatal(err)
			}
			return events
		}
	}
	t.Fatalf("no scenario %s", name)
	return nil
}

// TestREADMEPlot keeps the README's time-sequence graph what the command
// under it draws: docs/tsg-lossy-bulk.svg is what `synack demo --scenario
// lossy-bulk --plot FILE` writes, on virtual time, rewritten with -update.
func TestREADMEPlot(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.svg")
	if err := runDemo([]string{"--scenario", "lossy-bulk", "--plot", path}, io.Discard); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 64<<10 {
		t.Errorf("the graph is %d bytes: keep README images small", len(b))
	}
	golden(t, filepath.Join("..", "..", "docs", "tsg-lossy-bulk.svg"), b)
}

// TestDemoWording: what a student reads. A zero-window probe is named, not
// called a drop; the window update shows its window; a loss on the link is
// said in words; no parentheses nest; -S prints absolute numbers, as
// tcpdump -S.
func TestDemoWording(t *testing.T) {
	run := func(args ...string) string {
		var out bytes.Buffer
		if err := runDemo(args, &out); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	zw := run("--scenario", "zero-window")
	for _, want := range []string{": zero-window probe, answered with window 0\n", "(zero-window probe, answered with window 0) |", "ack 4073 win 32 (window update) -|"} {
		if !strings.Contains(zw, want) {
			t.Errorf("zero-window lacks %q", want)
		}
	}
	if strings.Contains(zw, "out-of-window") {
		t.Error("zero-window still calls its probes out-of-window drops")
	}
	if ld := run("--scenario", "lost-data"); !strings.Contains(ld, "[link] 10.0.0.1.48236 > 10.0.0.2.80: the link loses this segment\n") {
		t.Error("lost-data does not say the link lost a segment")
	}
	if so := run("--scenario", "simultaneous-open"); strings.Contains(so, "))") || !strings.Contains(so, "(rcvd SYN: simultaneous open)") {
		t.Error("simultaneous-open nests parentheses")
	}
	if hs := run("--scenario", "handshake"); !strings.HasPrefix(hs, "[server] 10.0.0.2.80: state CLOSED -> LISTEN (listen)\n") ||
		strings.Contains(hs, "10.0.0.1.48236: state CLOSED -> LISTEN") {
		t.Errorf("the listener's LISTEN is not the first line, under its own address:\n%s", hs)
	}
	if abs := run("--scenario", "handshake", "-S"); strings.Contains(abs, "Flags [S], seq 0,") {
		t.Error("-S prints the SYN's relative number")
	}
}
