package main

import (
	"io"

	"github.com/synack-go/synack/bench/workload"
)

// runBench runs the synack side of one benchmark workload alone and prints
// its result: `synack bench mem-bulk -mtu 65535`. bench/compare runs the
// same workloads on gVisor and the kernel too; see bench/workload for the
// list and their flags.
func runBench(args []string, w io.Writer) error {
	return workload.Main(workload.Synack, args, w)
}
