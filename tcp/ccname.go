package tcp

import (
	"fmt"
	"strings"

	"github.com/synack-go/synack/tcp/cc"
)

// The congestion controls a connection may be given by name
// (Config.CongestionControl, TCB.SetCongestion, CongestionControl): one
// table, so that every way of naming one accepts the same names and makes
// the same controller.
const (
	ccReno     = cc.NameReno
	ccCUBIC    = cc.NameCUBIC
	ccBBR      = cc.NameBBR // synack's loss-tolerant BBRv3 (synackBBR)
	ccBBRDraft = "bbr-draft"
)

// defaultCC is the congestion control of a Config that names none, as
// Linux's.
const defaultCC = ccCUBIC

// ccMaker makes a named controller for segments of mss bytes; seed (the
// ISN) varies BBR's randomized probing between connections so that flows
// sharing a bottleneck do not synchronize, and noPacing is
// Config.NoPacing (BBR paces regardless).
type ccMaker func(mss uint32, seed uint64, noPacing bool) cc.Controller

var congestionControls = []struct {
	name string
	make ccMaker
}{
	{ccReno, func(mss uint32, _ uint64, noPacing bool) cc.Controller {
		return cc.NewRenoConfig(mss, cc.RenoConfig{NoPacing: noPacing})
	}},
	{ccCUBIC, func(mss uint32, _ uint64, noPacing bool) cc.Controller {
		return cc.NewCUBIC(mss, cc.CUBICConfig{NoPacing: noPacing})
	}},
	{ccBBR, func(mss uint32, seed uint64, _ bool) cc.Controller {
		return cc.NewBBR(mss, synackBBR(seed))
	}},
	{ccBBRDraft, func(mss uint32, seed uint64, _ bool) cc.Controller {
		return cc.NewBBR(mss, cc.BBRConfig{Seed: seed})
	}},
}

// lookupCC returns the maker of the controller called name, or nil.
func lookupCC(name string) ccMaker {
	for _, c := range congestionControls {
		if c.name == name {
			return c.make
		}
	}
	return nil
}

// CongestionControlNames lists the names Config.CongestionControl,
// TCB.SetCongestion and CongestionControl accept.
func CongestionControlNames() []string {
	names := make([]string, len(congestionControls))
	for i, c := range congestionControls {
		names[i] = c.name
	}
	return names
}

// UnknownCCError is the error for a congestion-control name that
// Config.CongestionControl and TCB.SetCongestion do not know. It wraps
// cc.ErrUnknown.
type UnknownCCError struct {
	Name  string   // the name asked for
	Known []string // the names there are (CongestionControlNames)
}

func (e *UnknownCCError) Error() string {
	return fmt.Sprintf("unknown congestion control %q (known: %s)", e.Name, strings.Join(e.Known, ", "))
}

// Unwrap returns cc.ErrUnknown.
func (e *UnknownCCError) Unwrap() error { return cc.ErrUnknown }

// CheckCongestionControl returns nil if name is a congestion control
// Config.CongestionControl and TCB.SetCongestion accept
// (CongestionControlNames), and an *UnknownCCError otherwise. The empty
// name is not one: a Config that leaves CongestionControl empty gets the
// default without asking.
func CheckCongestionControl(name string) error {
	if lookupCC(name) != nil {
		return nil
	}
	return &UnknownCCError{Name: name, Known: CongestionControlNames()}
}

// CongestionControl returns the constructor of the congestion control
// called name (as Linux's TCP_CONGESTION names them; CongestionControlNames),
// for Config.NewCC; false if there is none of that name.
func CongestionControl(name string) (func(mss uint32) cc.Controller, bool) {
	m := lookupCC(name)
	if m == nil {
		return nil, false
	}
	return func(mss uint32) cc.Controller { return m(mss, 0, false) }, true
}

// newCC makes the controller of a connection whose segments carry mss
// bytes; seed is the connection's ISN (ccMaker).
func (c *Config) newCC(mss uint32, seed uint64) cc.Controller {
	if c.NewCC != nil {
		return c.NewCC(mss)
	}
	return lookupCC(c.ccName())(mss, seed, c.NoPacing)
}

// ccName is the name of the controller newCC makes: Config.NewCC's own
// name, else CongestionControl if it is one of the table's, else the
// default.
func (c *Config) ccName() string {
	switch {
	case c.NewCC != nil:
		return c.NewCC(c.mss()).Name()
	case lookupCC(c.CongestionControl) != nil:
		return c.CongestionControl
	}
	return defaultCC
}
