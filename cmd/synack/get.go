package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/synack-go/synack/trace"
	"github.com/synack-go/synack/wire"
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
	fs := newFlagSet("get", getUsage, stdout)
	f.register(fs.FlagSet)
	out := fs.String("o", "-", "write the body to `FILE` (- is stdout)")
	timeout := fs.Duration("timeout", 0, "give up after this long (0: never)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError(fs, "get: want exactly one URL, such as http://10.77.0.1:8080/big.bin")
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

	var seen arrivals
	st, err := openTunStack(&f, "get", trace.Multi(f.recorder(), trace.Func(seen.trace)))
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
	if *out == "-" && isTerminal(stdout) {
		return usageError(fs, "get: the body would go to the terminal; write it to a file with -o FILE (or -o - | ... to pipe it)")
	}
	if *out != "-" {
		file, err := os.Create(*out)
		if err != nil {
			return fmt.Errorf("get: %w", err)
		}
		defer file.Close()
		w = file
	}

	start := time.Now()
	if isTerminal(stderr) {
		fmt.Fprintf(stderr, "connecting to %s from %v (--timeout bounds the wait)...\r", u.Host, f.addrs.String())
	}
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
	fmt.Fprintf(stderr, "%d bytes in %.3f s (%s); %s; %s\n", n, elapsed.Seconds(), byteRate(n, elapsed),
		seen.String(st.Stats().Retransmits), st.linkNote())
	return f.writePlot("synack get " + u.String())
}

// arrivals counts what the receiving side of a transfer can see of the
// peer's losses and retransmissions: data segments that arrive wholly
// below the highest byte already received (duplicates: a retransmission
// of what had arrived) and segments that arrive above a hole (out of
// order: something before them was lost or reordered). DSACKs sent (RFC
// 2883) belong here too once the stack sends them (issue 12): a DSACK
// tells the peer that its retransmission was spurious.
type arrivals struct {
	mu              sync.Mutex
	high            map[netip.AddrPort]wire.Seq // per peer: highest byte received + 1
	dup, outOfOrder uint64
}

func (a *arrivals) trace(e *trace.Event) {
	if e.Kind != trace.SegmentIn || e.Seg == nil || len(e.Seg.Payload) == 0 {
		if e.Kind == trace.SegmentIn && e.Seg != nil && e.Seg.Flags&wire.SYN != 0 {
			a.mu.Lock()
			if a.high == nil {
				a.high = make(map[netip.AddrPort]wire.Seq)
			}
			a.high[e.Remote] = e.Seg.Seq.Add(1)
			a.mu.Unlock()
		}
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	high, ok := a.high[e.Remote]
	if !ok {
		return
	}
	end := e.Seg.Seq.Add(uint32(len(e.Seg.Payload)))
	switch {
	case end.LessEq(high):
		a.dup++
	case e.Seg.Seq.Greater(high):
		a.outOfOrder++
	}
	if end.Greater(high) {
		a.high[e.Remote] = end
	}
}

// String says what was seen, with the retransmissions synack itself sent.
func (a *arrivals) String(ours uint64) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return fmt.Sprintf("received %d duplicate and %d out-of-order segments (the peer's losses and retransmissions as seen here); sent %d %s",
		a.dup, a.outOfOrder, ours, plural(ours, "retransmission"))
}

// plural returns word, with an s unless n is 1.
func plural(n uint64, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
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
