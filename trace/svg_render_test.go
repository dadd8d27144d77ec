package trace

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// renderSVG renders an SVG file to PNG with rsvg-convert, or with
// ImageMagick when that is what is installed, and returns the picture; it
// skips the test when neither is.
func renderSVG(t *testing.T, svg string) image.Image {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out.png")
	var cmd *exec.Cmd
	if p, err := exec.LookPath("rsvg-convert"); err == nil {
		cmd = exec.Command(p, "-o", out, svg)
	} else {
		for _, name := range []string{"magick", "convert"} {
			p, err := exec.LookPath(name)
			if err != nil {
				continue
			}
			if v, _ := exec.Command(p, "-version").Output(); bytes.Contains(v, []byte("ImageMagick")) {
				cmd = exec.Command(p, svg, out)
				break
			}
		}
	}
	if cmd == nil {
		t.Skip("neither rsvg-convert nor ImageMagick in PATH; install librsvg2-bin to check how SVGs render outside a browser")
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", cmd.Args, err, b)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// near counts the pixels in r whose colour is within a small distance of
// hex ("#1b7f2a").
func near(img image.Image, r image.Rectangle, hex string) int {
	var want [3]int
	for i := range want {
		v := 0
		for _, c := range hex[1+2*i : 3+2*i] {
			v = v*16 + strings.IndexRune("0123456789abcdef", c)
		}
		want[i] = v
	}
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			d := abs(int(cr>>8)-want[0]) + abs(int(cg>>8)-want[1]) + abs(int(cb>>8)-want[2])
			if d < 60 {
				n++
			}
		}
	}
	return n
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// TestSVGRendersOutsideBrowsers renders a ladder with rsvg-convert (or
// ImageMagick) and checks its pixels: the SYN arrows are green, the lost
// one's cross red, states purple, and each arrow that arrived ends in a
// head, a patch of its colour wider than its line.
func TestSVGRendersOutsideBrowsers(t *testing.T) {
	events := lostSYN()
	path := filepath.Join(t.TempDir(), "ladder.svg")
	var b bytes.Buffer
	if err := WriteSVG(&b, events, LadderOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	img := renderSVG(t, path)
	all := img.Bounds()
	for _, c := range []struct{ what, hex string }{{"SYN green", colSYN}, {"cross red", colRST}, {"state purple", colState}} {
		if n := near(img, all, c.hex); n < 40 {
			t.Errorf("%s: %d pixels of %s, want a visible amount", c.what, n, c.hex)
		}
	}
	d, err := buildDiagram(events, &LadderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l := newSVGLayout(d, &LadderOptions{})
	heads := 0
	for i := range d.arrows {
		xs, ys, xe, ye, lost := l.arrowEnds(i)
		if lost {
			continue
		}
		line, _ := segColors(class(d.arrows[i].ev.Seg))
		// A 10x10 box at the tip and one as large on the middle of the line:
		// the head makes the tip's box hold far more of the colour.
		dir := 1
		if xe < xs {
			dir = -1
		}
		tip := image.Rect(xe-dir*10, ye-5, xe, ye+5).Canon()
		mx, my := (xs+xe)/2, (ys+ye)/2
		mid := image.Rect(mx-5, my-5, mx+5, my+5)
		nt, nm := near(img, tip, line), near(img, mid, line)
		if nt < 2*nm || nt < 20 {
			t.Errorf("arrow %d: %d pixels of %s at its tip, %d mid-line: no arrow head", i, nt, line, nm)
		} else {
			heads++
		}
	}
	if heads == 0 {
		t.Error("no arrow checked")
	}
}
