package tcp

import "syscall"

// ICMP error messages about a connection's segments: RFC 1122 §4.2.3.9 and
// RFC 9293 §3.9.2.2 sort them into soft errors, which a TCP MUST NOT abort
// the connection on (MUST-56), and hard ones, which it SHOULD abort it on
// (SHLD-26). The runtime maps ICMP types and codes onto SoftError,
// HardError and LowerMTU; the TCB decides what they mean in each state.
// https://www.rfc-editor.org/rfc/rfc9293#section-3.9.2.2

// AcceptsICMP reports whether an ICMP error message quoting one of our
// segments with sequence number seq can be about this connection: RFC 5927
// §4.1 asks for SND.UNA <= seq < SND.NXT, where SND.NXT is the highest
// sequence number sent (ours rewinds on a timeout, so SND.MAX here). A
// blind attacker then has to guess a sequence number in flight, as for a
// RST (RFC 5961). A connection in LISTEN or CLOSED accepts none; nor does
// one with nothing in flight.
// https://www.rfc-editor.org/rfc/rfc5927#section-4.1
func (t *TCB) AcceptsICMP(seq Seq) bool {
	if t.state == StateClosed || t.state == StateListen {
		return false
	}
	return seq.Within(t.snd.una, t.snd.max)
}

// SoftError records err (such as syscall.EHOSTUNREACH or ENETUNREACH),
// reported by an ICMP message that signals a soft error: RFC 9293 §3.9.2.2
// counts destination unreachable codes 0, 1 and 5, time exceeded and
// parameter problem. The connection goes on in every state, a connect
// included: if it later times out (SYN retries, retransmissions or
// keepalive probes exhausted), Err returns the latest soft error instead of
// ETIMEDOUT (RFC 1122 §4.2.3.9 "only when and if the TCP connection times
// out"). An ACK that acknowledges new data, or completes the handshake,
// forgets it: something got through. Call it only when AcceptsICMP allowed
// the message.
func (t *TCB) SoftError(err error) {
	if t.state == StateClosed || t.state == StateListen {
		return
	}
	t.rare().softErr = err
}

// HardError applies err (such as syscall.ECONNREFUSED for port unreachable),
// reported by an ICMP message that signals a hard error: RFC 9293 §3.9.2.2
// counts protocol and port unreachable. Before the connection is
// synchronized, in SYN_SENT and SYN_RECEIVED, it is aborted with err and
// without a RST, as the RFC says it SHOULD be: a connect fails with err, and
// a half-open passive connection disappears. In a synchronized state the
// error counts as a soft one (see SoftError): RFC 5927 §5.2's defence
// against blind connection resets by forged ICMP, which Linux applies too.
// Call it only when AcceptsICMP allowed the message.
func (t *TCB) HardError(err error) {
	switch t.state {
	case StateClosed, StateListen:
	case StateSynSent, StateSynReceived:
		t.fail(err, "ICMP hard error")
	default:
		t.SoftError(err)
	}
}

// forgetSoftError drops the ICMP soft error kept for a timeout.
func (t *TCB) forgetSoftError() {
	if r := t.stats.rare; r != nil {
		r.softErr = nil
	}
}

// timeoutErr is the error a connection that timed out ends with: the soft
// error that explains the timeout, if one came, else ETIMEDOUT.
func (t *TCB) timeoutErr() error {
	if r := t.stats.rare; r != nil && r.softErr != nil {
		return r.softErr
	}
	return syscall.ETIMEDOUT
}
