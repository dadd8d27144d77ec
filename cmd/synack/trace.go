package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/synack-go/synack/link/pcap"
	"github.com/synack-go/synack/trace"
)

// ladderCap is the most segments `synack trace` draws as a ladder: the
// right picture for tens of segments, not for thousands.
const ladderCap = 500

const traceUsage = `usage: synack trace FILE [--conn CONN] [--from SEC] [--to SEC] [--text] [-S]
                    [--plot FILE.svg] [--html FILE] [--svg FILE]

Reads a capture (pcap in either byte order, microsecond or nanosecond, or
pcapng; Ethernet with VLAN tags, raw IP, Linux cooked v1 and v2, or BSD
loopback framing), rebuilds each TCP connection and infers both ends'
states from the segments. It prints a summary of each connection
(duration, bytes each way, goodput, retransmissions, RTT, states, how it
ended); --plot draws its time-sequence graph, goodput, RTT and bytes in
flight as SVG, and --html writes a page with the summary and those graphs,
zoomable, and the ladder of the range in view.

The ladder diagram (text, and --svg) is drawn for a capture of at most 500
segments, or for the connections --conn chooses ("ip:port-ip:port", one
endpoint "ip:port", or a port) between --from and --to (seconds from the
capture's first packet); it stops after 500 segments and says so.
`

// runTrace is `synack trace`: it prints the capture's connections, their
// summaries and (for a small or narrowed capture) their ladders to w,
// warnings to errw.
func runTrace(args []string, w, errw io.Writer) error {
	fs := newFlagSet("trace", traceUsage, w)
	connArg := fs.String("conn", "", "only the connections `CONN` names (ip:port-ip:port, ip:port, or port)")
	from := fs.Float64("from", 0, "start the ladder and graphs `SEC` seconds after the first packet")
	to := fs.Float64("to", 0, "end the ladder and graphs `SEC` seconds after the first packet (0: the end)")
	text := fs.Bool("text", false, "also print every segment in tcpdump's format, with both ends' inferred states")
	absolute := fs.Bool("S", false, "print absolute sequence numbers, as tcpdump -S")
	fs.BoolVar(absolute, "absolute", false, "the same as -S")
	svgOut := fs.String("svg", "", "draw the ladder as SVG into `FILE`")
	htmlOut := fs.String("html", "", "write the summary and zoomable graphs as one self-contained HTML page into `FILE`")
	plotOut := fs.String("plot", "", "draw the time-sequence graph, goodput, RTT and bytes in flight as SVG into `FILE`")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError(fs, "trace: want one capture file, such as synack trace capture.pcap")
	}
	if *from < 0 || *to < 0 || *to != 0 && *to <= *from {
		return usageError(fs, fmt.Sprintf("trace: --from %g --to %g is not a time range; both are seconds from the first packet, --to after --from", *from, *to))
	}
	file := pos[0]
	events, summary, err := readCapture(file, errw)
	if err != nil {
		return err
	}
	conns := trace.Conns(events)
	narrowed := *connArg != "" || *from > 0 || *to > 0
	if *connArg != "" {
		if conns, err = chooseConns(conns, *connArg); err != nil {
			return err
		}
	}
	if len(conns) == 0 {
		return fmt.Errorf("trace: %s: no TCP connection to draw (%s)", file, summary)
	}
	fromD, toD := seconds(*from), seconds(*to)
	chosen := events
	if narrowed {
		chosen = nil
		for _, e := range events {
			if e.At < fromD || toD > 0 && e.At > toD {
				continue
			}
			for _, c := range conns {
				if c.Has(&e) {
					chosen = append(chosen, e)
					break
				}
			}
		}
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# %s: %s, %d connections\n\n", file, summary, len(conns))
	if err := trace.WriteSummaries(bw, trace.Summarize(events, conns...)); err != nil {
		return err
	}
	if *text {
		fmt.Fprintln(bw)
		tx := trace.NewText(bw, trace.TextOptions{Absolute: *absolute, Segments: trace.OutSegments})
		for i := range chosen {
			tx.Trace(&chosen[i])
		}
		if err := tx.Err(); err != nil {
			return err
		}
	}
	segments := 0
	for i := range chosen {
		if chosen[i].Kind == trace.SegmentOut {
			segments++
		}
	}
	opts := trace.LadderOptions{Conns: conns, Absolute: *absolute, Times: true, Title: file}
	ladder := chosen
	switch {
	case segments == 0:
		ladder = nil
		fmt.Fprintf(bw, "\n# no segment between --from and --to: no ladder\n")
	case !narrowed && segments > ladderCap:
		ladder = nil
		fmt.Fprintf(bw, "\n# %d segments: too many for a ladder; choose a connection and a time window with --conn, --from and --to (at most %d segments), or see the graphs (--html, --plot)\n", segments, ladderCap)
	case segments > ladderCap:
		ladder = capSegments(chosen, ladderCap)
		fmt.Fprintf(bw, "\n# the ladder stops after the first %d of %d segments in the window: narrow it with --from and --to\n", ladderCap, segments)
	}
	if ladder != nil {
		fmt.Fprintln(bw)
		if err := trace.WriteLadder(bw, ladder, opts); err != nil {
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if *svgOut != "" {
		if ladder == nil {
			return fmt.Errorf("trace: --svg %s: no ladder to draw (see above)", *svgOut)
		}
		if err := writeFile(*svgOut, func(w io.Writer) error { return trace.WriteSVG(w, ladder, opts) }); err != nil {
			return err
		}
	}
	popts := trace.PlotOptions{Conns: conns, From: fromD, To: toD, Title: file}
	if *plotOut != "" {
		if err := writeFile(*plotOut, func(w io.Writer) error { return trace.WritePlot(w, events, popts) }); err != nil {
			return err
		}
	}
	if *htmlOut != "" {
		return writeFile(*htmlOut, func(w io.Writer) error { return trace.WriteGraphHTML(w, events, popts) })
	}
	return nil
}

// seconds converts a flag's seconds to a duration.
func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// capSegments returns the events up to the one before the (limit+1)th
// SegmentOut.
func capSegments(events []trace.Event, limit int) []trace.Event {
	n := 0
	for i := range events {
		if events[i].Kind == trace.SegmentOut {
			if n++; n > limit {
				return events[:i]
			}
		}
	}
	return events
}

// readCapture reads a capture file and returns the events of its TCP
// segments and a summary of what it held. A file cut short inside a record
// is read up to there, with a warning to errw; any other error in it is
// returned.
func readCapture(path string, errw io.Writer) ([]trace.Event, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	r, err := pcap.NewReader(f)
	if err != nil {
		return nil, "", fmt.Errorf("trace: %s: %w", path, err)
	}
	var c trace.Capture
	var packets, notIP, notTCP, bad int
	for {
		p, err := r.Next()
		if err == io.EOF {
			break
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			fmt.Fprintf(errw, "synack: warning: %s: %v; using the %d packets before it\n", path, err, packets)
			break
		}
		if err != nil {
			return nil, "", fmt.Errorf("trace: %s: %w", path, err)
		}
		packets++
		ip, err := pcap.IP(p.LinkType, p.Data)
		if err != nil {
			if errors.Is(err, pcap.ErrLinkType) {
				return nil, "", fmt.Errorf("trace: %s: packet %d: %w", path, packets, err)
			}
			notIP++
			continue
		}
		switch err := c.Add(p.Time, ip, p.OrigLen-(len(p.Data)-len(ip))); {
		case errors.Is(err, trace.ErrNotTCP):
			notTCP++
		case err != nil:
			bad++
		}
	}
	summary := fmt.Sprintf("%d packets, %d TCP segments", packets, c.Len())
	var skipped []string
	for _, s := range []struct {
		n    int
		what string
	}{{notIP, "not IP"}, {notTCP, "not TCP"}, {bad, "malformed"}} {
		if s.n > 0 {
			skipped = append(skipped, strconv.Itoa(s.n)+" "+s.what)
		}
	}
	if len(skipped) > 0 {
		summary += " (skipped: " + strings.Join(skipped, ", ") + ")"
	}
	return c.Events(), summary, nil
}

// chooseConns keeps the connections arg names: both endpoints, one
// endpoint, or a port of either end.
func chooseConns(conns []trace.Conn, arg string) ([]trace.Conn, error) {
	var match func(trace.Conn) bool
	if c, err := trace.ParseConn(arg); err == nil {
		match = c.Same
	} else if ep, err := netip.ParseAddrPort(arg); err == nil {
		match = func(c trace.Conn) bool { return c.Left == ep || c.Right == ep }
	} else if port, err := strconv.ParseUint(strings.TrimPrefix(arg, ":"), 10, 16); err == nil {
		match = func(c trace.Conn) bool { return c.Left.Port() == uint16(port) || c.Right.Port() == uint16(port) }
	} else {
		return nil, fmt.Errorf("trace: --conn %q: want ip:port-ip:port, ip:port or a port", arg)
	}
	var out []trace.Conn
	for _, c := range conns {
		if match(c) {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("trace: no connection matches --conn %s", arg)
	}
	return out, nil
}
