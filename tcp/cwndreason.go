package tcp

import "github.com/synack-go/synack/tcp/cc"

// CwndReason says which rule moved the congestion window (or ssthresh), so
// that a trace reads as the RFCs do: "cwnd 14480 ssthresh 7240 (PRR, RFC
// 6937)". Its String is a constant: reporting one allocates nothing.
type CwndReason uint8

// The rules that change the congestion window.
const (
	CwndOther        CwndReason = iota // none of the below
	CwndInitial                        // the initial window at the handshake's end: RFC 5681 §3.1, RFC 6928
	CwndSlowStart                      // slow start: RFC 5681 §3.1, byte counting RFC 3465
	CwndHyStart                        // HyStart++'s conservative slow start: RFC 9406 §4.2
	CwndAvoidance                      // congestion avoidance: RFC 5681 §3.1, CUBIC RFC 9438 §4
	CwndRecovery                       // loss detected, fast recovery entered: RFC 5681 §3.2, RFC 6675 §5, RFC 8985 §6
	CwndPRR                            // proportional rate reduction during recovery: RFC 6937
	CwndRecoveryExit                   // fast recovery over: RFC 6582 §3.2, RFC 6937 §3
	CwndRTO                            // retransmission timeout: RFC 5681 §3.1 (eq. 4), RFC 6298 §5
	CwndUndo                           // reduction undone, the retransmissions spurious (D-SACK or timestamps): RFC 3522, RFC 4015
	CwndFRTO                           // timeout found spurious by F-RTO and undone: RFC 5682
	CwndTLP                            // a loss repaired by a tail loss probe: RFC 8985 §7.4
	CwndIdle                           // restart after idle: RFC 5681 §4.1, RFC 7661
	CwndBBR                            // BBR's model: draft-ietf-ccwg-bbr
	CwndMSS                            // the MSS changed (PMTUD, RFC 1191 / RFC 8201 / RFC 4821; TCP_MAXSEG)
	CwndCCChange                       // another congestion control (TCP_CONGESTION)
	numCwndReasons

	// cwndOnAck: an ACK moved the window; which rule did it is found only
	// when the change is reported (ackCwndReason).
	cwndOnAck = numCwndReasons
)

var cwndReasonNames = [numCwndReasons]string{
	CwndOther:        "other",
	CwndInitial:      "initial window, RFC 5681 §3.1",
	CwndSlowStart:    "slow start, RFC 5681 §3.1",
	CwndHyStart:      "HyStart++ CSS, RFC 9406",
	CwndAvoidance:    "congestion avoidance, RFC 5681 §3.1",
	CwndRecovery:     "recovery, RFC 6675 §5",
	CwndPRR:          "PRR, RFC 6937",
	CwndRecoveryExit: "recovery exit, RFC 6937 §3",
	CwndRTO:          "RTO, RFC 5681 §3.1",
	CwndUndo:         "undo, RFC 3522/4015",
	CwndFRTO:         "F-RTO undo, RFC 5682",
	CwndTLP:          "TLP recovery, RFC 8985 §7.4",
	CwndIdle:         "idle restart, RFC 5681 §4.1",
	CwndBBR:          "BBR, draft-ietf-ccwg-bbr",
	CwndMSS:          "MSS change",
	CwndCCChange:     "congestion control changed",
}

// String returns the rule's name with its RFC section.
func (r CwndReason) String() string {
	if r < numCwndReasons {
		return cwndReasonNames[r]
	}
	return "unknown"
}

// ackCwndReason is the rule by which an ACK moved the window: PRR in
// recovery, else the controller's phase.
func (t *TCB) ackCwndReason() CwndReason {
	if t.xs != nil && t.xs.ca == caRecovery && t.cc.UsesPRR() {
		return CwndPRR
	}
	switch t.cc.Phase() {
	case "slow_start":
		return CwndSlowStart
	case "css":
		return CwndHyStart
	case "congestion_avoidance":
		return CwndAvoidance
	case "recovery":
		return CwndRecovery // NewReno's window inflation, RFC 6582 §3.2
	}
	if t.cc.Name() == cc.NameBBR {
		return CwndBBR
	}
	return CwndOther
}
