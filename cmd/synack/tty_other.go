//go:build !linux

package main

import "io"

// isTerminal reports false: the progress bar is drawn on Linux only, where
// the TUN device that get needs exists.
func isTerminal(w io.Writer) bool { return false }
