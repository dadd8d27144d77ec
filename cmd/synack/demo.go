package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/synack-go/synack/trace"
)

const demoUsage = `usage: synack demo [--scenario NAME] [--svg FILE] [--html FILE] [--pcap FILE] [--plot FILE.svg] [--times] [-S]
       synack demo --list

Plays one scenario on two synack stacks joined by an in-memory link (5 ms
each way) and prints every segment (in tcpdump's format, sequence numbers
relative to each side's ISN) and every state change, timer and drop of both,
then the connection's ladder diagram. The stacks and the link run on virtual
time (package sim), so the output, times included, is the same on every run.
`

// runDemo plays the scenario the flags choose (the whole story by default)
// and prints its trace and ladder to w.
func runDemo(args []string, w io.Writer) error {
	fs := newFlagSet("demo", demoUsage, w)
	list := fs.Bool("list", false, "list the scenarios and exit")
	name := fs.String("scenario", "story", "the scenario to play (see --list)")
	svgOut := fs.String("svg", "", "also draw the ladder as SVG into `FILE`")
	htmlOut := fs.String("html", "", "also draw the ladder as one self-contained HTML page into `FILE`")
	pcapOut := fs.String("pcap", "", "capture the client's packets into the pcap `FILE`")
	plotOut := fs.String("plot", "", "draw the time-sequence graph, goodput, RTT and congestion window as SVG into `FILE`")
	absolute := fs.Bool("S", false, "print absolute sequence numbers, as tcpdump -S")
	times := fs.Bool("times", false, "print each event's virtual time, in seconds since the scenario began")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError(fs, fmt.Sprintf("demo: unexpected argument %q", pos[0]))
	}
	all := demoScenarios()
	if *list {
		for _, s := range all {
			fmt.Fprintf(w, "%-19s %s\n", s.name, s.about)
		}
		return nil
	}
	var sc *scenario
	for i := range all {
		if all[i].name == *name {
			sc = &all[i]
		}
	}
	if sc == nil {
		return fmt.Errorf("demo: no scenario %q; synack demo --list shows them: %s", *name, scenarioNames())
	}
	o := demoOptions{times: *times, absolute: *absolute}
	var pf *os.File
	var pbuf *bufio.Writer
	if *pcapOut != "" {
		f, err := os.Create(*pcapOut)
		if err != nil {
			return err
		}
		defer f.Close()
		pf, pbuf = f, bufio.NewWriter(f)
		o.pcap = pbuf
	}
	bw := bufio.NewWriter(w)
	events, err := sc.run(bw, o)
	if err == nil {
		fmt.Fprintln(bw)
		err = trace.WriteLadder(bw, events, trace.LadderOptions{Absolute: *absolute})
	}
	err = errors.Join(err, bw.Flush())
	if pf != nil {
		err = errors.Join(err, pbuf.Flush(), pf.Close())
	}
	if err != nil {
		return err
	}
	title := "synack demo --scenario " + sc.name
	if *svgOut != "" {
		if err := writeFile(*svgOut, func(w io.Writer) error {
			return trace.WriteSVG(w, events, trace.LadderOptions{Title: title, Times: *times, Absolute: *absolute})
		}); err != nil {
			return err
		}
	}
	if *plotOut != "" {
		if err := writeFile(*plotOut, func(w io.Writer) error {
			return trace.WritePlot(w, events, trace.PlotOptions{Title: title})
		}); err != nil {
			return err
		}
	}
	if *htmlOut != "" {
		return writeFile(*htmlOut, func(w io.Writer) error {
			return trace.WriteHTML(w, events, trace.LadderOptions{Title: title, Times: *times, Absolute: *absolute})
		})
	}
	return nil
}

// writeFile creates the file at path and has write fill it.
func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	err = write(bw)
	return errors.Join(err, bw.Flush(), f.Close())
}

// scenarioNames returns the names --list prints, for messages.
func scenarioNames() string {
	var names []string
	for _, s := range demoScenarios() {
		names = append(names, s.name)
	}
	return strings.Join(names, ", ")
}
