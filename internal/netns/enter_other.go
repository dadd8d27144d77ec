//go:build !linux

package netns

import "errors"

// supported says whether this system has network namespaces.
const supported = false

// enter fails: only Linux has network namespaces (New skips before).
func enter(path string) (restore func() error, err error) {
	return nil, errors.ErrUnsupported
}

// Sweep does nothing: there are no namespaces to remove.
func Sweep(prefix string) {}
