// Command gvisor runs bench/workload's workloads on gVisor's netstack
// (gvisor.dev/gvisor/pkg/tcpip through its gonet adapter), for
// bench/compare: `gvisor mem-bulk -mtu 1500 -json`.
//
// It is a module of its own so that gVisor never enters synack's go.mod;
// it imports synack's bench/workload (the workloads themselves) and
// link/impair (the emulated path) through a replace directive.
package main

import (
	"fmt"
	"os"

	"github.com/synack-go/synack/bench/workload"
)

func main() {
	c := workload.Contender{
		Name:   "gvisor",
		NewNet: newNet,
		Note:   "SACK, RACK, tailscale's buffer ranges (1 MiB, moderated up to 8/6 MiB)",
	}
	if err := workload.Main(c, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "gvisor:", err)
		os.Exit(1)
	}
}
