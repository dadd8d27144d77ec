package tcp

import (
	"time"

	"github.com/synack-go/synack/wire"
)

// Listen puts a closed TCB into LISTEN (RFC 9293 §3.10.1, passive OPEN). The
// next SYN it receives moves it to SYN_RECEIVED; iss is the initial send
// sequence number it will use. A passive TCB that a RST sends back from
// SYN_RECEIVED to LISTEN (RFC 9293 Figure 5, note 1) is of no further use to
// a runtime that makes one TCB per SYN: such a runtime discards it.
func (t *TCB) Listen(iss Seq) {
	t.passive = true
	t.initSend(iss)
	t.setState(StateListen, "listen")
}

// Connect starts an active open (RFC 9293 §3.10.1): the TCB enters SYN_SENT
// and the next Poll sends a SYN with sequence iss.
func (t *TCB) Connect(iss Seq, now time.Duration) {
	t.passive = false
	t.initSend(iss)
	t.synNow = true
	t.setState(StateSynSent, "connect")
}

// SetTSOffset sets the value added to the millisecond clock to form our
// timestamps (RFC 7323 §5.4 recommends a random offset per connection).
func (t *TCB) SetTSOffset(off uint32) { t.ts.offset = off }

func (t *TCB) initSend(iss Seq) {
	t.snd.iss, t.snd.una, t.snd.nxt, t.snd.max, t.snd.sml = iss, iss, iss, iss, iss
	t.snd.bufSeq = iss + 1
}

// OpenFromCookie makes a closed TCB ESTABLISHED from the ACK that completed a
// SYN-cookie handshake (RFC 4987 §3.6): ack carries the cookie, and opts are
// the SYN's options the cookie recovered.
func (t *TCB) OpenFromCookie(ack *wire.TCPSegment, opts *wire.TCPOptions, now time.Duration) {
	t.passive = true
	t.initSend(ack.Ack - 1)
	t.snd.nxt, t.snd.max = ack.Ack, ack.Ack
	t.rcv.irs = ack.Seq - 1
	t.rcv.nxt = ack.Seq
	t.negotiate(opts, true)
	if t.ts.ok {
		t.ts.recent = ack.Options.TSVal
	}
	t.snd.una = ack.Ack
	t.snd.wnd = uint32(ack.Window) << t.snd.shift
	t.snd.maxWnd = t.snd.wnd
	t.snd.wl1, t.snd.wl2 = ack.Seq, ack.Ack
	t.rcv.adv = t.rcv.nxt.Add(t.rcvFree())
	t.setState(StateEstablished, "cookie ACK")
	t.established(now)
	t.Input(ack, now) // deliver any data the ACK carried
}

// negotiate applies the options of the peer's SYN: RFC 9293 §3.7.1 (MSS),
// RFC 7323 (window scale, timestamps) and RFC 2018 (SACK-permitted). weOffer
// says whether our SYN offered each option (a SYN-ACK answers only what the
// SYN offered).
func (t *TCB) negotiate(o *wire.TCPOptions, weOffer bool) {
	peerMSS := uint32(o.MSS)
	if peerMSS == 0 {
		peerMSS = defaultMSS
	}
	if o.HasWScale && weOffer && !t.cfg.DisableWindowScale {
		t.snd.shift = min(o.WScale, maxWindowScale)
		t.rcv.shift = t.cfg.WindowScale()
	}
	t.sackOK = o.SACKPermitted && !t.cfg.DisableSACK && weOffer
	if o.HasTS && weOffer && !t.cfg.DisableTimestamps {
		t.ts.ok = true
		t.ts.recent = o.TSVal
	}
	mss := min(peerMSS, t.cfg.mss())
	if t.ts.ok {
		mss -= min(mss, 12) // RFC 7323 §3: every segment then carries 12 bytes of options
	}
	// A peer's MSS of a few bytes would make a segment per few bytes, or
	// nothing at all: Linux's floor, 48 bytes of payload, whatever the peer
	// says (the ceiling, cfg.mss(), is what the link carries).
	t.snd.mss = max(mss, minSendMSS)
}

// negotiated reports whether the handshake's options (and the send MSS)
// are known: from the peer's SYN on.
func (t *TCB) negotiated() bool {
	return t.state == StateSynReceived || t.state.synchronized() || t.wasEstablished
}

// established runs once when the handshake completes.
func (t *TCB) established(now time.Duration) {
	t.forgetSoftError() // the handshake got through despite any ICMP error
	t.tmr.backoffs = 0
	t.tmr.rexStart = 0
	if t.snd.una == t.snd.max {
		t.tmr.kind, t.tmr.at = rexmitOff, 0
	}
	t.lastHeard = now
	t.armKeepalive(now)
	t.congestionChanged(CwndInitial)
}

// inputListen handles a segment in LISTEN: RFC 9293 §3.10.7.2.
func (t *TCB) inputListen(seg *wire.TCPSegment, now time.Duration) {
	switch {
	case seg.Flags&wire.RST != 0:
		return
	case seg.Flags&wire.ACK != 0:
		t.queueRST(seg.Ack, false)
		return
	case seg.Flags&wire.SYN == 0:
		t.drop(DropInvalid)
		return
	}
	t.rcv.irs = seg.Seq
	t.rcv.nxt = seg.Seq + 1
	t.negotiate(&seg.Options, true)
	t.snd.wnd = uint32(seg.Window) // a SYN's window is never scaled: RFC 7323 §2.2
	t.snd.maxWnd = t.snd.wnd
	t.snd.wl1 = seg.Seq
	t.synNow = true
	t.setState(StateSynReceived, "rcvd SYN")
	// Data on a SYN is not queued: the peer retransmits it once we ACK
	// only the SYN (RFC 9293 §3.10.7.2 allows either).
}

// inputSynSent handles a segment in SYN_SENT: RFC 9293 §3.10.7.3.
func (t *TCB) inputSynSent(seg *wire.TCPSegment, now time.Duration) {
	hasAck := seg.Flags&wire.ACK != 0
	if hasAck && (seg.Ack.LessEq(t.snd.iss) || seg.Ack.Greater(t.snd.max)) {
		if seg.Flags&wire.RST == 0 {
			t.queueRST(seg.Ack, false)
		}
		t.drop(DropBadAck)
		return
	}
	if seg.Flags&wire.RST != 0 {
		if hasAck {
			t.fail(errConnRefused, "rcvd RST")
			return
		}
		t.drop(DropRST)
		return
	}
	if seg.Flags&wire.SYN == 0 {
		t.drop(DropInvalid)
		return
	}
	t.rcv.irs = seg.Seq
	t.rcv.nxt = seg.Seq + 1
	t.negotiate(&seg.Options, true)
	t.snd.wl1, t.snd.wl2 = seg.Seq, seg.Ack
	t.snd.wnd = uint32(seg.Window)
	t.snd.maxWnd = t.snd.wnd
	t.rcv.adv = t.rcv.nxt.Add(t.rcvFree())
	if hasAck {
		t.snd.una = seg.Ack
		t.sampleSYN(now)
		t.setState(StateEstablished, "rcvd SYN-ACK")
		t.established(now)
		t.ackNow = true
		t.synNow = false
		return
	}
	// Simultaneous open: RFC 9293 §3.10.7.3, "Otherwise, enter SYN-RECEIVED".
	t.synNow = true
	t.setState(StateSynReceived, "rcvd SYN (simultaneous open)")
}

// sampleSYN takes an RTT sample from the handshake unless the SYN was
// retransmitted (Karn).
func (t *TCB) sampleSYN(now time.Duration) {
	if t.tmr.backoffs == 0 && t.rtt.timing {
		t.rtt.sample(now - t.rtt.timeAt)
	}
	t.rtt.timing = false
	t.rtt.rto = t.rtt.baseRTO()
}

// AcceptsNewSYN reports whether a SYN arriving for this connection while it is
// in TIME_WAIT may open a new incarnation (RFC 6191 §2): its timestamp is
// newer than the last one seen or, without timestamps, its sequence number is
// above RCV.NXT.
func (t *TCB) AcceptsNewSYN(seg *wire.TCPSegment) bool {
	if t.state != StateTimeWait || seg.Flags&(wire.SYN|wire.ACK|wire.RST) != wire.SYN {
		return false
	}
	if t.ts.ok && seg.Options.HasTS {
		return int32(seg.Options.TSVal-t.ts.recent) > 0
	}
	return seg.Seq.Greater(t.rcv.nxt)
}

// NextISS suggests an ISS for a connection that reuses this TIME_WAIT 4-tuple:
// above everything this incarnation sent.
func (t *TCB) NextISS() Seq { return t.snd.max + 1<<17 }
