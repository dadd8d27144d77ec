package inet

import "syscall"

// errHostIsolated is what ICMPv4 "host isolated" (code 8) reports: Linux's
// ENONET.
const errHostIsolated = syscall.ENONET
