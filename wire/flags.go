package wire

// TCPFlags holds the eight control bits of a TCP header (RFC 9293 §3.1,
// RFC 3168 §6.1 for ECE and CWR), in their wire positions: byte 13 of the
// header is exactly a TCPFlags.
type TCPFlags uint8

// The control bits, lowest first as on the wire.
const (
	FIN TCPFlags = 1 << iota // no more data from sender
	SYN                      // synchronize sequence numbers
	RST                      // reset the connection
	PSH                      // push function
	ACK                      // acknowledgment field is significant
	URG                      // urgent pointer field is significant
	ECE                      // ECN-Echo (RFC 3168)
	CWR                      // congestion window reduced (RFC 3168)
)

// flagLetters holds tcpdump's letter for each flag, indexed by bit number:
// tcpdump's table (tcp_flag_values in print-tcp.c) lists the flags in bit
// order, so its output order is the wire order, with '.' for ACK.
const flagLetters = "FSRP.UEW"

// String returns the flags as tcpdump prints them between the brackets of
// "Flags [...]": one letter per flag, F S R P then '.' for ACK, then U E W,
// so "S", "S.", ".", "P.", "F.", "FP.", "R", "S.E", "SEW"; "none" when no flag
// is set. The common combinations return constant strings without allocating.
func (f TCPFlags) String() string {
	switch f {
	case 0:
		return "none"
	case SYN:
		return "S"
	case SYN | ACK:
		return "S."
	case ACK:
		return "."
	case PSH | ACK:
		return "P."
	case FIN | ACK:
		return "F."
	case FIN | PSH | ACK:
		return "FP."
	case RST:
		return "R"
	case RST | ACK:
		return "R."
	}
	var buf [8]byte
	n := 0
	for i := range len(flagLetters) {
		if f&(1<<i) != 0 {
			buf[n] = flagLetters[i]
			n++
		}
	}
	return string(buf[:n])
}
