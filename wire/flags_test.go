package wire

import "testing"

func TestTCPFlagsString(t *testing.T) {
	for _, tc := range []struct {
		f    TCPFlags
		want string
	}{
		{0, "none"},
		{SYN, "S"},
		{SYN | ACK, "S."},
		{ACK, "."},
		{PSH | ACK, "P."},
		{FIN | ACK, "F."},
		{FIN | PSH | ACK, "FP."},
		{RST, "R"},
		{RST | ACK, "R."},
		{URG, "U"},
		{FIN, "F"},
		{PSH, "P"},
		{SYN | FIN, "FS"},
		{SYN | ECE | CWR, "SEW"},
		{SYN | ACK | ECE, "S.E"},
		{ACK | CWR, ".W"},
		{URG | ACK | PSH, "P.U"},
		{0xff, "FSRP.UEW"},
	} {
		if got := tc.f.String(); got != tc.want {
			t.Errorf("TCPFlags(%#02x).String() = %q, want %q", uint8(tc.f), got, tc.want)
		}
	}
}

func TestTCPFlagsWirePositions(t *testing.T) {
	// RFC 9293 §3.1 and RFC 3168 §6.1: byte 13 is CWR ECE URG ACK PSH RST
	// SYN FIN, high bit first.
	for i, f := range []TCPFlags{FIN, SYN, RST, PSH, ACK, URG, ECE, CWR} {
		if f != 1<<i {
			t.Errorf("flag %d = %#02x, want %#02x", i, uint8(f), 1<<i)
		}
	}
}
