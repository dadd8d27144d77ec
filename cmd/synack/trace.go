package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/synack-go/synack/link/pcap"
	"github.com/synack-go/synack/trace"
)

const traceUsage = `usage: synack trace FILE [--conn CONN] [--text] [--absolute] [--svg FILE] [--html FILE]

Reads a capture (pcap in either byte order, microsecond or nanosecond, or
pcapng; Ethernet with VLAN tags, raw IP, Linux cooked v1 and v2, or BSD
loopback framing), rebuilds each TCP connection, infers both ends' states
from the segments, and draws each connection as a ladder diagram. CONN
chooses connections: "ip:port-ip:port", one endpoint "ip:port", or a port.
`

// runTrace is `synack trace`: it prints the capture's connections and
// their ladders to w, warnings to errw.
func runTrace(args []string, w, errw io.Writer) error {
	fs := flag.NewFlagSet("trace", flag.ContinueOnError)
	fs.SetOutput(errw)
	fs.Usage = func() { fmt.Fprint(errw, traceUsage, "\nflags:\n"); fs.PrintDefaults() }
	connArg := fs.String("conn", "", "draw only the connections `CONN` names (ip:port-ip:port, ip:port, or port)")
	text := fs.Bool("text", false, "also print every segment in tcpdump's format, with both ends' inferred states")
	absolute := fs.Bool("absolute", false, "print absolute sequence numbers (tcpdump -S)")
	svgOut := fs.String("svg", "", "draw the ladders as SVG into `FILE`")
	htmlOut := fs.String("html", "", "draw the ladders as one self-contained HTML page into `FILE`")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return errors.New("trace: want one capture file")
	}
	file := pos[0]
	events, summary, err := readCapture(file, errw)
	if err != nil {
		return err
	}
	conns := trace.Conns(events)
	if *connArg != "" {
		if conns, err = chooseConns(conns, *connArg); err != nil {
			return err
		}
	}
	if len(conns) == 0 {
		return fmt.Errorf("trace: %s: no TCP connection to draw (%s)", file, summary)
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# %s: %s\n", file, summary)
	for i, c := range conns {
		fmt.Fprintf(bw, "# connection %d: %v\n", i+1, c)
	}
	chosen := events
	if *connArg != "" {
		chosen = nil
		for _, e := range events {
			for _, c := range conns {
				if c.Has(&e) {
					chosen = append(chosen, e)
					break
				}
			}
		}
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
	opts := trace.LadderOptions{Conns: conns, Absolute: *absolute, Times: true, Title: file}
	fmt.Fprintln(bw)
	if err := trace.WriteLadder(bw, events, opts); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if *svgOut != "" {
		if err := writeFile(*svgOut, func(w io.Writer) error { return trace.WriteSVG(w, events, opts) }); err != nil {
			return err
		}
	}
	if *htmlOut != "" {
		return writeFile(*htmlOut, func(w io.Writer) error { return trace.WriteHTML(w, events, opts) })
	}
	return nil
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
	match := func(trace.Conn) bool { return false }
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
