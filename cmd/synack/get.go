package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// getUsage is the help text of `synack get`.
const getUsage = `usage: synack get URL --tun NAME --addr PREFIX --host-addr PREFIX [-o FILE] [flags]

Creates the TUN device NAME (or attaches to it), gives the kernel's side of
it the --host-addr addresses, brings it up, and fetches URL with net/http
over a synack connection from --addr. The URL's host must be an IP address
reachable through the device (usually a --host-addr). The body goes to FILE
(default stdout); a progress bar (on a terminal) and a summary go to stderr.

Example (as root, with a server on the kernel's side):
  synack get http://10.77.0.1:8080/big.bin -o big.bin --tun syn0 \
      --addr 10.77.0.2/24 --host-addr 10.77.0.1/24

flags:
`

// runGet is `synack get`; SIGINT or SIGTERM abandons the transfer.
func runGet(args []string, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return get(ctx, args, stdout, stderr)
}

// get runs `synack get` with args: the body goes to -o or stdout, the
// progress bar and the summary to stderr.
func get(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f tunFlags
	fs := flag.NewFlagSet("get", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, getUsage); fs.PrintDefaults() }
	f.register(fs)
	out := fs.String("o", "-", "write the body to `FILE` (- is stdout)")
	timeout := fs.Duration("timeout", 0, "give up after this long (0: never)")
	pos, err := parseArgs(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New("get: want exactly one URL")
	}
	u, err := url.Parse(pos[0])
	if err != nil || (u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("get: %q is not an http:// URL", pos[0])
	}
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}

	st, err := openTunStack(&f, "get")
	if err != nil {
		return fmt.Errorf("get: %w", err)
	}
	defer st.Close()
	client := &http.Client{Transport: &http.Transport{
		DialContext:       st.DialContext,
		DisableKeepAlives: true,
		Proxy:             nil, // the URL is reached through the device, never a proxy
	}}

	w := stdout
	if *out != "-" {
		file, err := os.Create(*out)
		if err != nil {
			return fmt.Errorf("get: %w", err)
		}
		defer file.Close()
		w = file
	}

	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("get: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("get: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("get: %s: %s", u, resp.Status)
	}
	cw := &countWriter{w: w}
	var bar *progressBar
	if isTerminal(stderr) {
		bar = startProgress(stderr, &cw.n, resp.ContentLength, start)
	}
	_, err = io.Copy(cw, resp.Body)
	bar.stop()
	elapsed := time.Since(start)
	if err == nil && resp.ContentLength >= 0 && int64(cw.n.Load()) != resp.ContentLength {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return fmt.Errorf("get: after %d bytes: %w", cw.n.Load(), err)
	}
	if *out != "-" {
		if err := w.(*os.File).Close(); err != nil {
			return fmt.Errorf("get: %w", err)
		}
	}
	n := cw.n.Load()
	fmt.Fprintf(stderr, "%d bytes in %.3f s (%s), %d retransmissions\n",
		n, elapsed.Seconds(), byteRate(n, elapsed), st.Stats().Retransmits)
	return nil
}

// countWriter counts the bytes written through it, for the progress bar.
type countWriter struct {
	w io.Writer
	n atomic.Uint64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n.Add(uint64(n))
	return n, err
}

// progressBar redraws one terminal line with the transfer's progress.
type progressBar struct {
	done, exited chan struct{}
}

// progressEvery is the bar's redraw period.
const progressEvery = 200 * time.Millisecond

// startProgress draws a bar for n out of total bytes (total < 0: unknown)
// on w every 200 ms until stop.
func startProgress(w io.Writer, n *atomic.Uint64, total int64, start time.Time) *progressBar {
	p := &progressBar{done: make(chan struct{}), exited: make(chan struct{})}
	go func() {
		defer close(p.exited)
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				fmt.Fprint(w, "\r\033[K") // erase the bar
				return
			case <-t.C:
				fmt.Fprint(w, "\r"+progressLine(n.Load(), total, time.Since(start))+"\033[K")
			}
		}
	}()
	return p
}

// stop erases the bar; a nil bar does nothing.
func (p *progressBar) stop() {
	if p == nil {
		return
	}
	close(p.done)
	<-p.exited
}

// progressBarWidth is the number of cells of the bar.
const progressBarWidth = 30

// progressLine renders the bar: cells filled in proportion (when the total
// is known), the bytes so far, and the average rate.
func progressLine(n uint64, total int64, elapsed time.Duration) string {
	rate := byteRate(n, elapsed)
	if total <= 0 {
		return fmt.Sprintf("%s  %s", size(n), rate)
	}
	frac := min(float64(n)/float64(total), 1)
	full := int(frac * progressBarWidth)
	bar := strings.Repeat("=", full)
	if full < progressBarWidth {
		bar += ">" + strings.Repeat(" ", progressBarWidth-full-1)
	}
	return fmt.Sprintf("[%s] %3.0f%%  %s / %s  %s", bar, frac*100, size(n), size(uint64(total)), rate)
}
