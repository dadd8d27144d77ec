package tcp

import "time"

// minPathMSS is the smallest send MSS LowerMTU sets, whatever it is told
// (ours: the floor negotiate keeps too). The runtime already bounds the
// path MTU by each family's minimum (RFC 1191 §3 and RFC 8201 §4).
const minPathMSS = 64

// LowerMTU applies a smaller path MTU reported by an ICMPv4
// fragmentation-needed (RFC 1191) or ICMPv6 packet-too-big (RFC 8201)
// message. mss is the largest TCP payload the path now carries in a segment
// without options: the path MTU less the IP header and the 20-byte TCP
// header (RFC 1191 §3.1 defines the MSS so); the TCB takes its own options
// (timestamps) off that. If the result is below the current send MSS, every later segment
// uses it and the congestion window keeps its size in segments; and the
// data in flight, which the path dropped, is sent again at the next Poll in
// segments of the new size, at once and without counting as congestion
// (RFC 1191 §6.4, RFC 8201 §5.4; Linux's tcp_simple_retransmit). It reports
// whether the MSS went down. An MTU that is not smaller changes nothing and
// resends nothing: an ICMP message MUST NOT raise the estimate (RFC 1191 §3,
// RFC 8201 §4), and a burst of oversized segments brings one message each,
// which MUST NOT each cause a retransmission (RFC 1191 §6.4). Nor does one
// that comes before the handshake has negotiated an MSS (a SYN never
// approaches any MTU). Call it only when AcceptsICMP allowed the message.
// https://www.rfc-editor.org/rfc/rfc1191#section-6.4
func (t *TCB) LowerMTU(mss uint32, now time.Duration) bool {
	if !t.negotiated() || t.state == StateClosed || t.state == StateListen {
		return false
	}
	if t.ts.ok {
		mss -= min(mss, 12) // RFC 7323 §3: every segment carries 12 bytes of options
	}
	mss = max(mss, minPathMSS)
	if mss >= t.snd.mss {
		return false
	}
	t.snd.mss = mss
	if t.cc != nil {
		t.cc.SetMSS(mss)
		t.congestionChanged(CwndMSS)
	}
	if t.state.synchronized() && t.snd.una != t.snd.iss && t.snd.una.Less(t.snd.max) {
		t.resendInFlight(now)
	}
	return true
}
