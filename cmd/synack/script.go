package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/synack-go/synack/script"
	"github.com/synack-go/synack/trace"
	"github.com/synack-go/synack/wire"
)

const scriptUsage = `usage: synack script [flags] FILE.pkt...

Runs scripts in the packetdrill dialect against a synack stack on virtual
time (default), or against the Linux kernel (--against kernel: a TUN device
in a network namespace of its own, real time, root only). Prints PASS, or
the first mismatch as file:line: expected ... got ..., and exits 1 if any
script failed.

The options of the dialect (--tolerance_usecs=N, --ip_version=ipv6,
--mtu=N, ...) are accepted too and win over the scripts' option lines. On
a busy machine the kernel's runs need more than the default 4 ms of
slack: --tolerance_usecs=25000, as go test gives them.
`

// errScriptsFailed is wrapped by the error of a run in which a script
// failed; each failure is printed already.
var errScriptsFailed = errors.New("scripts failed")

// runScript is synack script.
func runScript(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("script", scriptUsage, stdout)
	against := fs.String("against", "synack", "the stack to test: synack (virtual time) or kernel (Linux, real time, needs root)")
	execCmds := fs.Bool("exec", false, "run the scripts' shell commands (never run otherwise; only the sysctls of init commands are read)")
	verbose := fs.Bool("v", false, "list what is ignored: sysctls without an equivalent, commands not run, packets of other flows")
	htmlOut := fs.String("html", "", "write the run as an HTML ladder to `FILE` (with several scripts, FILE-NAME.html each)")
	svgOut := fs.String("svg", "", "write the run as an SVG ladder to `FILE` (with several scripts, FILE-NAME.svg each)")
	packets := fs.Bool("packets", false, "print every packet of each run, tcpdump style, < into the stack and > out of it")
	seed := fs.Int64("seed", 1, "seed of the synack target's random choices (ISNs, ports)")
	var defines []string
	fs.Func("define", "replace the word NAME by VALUE in the scripts (`NAME=VALUE`; also -D)", func(v string) error {
		defines = append(defines, v)
		return nil
	})
	fs.Func("D", "short for --define", func(v string) error {
		defines = append(defines, v)
		return nil
	})
	// The dialect's own options pass through to the runner.
	var own []string
	var dialect []string
	for _, a := range args {
		name := strings.TrimLeft(a, "-")
		name, _, _ = strings.Cut(name, "=")
		if strings.HasPrefix(a, "-") && strings.Contains(name, "_") {
			dialect = append(dialect, a)
			continue
		}
		own = append(own, a)
	}
	files, err := parseFlags(fs, own)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usageError(fs, "script: which scripts? (FILE.pkt...)")
	}
	if *against != "synack" && *against != "kernel" {
		return usageError(fs, fmt.Sprintf("script: --against %s: want synack or kernel", *against))
	}
	if *against == "kernel" {
		if why := script.KernelUnavailable(); why != "" {
			return fmt.Errorf("--against kernel %s", why)
		}
	}
	ov, err := script.ParseOverrides(dialect)
	if err != nil {
		return err
	}
	defs := map[string]string{}
	for _, d := range defines {
		k, v, ok := strings.Cut(d, "=")
		if !ok || k == "" {
			return fmt.Errorf("--define %s: want NAME=VALUE", d)
		}
		defs[k] = v
	}
	failed := 0
	for _, file := range files {
		s, err := script.ParseFile(file, defs)
		if err != nil {
			fmt.Fprintln(stdout, err)
			fmt.Fprintf(stdout, "FAIL %s\n", file)
			failed++
			continue
		}
		var t script.Target
		if *against == "kernel" {
			t = script.NewKernelTarget()
		} else {
			t = script.NewSynackTarget(*seed)
		}
		opts := script.Options{Overrides: ov, Exec: *execCmds, Seed: uint64(*seed)}
		if *verbose {
			opts.Verbose = stderr
		}
		res := script.Run(s, t, opts)
		if *verbose {
			for _, ig := range res.Ignored {
				fmt.Fprintf(stderr, "%s: ignored: %s\n", file, ig)
			}
		}
		if *packets {
			printPackets(stdout, res)
		}
		if res.Err != nil {
			failed++
			fmt.Fprintln(stdout, res.Err)
			note := ""
			if *against == "synack" {
				if v, e := s.Judge(res); v == script.KnownDifference {
					note = fmt.Sprintf(" (known difference from Linux, %s %s: %s)", e.Kind, e.Issue, e.Why)
				}
			}
			fmt.Fprintf(stdout, "FAIL %s%s\n", file, note)
		} else {
			fmt.Fprintf(stdout, "PASS %s (%.3f s of %s time)\n", file, res.Elapsed.Seconds(), map[string]string{"synack": "virtual", "kernel": "real"}[*against])
		}
		if err := writeLadders(res, file, len(files) > 1, *svgOut, *htmlOut); err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("%w: %d of %d", errScriptsFailed, failed, len(files))
	}
	return nil
}

// writeLadders draws a run as SVG and HTML ladders when asked.
func writeLadders(res *script.Result, file string, several bool, svgOut, htmlOut string) error {
	if svgOut == "" && htmlOut == "" {
		return nil
	}
	events := res.Events()
	if len(events) == 0 {
		return nil
	}
	opts := trace.LadderOptions{Title: filepath.Base(file), Times: true}
	name := func(out string) string {
		if !several {
			return out
		}
		ext := filepath.Ext(out)
		return strings.TrimSuffix(out, ext) + "-" + strings.TrimSuffix(filepath.Base(file), filepath.Ext(file)) + ext
	}
	if svgOut != "" {
		if err := writeFile(name(svgOut), func(w io.Writer) error { return trace.WriteSVG(w, events, opts) }); err != nil {
			return err
		}
	}
	if htmlOut != "" {
		return writeFile(name(htmlOut), func(w io.Writer) error { return trace.WriteHTML(w, events, opts) })
	}
	return nil
}

// printPackets prints a run's packets, tcpdump style, numbers absolute.
func printPackets(w io.Writer, res *script.Result) {
	for _, p := range res.Packets {
		dir := ">"
		if p.Inbound {
			dir = "<"
		}
		var ip wire.IPPacket
		var seg wire.TCPSegment
		line := fmt.Sprintf("%d-byte packet", len(p.Data))
		if wire.ParseIP(p.Data, &ip) == nil && ip.Protocol == wire.ProtoTCP && seg.Parse(wire.TCP(ip.Payload)) == nil {
			line = string(trace.AppendSegment(nil, ip.Src, ip.Dst, &seg))
		}
		fmt.Fprintf(w, "%10.6f %s %s\n", p.At.Seconds(), dir, line)
	}
}
