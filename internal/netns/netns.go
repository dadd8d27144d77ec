// Package netns gives tests and benchmarks a Linux network namespace of
// their own, so that traffic between synack and the kernel's TCP stays
// inside it: a namespace made, used and deleted, whatever the outcome
// (New for a test, Add and Delete for a program; Sweep removes what a
// killed program left). Nothing in it can reach the host's interfaces or
// routes.
//
// Three ways to act inside a namespace:
//   - [NS.Do] runs a function on an OS thread switched into it: sockets and
//     TUN devices created there belong to the namespace for good, and may be
//     used from any goroutine afterwards;
//   - [NS.Command] runs a program inside it (curl, ping, tc), through
//     `ip netns exec`, and [NS.Run] runs one to completion;
//   - [NS.Name] is its name, for any other `ip -n NAME ...`.
package netns

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
)

// NS is a network namespace made by New or Add. It is safe for concurrent
// use.
type NS struct {
	name string
}

// seq numbers the namespaces one process makes.
var seq atomic.Uint64

// Available reports why this process cannot make namespaces (it is not
// Linux, does not run as root, or lacks the ip command), or nil.
func Available() error {
	if !supported {
		return errors.New("needs Linux: network namespaces")
	}
	if os.Geteuid() != 0 {
		return errors.New("needs root: creates a network namespace")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return errors.New("needs the ip command (Debian package iproute2)")
	}
	return nil
}

// New creates a namespace with a name no other test binary uses, brings its
// loopback interface up, and registers its deletion with t.Cleanup, which
// runs however the test ends. While any test of the process holds a
// namespace, the tests of other processes wait in New (see Serialize): the
// kernel-peer tests of `go test ./...` take turns. It skips the test when
// Available says why it cannot, and fails it when the namespace cannot be
// made.
func New(t testing.TB) *NS {
	t.Helper()
	if err := Available(); err != nil {
		t.Skip(err)
	}
	Serialize(t)
	ns, err := Add("synack-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ns.Delete(); err != nil {
			t.Error(err)
		}
	})
	return ns
}

// Add makes a namespace named prefix, the process id and a number
// ("synack-bench-4242-1"), so that Sweep can tell which process made it,
// and brings its loopback interface up. The caller must Delete it, also on
// failure.
func Add(prefix string) (*NS, error) {
	ns := &NS{name: fmt.Sprintf("%s%d-%d", prefix, os.Getpid(), seq.Add(1))}
	if err := run("ip", "netns", "add", ns.name); err != nil {
		return nil, err
	}
	if err := ns.IP("link", "set", "lo", "up"); err != nil {
		ns.Delete()
		return nil, err
	}
	return ns, nil
}

// Delete removes the namespace, and with it every interface inside.
func (ns *NS) Delete() error { return run("ip", "netns", "delete", ns.name) }

// IP runs `ip -n NAME args...`.
func (ns *NS) IP(args ...string) error {
	return run("ip", append([]string{"-n", ns.name}, args...)...)
}

// Path is the namespace's file, for Enter.
func (ns *NS) Path() string { return "/run/netns/" + ns.name }

// run runs a command; its error carries the command's standard error.
func run(name string, args ...string) error {
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return nil
}

// Name returns the namespace's name, as `ip netns list` shows it.
func (ns *NS) Name() string { return ns.name }

// Command returns a command that runs the program name with args inside the
// namespace, through `ip netns exec`. The caller runs it as any exec.Cmd.
func (ns *NS) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns.name, name}, args...)...)
}

// Do runs fn on a new goroutine locked to an OS thread that has entered the
// namespace, waits for it and returns its error. Sockets, listeners and TUN
// devices fn creates live in the namespace and stay usable from any
// goroutine; goroutines fn starts do not run in the namespace. If fn panics,
// Do panics with the same value; fn must not call t.FailNow (it runs on
// a goroutine of its own), and if it exits through runtime.Goexit anyway Do
// returns an error saying so.
//
// The thread is switched back to its original namespace afterwards. If that
// fails, the goroutine exits still locked, so the runtime ends the thread:
// no other goroutine ever runs in the wrong namespace.
func (ns *NS) Do(fn func() error) error { return Enter(ns.Path(), fn) }

// Enter is NS.Do for the namespace whose file is path
// ("/run/netns/NAME", "/proc/PID/ns/net").
func Enter(path string, fn func() error) error {
	type result struct {
		err   error
		panic any
		done  bool
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		res := result{}
		defer func() {
			if !res.done {
				res.panic = recover()
			}
			ch <- res
		}()
		restore, err := enter(path)
		if err != nil {
			res.err, res.done = err, true
			runtime.UnlockOSThread() // it never left its namespace
			return
		}
		defer func() {
			// Runs before the deferred send above, panic or not.
			if restore() == nil {
				runtime.UnlockOSThread()
			}
		}()
		res.err = fn()
		res.done = true
	}()
	res := <-ch
	switch {
	case res.done:
		return res.err
	case res.panic == nil:
		return errGoexit
	}
	panic(res.panic)
}

// errGoexit is what Do returns when fn neither returned nor panicked.
var errGoexit = errors.New("netns: fn called runtime.Goexit (t.FailNow?) instead of returning")

// Run runs the program name with args inside the namespace and returns its
// combined output; a failure's error includes that output.
func (ns *NS) Run(name string, args ...string) (string, error) {
	out, err := ns.Command(name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s in %s: %w: %s", name, strings.Join(args, " "), ns.name, err, bytes.TrimSpace(out))
	}
	return string(out), nil
}
