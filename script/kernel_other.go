//go:build !linux

package script

import (
	"errors"
	"time"
)

// NewKernelTarget returns a target whose Start fails: the kernel target
// needs Linux (network namespaces and TUN devices).
func NewKernelTarget() Target { return unsupportedTarget{} }

// KernelUnavailable says why the kernel target cannot run here.
func KernelUnavailable() string { return "needs Linux: network namespaces and TUN devices" }

type unsupportedTarget struct{ Sockets }

func (unsupportedTarget) Start(*Config, *Setup) ([]string, error) { return nil, errors.ErrUnsupported }
func (unsupportedTarget) Now() time.Duration                      { return 0 }
func (unsupportedTarget) ZeroClock()                              {}
func (unsupportedTarget) Wait(time.Duration)                      {}
func (unsupportedTarget) Inject([]byte) error                     { return errors.ErrUnsupported }
func (unsupportedTarget) Sent() []SentPacket                      { return nil }
func (unsupportedTarget) Go(fn func())                            { go fn() }
func (unsupportedTarget) Stop() error                             { return nil }
