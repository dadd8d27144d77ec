// Command synack runs synack's demos and tools.
//
//	synack demo    two stacks in memory: connect, exchange lines, half-close, close
package main

import (
	"fmt"
	"os"
)

const usage = `usage: synack <command> [flags]

commands:
  demo    two synack stacks on an in-memory link: handshake, data, half-close and
          close, with every segment and state change printed
  serve   serve HTTP, echo or discard from a synack stack on a TUN device
  get     fetch a URL over a synack stack on a TUN device
  trace   read a pcap or pcapng capture, infer both ends' states, and draw each TCP
          connection as a ladder diagram (text, --svg, --html)
  bench   run one benchmark workload on synack alone (synack bench mem-bulk
          -mtu 1500; go run ./bench/compare runs gVisor and the kernel too)
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "demo":
		err = runDemo(os.Args[2:], os.Stdout)
	case "serve":
		err = runServe(os.Args[2:], os.Stdout, os.Stderr)
	case "get":
		err = runGet(os.Args[2:], os.Stdout, os.Stderr)
	case "trace":
		err = runTrace(os.Args[2:], os.Stdout, os.Stderr)
	case "bench":
		err = runBench(os.Args[2:], os.Stdout)
	case "-h", "--help", "help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "synack: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "synack:", err)
		os.Exit(1)
	}
}
