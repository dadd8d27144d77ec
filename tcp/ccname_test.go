package tcp

import (
	"errors"
	"strings"
	"testing"

	"github.com/synack-go/synack/tcp/cc"
)

func TestCheckCongestionControl(t *testing.T) {
	for _, name := range cc.Names() {
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
		if ue.Name != name || strings.Join(ue.Known, ",") != "reno,cubic,bbr" {
			t.Errorf("CheckCongestionControl(%q) = %+v", name, ue)
		}
		if !errors.Is(err, cc.ErrUnknown) {
			t.Errorf("CheckCongestionControl(%q) does not wrap cc.ErrUnknown", name)
		}
		if msg := err.Error(); !strings.Contains(msg, "reno, cubic, bbr") || !strings.Contains(msg, `"`+name+`"`) {
			t.Errorf("error %q does not name %q and the known names", msg, name)
		}
	}
}
