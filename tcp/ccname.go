package tcp

import (
	"fmt"
	"slices"
	"strings"

	"github.com/synack-go/synack/tcp/cc"
)

// UnknownCCError is the error for a congestion-control name that
// Config.CongestionControl and TCB.SetCongestion do not know. It wraps
// cc.ErrUnknown.
type UnknownCCError struct {
	Name  string   // the name asked for
	Known []string // the names there are (cc.Names())
}

func (e *UnknownCCError) Error() string {
	return fmt.Sprintf("unknown congestion control %q (known: %s)", e.Name, strings.Join(e.Known, ", "))
}

// Unwrap returns cc.ErrUnknown.
func (e *UnknownCCError) Unwrap() error { return cc.ErrUnknown }

// CheckCongestionControl returns nil if name is a congestion control
// Config.CongestionControl and TCB.SetCongestion accept (cc.Names()), and
// an *UnknownCCError otherwise. The empty name is not one: a Config that
// leaves CongestionControl empty gets the default without asking.
func CheckCongestionControl(name string) error {
	known := cc.Names()
	if slices.Contains(known, name) {
		return nil
	}
	return &UnknownCCError{Name: name, Known: known}
}
