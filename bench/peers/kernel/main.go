//go:build linux

// Command kernel runs bench/workload's workloads on the Linux kernel's own
// TCP through package net, for bench/compare: `kernel mem-bulk -json`.
//
// mem-rr, mem-connrate and mem-idle run over loopback. mem-bulk runs over
// the loopback of a network namespace of its own whose MTU is the
// workload's (with root), or between two namespaces joined by a veth pair
// (-variant veth). lossy-goodput, reordering and bufferbloat run kernel
// to kernel between two namespaces joined by two TUN devices and a
// userspace bridge through link/impair. The process makes those namespaces, runs itself again
// inside them, and removes them when that run ends, also on failure.
package main

import (
	"fmt"
	"os"
	"syscall"

	"github.com/synack-go/synack/bench/workload"
)

func main() {
	raiseFileLimit()
	args := os.Args[1:]
	if os.Getenv(envSetup) == "" {
		code, err := setup(args)
		if err != nil {
			fmt.Fprintln(os.Stderr, "kernel:", err)
			os.Exit(1)
		}
		if code >= 0 {
			os.Exit(code)
		}
	}
	c := workload.Contender{Name: "kernel", NewNet: newNet}
	if err := workload.Main(c, args, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "kernel:", err)
		os.Exit(1)
	}
}

// raiseFileLimit lifts RLIMIT_NOFILE as far as it goes: mem-idle holds two
// descriptors per connection, 100,000 for 50,000 connections. Go already
// raised the soft limit to the hard one; root may raise the hard one too.
func raiseFileLimit() {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) != nil {
		return
	}
	for _, want := range []uint64{1 << 20, 1 << 18} {
		if want <= lim.Max {
			break
		}
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: want, Max: want}) == nil {
			return
		}
	}
	lim.Cur = lim.Max
	syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
}
