//go:build !linux

package inet

import "syscall"

// errHostIsolated is what ICMPv4 "host isolated" (code 8) reports: systems
// without Linux's ENONET get EHOSTUNREACH.
const errHostIsolated = syscall.EHOSTUNREACH
