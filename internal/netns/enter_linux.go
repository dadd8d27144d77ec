package netns

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// supported says whether this system has network namespaces.
const supported = true

// enter switches the calling (locked) thread into the namespace. It returns
// a function that switches it back, or nil with an error when the thread is
// still where it was.
func (ns *NS) enter() (restore func() error, err error) {
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("netns: %w", err)
	}
	target, err := unix.Open("/run/netns/"+ns.name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(orig)
		return nil, fmt.Errorf("netns: opening %s: %w", ns.name, err)
	}
	err = unix.Setns(target, unix.CLONE_NEWNET)
	unix.Close(target)
	if err != nil {
		unix.Close(orig)
		return nil, fmt.Errorf("netns: entering %s: %w", ns.name, err)
	}
	return func() error {
		defer unix.Close(orig)
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("netns: leaving %s: %w", ns.name, err)
		}
		return nil
	}, nil
}
