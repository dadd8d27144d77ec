package tcp

import "testing"

func TestDropCountsString(t *testing.T) {
	var d DropCounts
	if got := d.String(); got != "none" {
		t.Errorf("no drops: %q", got)
	}
	d[DropOutOfWindow], d[DropPAWS] = 3, 1
	if got := d.String(); got != "out-of-window=3 paws=1" {
		t.Errorf("String = %q", got)
	}
}
