package main

import (
	"github.com/synack-go/synack/tcp"
)

// ccFlag is --cc: the congestion control of the stack's connections, by
// name (tcp.CongestionControlNames), checked as the flag is parsed so that
// a wrong name is a usage error before anything is created.
type ccFlag string

func (c *ccFlag) String() string { return string(*c) }

func (c *ccFlag) Set(v string) error {
	if err := tcp.CheckCongestionControl(v); err != nil {
		return err
	}
	*c = ccFlag(v)
	return nil
}

// apply sets the congestion control of cfg; the empty name leaves the
// stack's default (CUBIC).
func (c ccFlag) apply(cfg *tcp.Config) {
	if c != "" {
		cfg.CongestionControl = string(c)
	}
}
