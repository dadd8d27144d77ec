// Command synack runs synack's demos and tools: demo, serve, get, trace,
// script and bench. `synack help COMMAND` or `synack COMMAND --help` explains one.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/synack-go/synack/bench/workload"
)

const usage = `usage: synack <command> [flags]
       synack help <command>
       synack --version

commands:
  demo    two synack stacks on an in-memory link: handshake, data, half-close and
          close, with every segment and state change printed
  serve   serve HTTP, echo or discard from a synack stack on a TUN device
  get     fetch a URL over a synack stack on a TUN device
  proxy   transparent proxy: every TCP and UDP flow from a TUN device opened
          again directly or through SOCKS5 (the tun2socks job)
  trace   read a pcap or pcapng capture: summary of each TCP connection,
          time-sequence graphs (--plot, --html), ladder diagrams
  script  run scripts in the packetdrill dialect against synack on virtual time,
          or against the Linux kernel (--against kernel)
  bench   run one benchmark workload on synack alone (synack bench mem-bulk
          -mtu 1500; go run ./bench/compare runs gVisor and the kernel too)
`

// commands are the subcommands, each run with its arguments, stdout and
// stderr.
var commands = map[string]func(args []string, stdout, stderr io.Writer) error{
	"demo":   func(args []string, stdout, _ io.Writer) error { return runDemo(args, stdout) },
	"serve":  runServe,
	"get":    runGet,
	"trace":  runTrace,
	"bench":  func(args []string, stdout, _ io.Writer) error { return runBench(args, stdout) },
	"script": runScript,
	"proxy":  runProxy,
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the command line args and returns the exit status: 0, 1 for a
// failure, 2 for a command line that makes no sense.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	case "-version", "--version", "version":
		fmt.Fprintln(stdout, version())
		return 0
	case "help":
		if len(args) == 1 {
			fmt.Fprint(stdout, usage)
			return 0
		}
		name, args = args[1], []string{args[1], "--help"}
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "synack: unknown command %q; the commands are %s (synack --help says more)\n", name, commandNames())
		return 2
	}
	err := cmd(args[1:], stdout, stderr)
	switch {
	case err == nil, errors.Is(err, errHelp):
		return 0
	case err != nil:
		// Errors from the library already start with "synack: ".
		msg := strings.ReplaceAll(err.Error(), ": synack: ", ": ")
		fmt.Fprintln(stderr, "synack:", msg)
		if strings.Contains(msg, "--help") {
			return 2
		}
	}
	return 1
}

func commandNames() string {
	var names []string
	for n := range commands {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// version returns the module's version and the VCS revision it was built
// from, as the Go toolchain recorded them: "synack (devel) go1.26.1
// vcs.revision=0e8208c... (modified)".
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "synack (no build information)"
	}
	v := "synack " + bi.Main.Version + " " + bi.GoVersion
	var rev, modified, at string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = " (modified)"
			}
		case "vcs.time":
			at = " " + s.Value
		}
	}
	if rev != "" {
		v += " revision " + rev + at + modified
	}
	return v
}

// benchUsage is the help text of `synack bench`.
const benchUsage = `usage: synack bench WORKLOAD [flags]

Runs one benchmark workload on synack alone and prints its result;
go run ./bench/compare runs the same workloads on gVisor's netstack and the
kernel too.
`

// runBench runs the synack side of one benchmark workload alone and prints
// its result: `synack bench mem-bulk -mtu 1500`.
func runBench(args []string, w io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		fmt.Fprint(w, benchUsage, "\n", workload.Usage)
		if len(args) == 0 {
			return errors.New("bench: which workload? (synack bench --help lists them)")
		}
		return errHelp
	}
	return workload.Main(workload.Synack, args, w)
}
