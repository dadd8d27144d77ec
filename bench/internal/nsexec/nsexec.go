// Package nsexec makes and removes the network namespaces the kernel
// contender of bench/compare runs in, with the ip(8) command, and runs
// code inside one of them. Every namespace it makes is named
// "synack-bench-<pid>-<n>" after the process that made it, so that Sweep
// can remove the ones a killed run left behind without touching anyone
// else's. Nothing here touches the host's own interfaces or routes.
//go:build linux

package nsexec

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
)

// prefix starts the name of every namespace made here.
const prefix = "synack-bench-"

var seq atomic.Int32

// NS is a network namespace made by Add.
type NS struct {
	// Name is the namespace's name, as `ip netns` lists it.
	Name string
}

// Root reports whether the process can make namespaces: it runs as root
// and ip(8) is installed.
func Root() error {
	if os.Geteuid() != 0 {
		return errors.New("needs root (network namespaces)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return errors.New("needs the ip command (iproute2)")
	}
	return nil
}

// Add makes a new namespace with its loopback interface up. The caller
// must Del it, also on failure.
func Add() (*NS, error) {
	ns := &NS{Name: fmt.Sprintf("%s%d-%d", prefix, os.Getpid(), seq.Add(1))}
	if err := run("ip", "netns", "add", ns.Name); err != nil {
		return nil, err
	}
	if err := ns.IP("link", "set", "lo", "up"); err != nil {
		ns.Del()
		return nil, err
	}
	return ns, nil
}

// Del removes the namespace, and with it every interface inside.
func (ns *NS) Del() error { return run("ip", "netns", "del", ns.Name) }

// Path is the namespace's file, for Enter.
func (ns *NS) Path() string { return "/run/netns/" + ns.Name }

// IP runs `ip -n NAME args...`.
func (ns *NS) IP(args ...string) error {
	return run("ip", append([]string{"-n", ns.Name}, args...)...)
}

// Command returns a command that runs name with args inside the namespace.
func (ns *NS) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// Sweep removes namespaces made by processes that no longer run (a run
// killed before it could clean up).
func Sweep() {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], prefix) {
			continue
		}
		pid, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(f[0], prefix), "-", 2)[0])
		if err != nil || pid == os.Getpid() || syscall.Kill(pid, 0) == nil {
			continue
		}
		run("ip", "netns", "del", f[0])
	}
}

// Enter runs f on an OS thread that has joined the namespace at path, so
// that the sockets and devices f opens belong to it, and returns f's
// error. Other goroutines are not affected. If the thread cannot return
// to its own namespace it is thrown away rather than reused.
func Enter(path string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return
		}
		defer self.Close()
		target, err := os.Open(path)
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if err := setns(int(target.Fd())); err != nil {
			errc <- fmt.Errorf("setns %s: %w", path, err)
			return
		}
		ferr := f()
		if err := setns(int(self.Fd())); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("setns back: %w", err))
			return // the thread stays locked and dies with this goroutine
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

func run(name string, args ...string) error {
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return nil
}
