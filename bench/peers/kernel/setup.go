//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"

	"github.com/synack-go/synack/bench/workload"
	"github.com/synack-go/synack/internal/netns"
)

// envSetup tells a run inside the namespaces what setup made them:
// "lo" (the loopback of the current namespace, MTU set), "veth NS" (the
// server end is in namespace NS), "tun A B" (TUN devices to open in the
// namespaces A, the current one, and B).
const envSetup = "SYNACK_BENCH_KERNEL"

// Addresses inside the namespaces this command makes.
const (
	clientAddr = "10.201.0.1"
	serverAddr = "10.201.0.2"
	subnetBits = "/24"
)

// setup makes the namespaces the workload in args needs and runs this
// command again inside them. It returns the exit code of that run, or -1
// when the workload needs no namespace (or cannot have one: the run then
// reports it as skipped or notes the fallback).
func setup(args []string) (int, error) {
	if len(args) == 0 || netns.Available() != nil {
		return -1, nil
	}
	mtu := flagValue(args, "mtu", "1500")
	var (
		env string
		nss []*netns.NS
	)
	cleanup := func() {
		for _, ns := range nss {
			ns.Delete()
		}
	}
	defer cleanup()
	add := func() (*netns.NS, error) {
		ns, err := netns.Add(workload.NetnsPrefix)
		if err == nil {
			nss = append(nss, ns)
		}
		return ns, err
	}
	addPair := func() (a, b *netns.NS, err error) {
		if a, err = add(); err != nil {
			return nil, nil, err
		}
		b, err = add()
		return a, b, err
	}
	netns.Sweep(workload.NetnsPrefix)
	switch variant := flagValue(args, "variant", ""); {
	case args[0] == "mem-bulk" && variant == "":
		a, err := add()
		if err != nil {
			return 0, err
		}
		if err := a.IP("link", "set", "lo", "mtu", mtu); err != nil {
			return 0, err
		}
		env = "lo"
	case args[0] == "mem-bulk" && variant == "veth":
		a, b, err := addPair()
		if err != nil {
			return 0, err
		}
		if err := vethPair(a, b, mtu); err != nil {
			return 0, err
		}
		env = "veth " + b.Name()
	case workload.IsPathWorkload(args[0]):
		a, b, err := addPair()
		if err != nil {
			return 0, err
		}
		env = "tun " + a.Name() + " " + b.Name()
	default:
		return -1, nil
	}

	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	cmd := nss[0].Command(self, args...)
	cmd.Env = append(os.Environ(), envSetup+"="+env)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, os.Stderr
	// A signal stops the run and still removes the namespaces.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case s := <-sigs:
		cmd.Process.Signal(s)
		err = <-done
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	if err != nil {
		return 0, err
	}
	return 0, nil
}

// vethPair joins a and b with a veth pair of the given MTU, made inside a
// with its peer end created straight in b: clientAddr in a, serverAddr in b.
func vethPair(a, b *netns.NS, mtu string) error {
	steps := []func() error{
		func() error {
			return a.IP("link", "add", "veth0", "type", "veth", "peer", "name", "veth1", "netns", b.Name())
		},
		func() error { return a.IP("addr", "add", clientAddr+subnetBits, "dev", "veth0") },
		func() error { return b.IP("addr", "add", serverAddr+subnetBits, "dev", "veth1") },
		func() error { return a.IP("link", "set", "veth0", "mtu", mtu, "up") },
		func() error { return b.IP("link", "set", "veth1", "mtu", mtu, "up") },
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return fmt.Errorf("veth: %w", err)
		}
	}
	return nil
}

// flagValue finds -name V, -name=V (or with two dashes) in args.
func flagValue(args []string, name, def string) string {
	for i, a := range args {
		a = strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return def
}
