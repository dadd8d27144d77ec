package tcp

// State is a connection state of RFC 9293 §3.3.2.
type State uint8

// The eleven states of RFC 9293 §3.3.2. StateClosed is the zero value: a TCB
// that was never opened or has been torn down.
const (
	StateClosed State = iota
	StateListen
	StateSynSent
	StateSynReceived
	StateEstablished
	StateFinWait1
	StateFinWait2
	StateCloseWait
	StateClosing
	StateLastAck
	StateTimeWait
)

var stateNames = [...]string{
	StateClosed:      "CLOSED",
	StateListen:      "LISTEN",
	StateSynSent:     "SYN_SENT",
	StateSynReceived: "SYN_RECV",
	StateEstablished: "ESTABLISHED",
	StateFinWait1:    "FIN_WAIT1",
	StateFinWait2:    "FIN_WAIT2",
	StateCloseWait:   "CLOSE_WAIT",
	StateClosing:     "CLOSING",
	StateLastAck:     "LAST_ACK",
	StateTimeWait:    "TIME_WAIT",
}

// String returns the state's name as Linux's ss(8) and netstat print it.
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "UNKNOWN"
}

// synchronized reports whether the connection has completed (or is past) the
// handshake: RFC 9293 §3.10.7.4 "the synchronized states".
func (s State) synchronized() bool { return s >= StateEstablished }

// canSend reports whether the user may still queue data (the send side is
// open).
func (s State) canSend() bool { return s == StateEstablished || s == StateCloseWait }
