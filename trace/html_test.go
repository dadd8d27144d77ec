package trace

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestWriteHTMLSelfContained checks the page fetches nothing: no src or
// href attribute, no URL but the SVG namespace.
func TestWriteHTMLSelfContained(t *testing.T) {
	var b strings.Builder
	if err := WriteHTML(&b, lostSYN(), LadderOptions{Times: true}); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if m := regexp.MustCompile(`(?i)\b(src|href)\s*=`).FindString(page); m != "" {
		t.Errorf("page has a %s attribute", m)
	}
	for _, u := range regexp.MustCompile(`https?://[^"' ]*`).FindAllString(page, -1) {
		if u != "http://www.w3.org/2000/svg" {
			t.Errorf("page names a URL: %s", u)
		}
	}
	if n := strings.Count(page, `<g class="seg `); n != 5 {
		t.Errorf("%d arrows, want 5", n)
	}
	for _, want := range []string{`"fate":"lost on the link"`, `"fate":"arrived, retransmission"`, `"at":"0.002000 s"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page data lacks %s", want)
		}
	}
}

// chromium returns the path of a Chromium binary, or skips the test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium not in PATH; install it (apt-get install chromium) to check the HTML ladder in a browser")
	return ""
}

// runChromium runs headless Chromium with args on the page and returns its
// standard output.
func runChromium(t *testing.T, bin, page string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args = append([]string{"--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
		"--disable-dev-shm-usage", "--user-data-dir=" + t.TempDir()}, args...)
	cmd := exec.CommandContext(ctx, bin, append(args, "file://"+page)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.Bytes())
	}
	return out
}

// TestHTMLInChromium opens the HTML ladder of two connections in headless
// Chromium: after the page's script ran, every segment has its arrow, wired
// for the tooltip; and a screenshot is taken.
func TestHTMLInChromium(t *testing.T) {
	bin := chromium(t)
	events := append(lostSYN(), conversation(cli4, srv4)...)
	dir := t.TempDir()
	page := filepath.Join(dir, "ladder.html")
	f, err := os.Create(page)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteHTML(f, events, LadderOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	segments := 0
	for _, e := range events {
		if e.Kind == SegmentOut {
			segments++
		}
	}
	dom := string(runChromium(t, bin, page, "--dump-dom"))
	if !strings.Contains(dom, `data-ready="true"`) {
		t.Fatalf("the page's script did not run:\n%.2000s", dom)
	}
	if n := strings.Count(dom, `data-wired="1"`); n != segments {
		t.Errorf("%d arrows wired, want one per segment: %d", n, segments)
	}
	if !strings.Contains(dom, `data-arrows="`+strconv.Itoa(segments)+`"`) {
		t.Errorf("the script counted a different number of arrows than %d", segments)
	}
	if strings.Contains(dom, "<title>IP ") {
		t.Error("the script left the SVG titles in place")
	}
	shot := filepath.Join(t.TempDir(), "ladder.png")
	runChromium(t, bin, page, "--screenshot="+shot, "--window-size=1400,900", "--hide-scrollbars")
	st, err := os.Stat(shot)
	if err != nil || st.Size() < 1000 {
		t.Fatalf("no screenshot: %v", err)
	}
	t.Logf("screenshot %s (%d bytes)", shot, st.Size())
}
