package tcp

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/synack-go/synack/tcp/cc"
)

func TestCheckCongestionControl(t *testing.T) {
	for _, name := range CongestionControlNames() {
		if err := CheckCongestionControl(name); err != nil {
			t.Errorf("CheckCongestionControl(%q) = %v, want nil", name, err)
		}
		if _, ok := CongestionControl(name); !ok {
			t.Errorf("CongestionControl(%q) reports unknown, CheckCongestionControl knows it", name)
		}
	}
	for _, name := range []string{"", "vegas", "BBR", "cubic "} {
		err := CheckCongestionControl(name)
		var ue *UnknownCCError
		if !errors.As(err, &ue) {
			t.Fatalf("CheckCongestionControl(%q) = %v, want an *UnknownCCError", name, err)
		}
		if ue.Name != name || strings.Join(ue.Known, ",") != "reno,cubic,bbr,bbr-draft" {
			t.Errorf("CheckCongestionControl(%q) = %+v", name, ue)
		}
		if !errors.Is(err, cc.ErrUnknown) {
			t.Errorf("CheckCongestionControl(%q) does not wrap cc.ErrUnknown", name)
		}
		if msg := err.Error(); !strings.Contains(msg, "reno, cubic, bbr, bbr-draft") || !strings.Contains(msg, `"`+name+`"`) {
			t.Errorf("error %q does not name %q and the known names", msg, name)
		}
	}
}

// TestCongestionControlNames: every way of naming a controller
// (Config.CongestionControl, TCB.SetCongestion, CongestionControl) makes
// the same one, and the connection reports the name it was given: "bbr" is
// synack's loss-tolerant BBRv3, "bbr-draft" the draft's.
func TestCongestionControlNames(t *testing.T) {
	const mss, seed = 1460, 7
	want := map[string]cc.Controller{
		"reno":      cc.NewRenoConfig(mss, cc.RenoConfig{}),
		"cubic":     cc.NewCUBIC(mss, cc.CUBICConfig{}),
		"bbr":       cc.NewBBR(mss, synackBBR(seed)),
		"bbr-draft": cc.NewBBR(mss, cc.BBRConfig{Seed: seed}),
	}
	if got := CongestionControlNames(); len(got) != len(want) {
		t.Fatalf("CongestionControlNames() = %v, want the %d of this test", got, len(want))
	}
	for _, name := range CongestionControlNames() {
		cfg := &Config{CongestionControl: name}
		if got := cfg.newCC(mss, seed); !reflect.DeepEqual(got, want[name]) {
			t.Errorf("Config.CongestionControl %q makes %#v, want %#v", name, got, want[name])
		}
		mk, _ := CongestionControl(name)
		if got, w := mk(mss), lookupCC(name)(mss, 0, false); !reflect.DeepEqual(got, w) {
			t.Errorf("CongestionControl(%q) makes %#v, want %#v", name, got, w)
		}
		c, _ := establishedPair(&Config{MSS: mss, Buffers: NewBufferPool()})
		if !c.SetCongestion(name) || c.Congestion() != name || c.RecoveryStats().CC != name {
			t.Errorf("SetCongestion(%q): Congestion() = %q, RecoveryStats().CC = %q", name, c.Congestion(), c.RecoveryStats().CC)
		}
	}
	if (&Config{CongestionControl: "vegas"}).ccName() != "cubic" {
		t.Errorf("an unknown name does not fall back to the default")
	}
}
