package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/synack-go/synack"
	"github.com/synack-go/synack/link/pcap"
	"github.com/synack-go/synack/link/pipe"
	"github.com/synack-go/synack/sim"
)

// lossyCapture moves size bytes from a server to a client, two synack
// stacks on a simulated 100 Mbit/s link with a 10 ms round trip that loses
// loss of the packets each way, captures the client's side of the link (as
// tcpdump on a downloading host would) and writes the capture to a file in
// dir. It runs on virtual time, so the capture is the same on every run,
// time stamps included. It returns the file's path.
func lossyCapture(tb testing.TB, dir string, size int, loss float64) string {
	tb.Helper()
	s := sim.New(sim.Config{Seed: 7})
	defer s.Close()
	var capture bytes.Buffer
	a, b := s.Pipe(pipe.Config{Loss: loss, Delay: 5 * time.Millisecond, RateBitsPerSec: 100e6})
	ca, err := pcap.Wrap(a, &capture, pcap.Config{Now: s.Now})
	if err != nil {
		tb.Fatal(err)
	}
	client, err := synack.NewStack(ca, synack.Options{Clock: s, Rand: s.Rand(), Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.1/24")}})
	if err != nil {
		tb.Fatal(err)
	}
	defer client.Close()
	server, err := synack.NewStack(b, synack.Options{Clock: s, Rand: s.Rand(), Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.2/24")}})
	if err != nil {
		tb.Fatal(err)
	}
	defer server.Close()
	ln, err := server.Listen("tcp", "10.0.0.2:80")
	if err != nil {
		tb.Fatal(err)
	}
	var sent error
	done := false
	s.Go(func() {
		defer func() { done = true }()
		c, err := ln.Accept()
		if err != nil {
			sent = err
			return
		}
		_, err = c.Write(make([]byte, size))
		sent = errors.Join(err, c.Close())
	})
	c, err := client.Dial("tcp", "10.0.0.2:80")
	if err != nil {
		tb.Fatal(err)
	}
	c.SetDeadline(s.Now().Add(10 * time.Minute))
	n, err := io.Copy(io.Discard, c)
	if err != nil || n != int64(size) {
		tb.Fatalf("moved %d of %d bytes: %v", n, size, err)
	}
	if err := s.Wait(func() bool { return done }, s.Now().Add(time.Minute)); err != nil {
		tb.Fatal(err)
	}
	if sent != nil {
		tb.Fatal(sent)
	}
	c.Close()
	if err := s.RunFor(time.Second); err != nil { // the last FIN and ACK cross the link
		tb.Fatal(err)
	}
	path := filepath.Join(dir, "lossy.pcap")
	if err := os.WriteFile(path, capture.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

// TestTraceLongCapture: a capture of a few thousand segments gets a
// summary and graphs by default, not a ladder; --conn with --from and --to
// draws the ladder of that window, capped.
func TestTraceLongCapture(t *testing.T) {
	dir := t.TempDir()
	path := lossyCapture(t, dir, 4<<20, 0.01)
	plot, page := filepath.Join(dir, "p.svg"), filepath.Join(dir, "p.html")
	var out, errw bytes.Buffer
	if err := runTrace([]string{path, "--plot", plot, "--html", page}, &out, &errw); err != nil {
		t.Fatalf("%v\n%s", err, errw.Bytes())
	}
	t.Logf("synack trace:\n%s", out.Bytes())
	for _, want := range []string{"connection 1: 10.0.0.1:", "goodput", "rtt          min", "ended        closed (FIN both ways)", "too many for a ladder"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(out.String(), "|- ") {
		t.Error("a ladder was drawn for a long capture")
	}
	svg, err := os.ReadFile(plot)
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(svg, new(struct{})); err != nil {
		t.Errorf("plot does not parse: %v", err)
	}
	for _, want := range []string{"time-sequence graph", "goodput", "round-trip time", `stroke="#c62828"`} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("plot lacks %s (retransmissions are red)", want)
		}
	}
	if len(svg) > 200<<10 {
		t.Errorf("plot is %d bytes: it should not grow with the segments", len(svg))
	}
	// A narrow window: the ladder of its segments.
	out.Reset()
	if err := runTrace([]string{path, "--conn", "80", "--from", "0", "--to", "0.0005"}, &out, &errw); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "|- SYN seq 0") {
		t.Errorf("no ladder for the first half millisecond:\n%s", out.String())
	}
	out.Reset()
	if err := runTrace([]string{path, "--conn", "80", "--from", "0.0001"}, &out, &errw); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "the ladder stops after the first 500 of") {
		t.Errorf("the ladder was not capped:\n%.3000s", out.String())
	}
	if err := runTrace([]string{path, "--from", "2", "--to", "1"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "not a time range") {
		t.Errorf("--from 2 --to 1: %v", err)
	}
}

// TestGraphPageInChromium opens the graph page of a lossy transfer in
// headless Chromium: the page's own wheel handler zooms in (the #test-zoom
// hook sends five notches of the wheel, then more until the visible range
// is small enough for a ladder); the visible range must have narrowed inside
// the first, at least by the five notches, and the ladder must be drawn.
func TestGraphPageInChromium(t *testing.T) {
	bin := findChromium(t)
	dir := t.TempDir()
	path := lossyCapture(t, dir, 2<<20, 0.01)
	page := filepath.Join(dir, "g.html")
	if err := runTrace([]string{path, "--html", page}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--no-first-run", "--disable-dev-shm-usage", "--window-size=1400,1000", "--user-data-dir="+t.TempDir(),
		"--dump-dom", "file://"+page+"#test-zoom")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	dom, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.Bytes())
	}
	attr := func(name string) string {
		i := bytes.Index(dom, []byte(name+`="`))
		if i < 0 {
			return ""
		}
		rest := dom[i+len(name)+2:]
		return string(rest[:bytes.IndexByte(rest, '"')])
	}
	if attr("data-ready") != "true" {
		t.Fatalf("the page's script did not run:\n%.2000s", dom)
	}
	span := func(v string) (float64, float64) {
		a, b, _ := strings.Cut(v, ",")
		x, _ := strconv.ParseFloat(a, 64)
		y, _ := strconv.ParseFloat(b, 64)
		return x, y
	}
	b0, b1 := span(attr("data-view-before"))
	a0, a1 := span(attr("data-view-after"))
	t.Logf("visible range before %v..%v µs, after zooming %v..%v µs", b0, b1, a0, a1)
	if !(a1-a0 < (b1-b0)/2.5 && a0 >= b0 && a1 <= b1) { // five notches of 1.25 at least
		t.Errorf("zooming did not narrow the visible range: %v..%v, then %v..%v", b0, b1, a0, a1)
	}
	if n, _ := strconv.Atoi(attr("data-arrows")); n == 0 {
		t.Error("no ladder of the zoomed range")
	}
}

// findChromium returns a Chromium binary, or skips the test.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium not in PATH; install it (apt-get install chromium) to check the graph page in a browser")
	return ""
}

// BenchmarkTraceBigCapture reads a capture of about 55,000 packets (a
// 48 MiB transfer over a simulated link that loses 1% each way, made
// first) and writes its summary, --plot and --html, as `synack trace FILE
// --plot FILE.svg --html FILE` does. It fails if one run takes more than 5 s or
// the page is larger than 5 MB: what a long capture must cost.
func BenchmarkTraceBigCapture(b *testing.B) {
	dir := b.TempDir()
	path := lossyCapture(b, dir, 48<<20, 0.01)
	var packets int
	if f, err := os.Open(path); err == nil {
		r, _ := pcap.NewReader(f)
		for {
			if _, err := r.Next(); err != nil {
				break
			}
			packets++
		}
		f.Close()
	}
	page, plot := filepath.Join(dir, "big.html"), filepath.Join(dir, "big.svg")
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		if err := runTrace([]string{path, "--plot", plot, "--html", page}, io.Discard, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	per := time.Since(start) / time.Duration(b.N)
	st, err := os.Stat(page)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(packets), "packets")
	b.ReportMetric(float64(st.Size()), "html-bytes")
	b.Logf("%d packets: %v per run, HTML page %d bytes", packets, per, st.Size())
	if per > 5*time.Second {
		b.Errorf("%v per run for %d packets: want at most 5 s", per, packets)
	}
	if st.Size() > 5e6 {
		b.Errorf("HTML page of %d bytes: want at most 5 MB", st.Size())
	}
}
