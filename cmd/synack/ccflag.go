package main

import (
	"fmt"

	"github.com/synack-go/synack/tcp"
	"github.com/synack-go/synack/tcp/cc"
)

// bbrDraft is --cc's name for plain BBRv3 as draft-ietf-ccwg-bbr writes
// it (cc.NewBBR with a zero BBRConfig); "bbr" is the stack's loss-tolerant
// variant (tcp.Config.CongestionControl).
const bbrDraft = "bbr-draft"

// ccFlag is --cc: the congestion control of the stack's connections, by
// name, checked as the flag is parsed so that a wrong name is a usage
// error before anything is created.
type ccFlag string

func (c *ccFlag) String() string { return string(*c) }

func (c *ccFlag) Set(v string) error {
	if v != bbrDraft {
		if err := tcp.CheckCongestionControl(v); err != nil {
			return fmt.Errorf("%v, or %s (BBRv3 as the draft writes it)", err, bbrDraft)
		}
	}
	*c = ccFlag(v)
	return nil
}

// apply sets the congestion control of cfg; the empty name leaves the
// stack's default (CUBIC).
func (c ccFlag) apply(cfg *tcp.Config) {
	switch c {
	case "":
	case bbrDraft:
		cfg.NewCC = func(mss uint32) cc.Controller { return cc.NewBBR(mss, cc.BBRConfig{}) }
	default:
		cfg.CongestionControl = string(c)
	}
}
