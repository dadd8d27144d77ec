//go:build !linux

// Package nsexec makes and removes the network namespaces the kernel
// contender of bench/compare runs in. Network namespaces are Linux's:
// elsewhere Root says so, and the workloads that need them are skipped.
package nsexec

import (
	"errors"
	"os/exec"
)

var errNotLinux = errors.New("needs Linux network namespaces")

// NS is a network namespace made by Add.
type NS struct {
	// Name is the namespace's name.
	Name string
}

// Root reports that namespaces cannot be made here.
func Root() error { return errNotLinux }

// Add fails: there are no network namespaces here.
func Add() (*NS, error) { return nil, errNotLinux }

// Del does nothing.
func (ns *NS) Del() error { return errNotLinux }

// Path is empty.
func (ns *NS) Path() string { return "" }

// IP fails.
func (ns *NS) IP(args ...string) error { return errNotLinux }

// Command returns a command that fails to start.
func (ns *NS) Command(name string, args ...string) *exec.Cmd { return exec.Command("false") }

// Sweep does nothing.
func Sweep() {}

// Enter fails.
func Enter(path string, f func() error) error { return errNotLinux }
