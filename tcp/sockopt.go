package tcp

import (
	"math/bits"
	"time"
)

// A connection's own settings, Linux's per-socket options (tcp(7)), beside
// the Config it shares with others. Settings that are Config fields
// (TCP_USER_TIMEOUT, TCP_QUICKACK) give the TCB a copy of its Config with
// the field changed: the shared Config is never modified.

// sockopts is the per-connection state the options need.
type sockopts struct {
	base    *Config // the Config before any per-connection change; nil: none made
	cork    bool    // TCP_CORK or MSG_MORE: hold partial segments
	mssUser uint16  // TCP_MAXSEG
}

// opts returns the TCB's options, made on first use: most connections
// never set one, and carry none (40 bytes less each).
func (t *TCB) opts() *sockopts {
	if t.opt == nil {
		t.opt = new(sockopts)
	}
	return t.opt
}

// own makes t.cfg the TCB's own copy, to be changed.
func (t *TCB) own() *Config {
	if o := t.opts(); o.base == nil {
		o.base = t.cfg
		c := *t.cfg
		t.cfg = &c
	}
	return t.cfg
}

// Reconfigure gives a TCB that is not yet open (CLOSED, before Listen or
// Connect) another Config, as socket options set before connect(2) or
// inherited from a listener do. cfg must stay unchanged while the TCB
// lives. It does nothing to a TCB already open.
func (t *TCB) Reconfigure(cfg *Config) {
	if t.state != StateClosed || t.wasEstablished {
		return
	}
	t.cfg = cfg
	if t.opt != nil {
		t.opt.base = nil
	}
	t.snd.buf.size = int32(clampBuf(cfg.SendBuf))
	t.rcv.buf.size = int32(clampBuf(cfg.RecvBuf))
	t.rcv.mss = cfg.mss()
	t.rcv.initRcvMSS()
	t.tmr.noDelay = cfg.NoDelay
}

// SetUserTimeout sets how long sent data may stay unacknowledged, or the
// peer's closed window silent to our probes, before the connection fails
// with ETIMEDOUT: RFC 5482's user timeout, Linux's TCP_USER_TIMEOUT. Zero
// restores the Config's DataRetryTimeout.
func (t *TCB) SetUserTimeout(d time.Duration) {
	c := t.own()
	if d <= 0 {
		d = t.opts().base.DataRetryTimeout
	}
	c.DataRetryTimeout = d
}

// UserTimeout returns the user timeout set with SetUserTimeout, or zero.
func (t *TCB) UserTimeout() time.Duration {
	if t.opt == nil || t.opt.base == nil || t.cfg.DataRetryTimeout == t.opt.base.DataRetryTimeout {
		return 0
	}
	return t.cfg.DataRetryTimeout
}

// SetQuickAck turns delayed ACKs off (on = true: every segment that calls
// for an ACK gets one at once, and an ACK already delayed goes now) or
// back to the Config's. Linux's TCP_QUICKACK leaves quick-ACK mode by
// itself after a while; this one lasts until turned off. Off also ends
// the automatic quick-ACK mode of the connection's start and after idle
// (quickack.go) for good, as TCP_QUICKACK 0 puts Linux in pingpong mode.
func (t *TCB) SetQuickAck(on bool) {
	c := t.own()
	t.rcv.quick.off = !on
	if on {
		c.DelayedAck = -1
		if t.tmr.delack != 0 {
			t.tmr.delack = 0
			t.ackNow = true
		}
		return
	}
	c.DelayedAck = t.opts().base.DelayedAck
}

// QuickAck reports whether delayed ACKs are off.
func (t *TCB) QuickAck() bool { return t.cfg.delayedAck() == 0 }

// SetCork holds back segments shorter than the MSS while on, as Linux's
// TCP_CORK and MSG_MORE do, so that several writes leave in full segments;
// turning it off lets the held data go at the next Poll. A FIN is never
// held. Linux also sends corked data after 200 ms; this cork waits for the
// user.
func (t *TCB) SetCork(on bool) {
	if on || t.opt != nil {
		t.opts().cork = on
	}
}

// Corked reports whether SetCork is on.
func (t *TCB) Corked() bool { return t.opt != nil && t.opt.cork }

// corked reports whether a partial segment must wait for more data.
func (t *TCB) corked() bool { return t.opt != nil && t.opt.cork && !t.shutWr }

// SetMSS clamps the segment size, Linux's TCP_MAXSEG: before the handshake
// it lowers the MSS we advertise and the one we send with (min of ours and
// the peer's); afterwards it lowers the send MSS. Values outside 88..65495
// bytes are refused (false), as Linux refuses them.
func (t *TCB) SetMSS(mss int) bool {
	if mss < 88 || mss > 65495 {
		return false
	}
	t.opts().mssUser = uint16(mss)
	if !t.state.synchronized() && t.state != StateSynReceived {
		c := t.own()
		c.MSS = min(uint16(mss), t.opts().base.mssOrZero())
		t.rcv.mss = c.mss()
		t.rcv.initRcvMSS()
		return true
	}
	if uint32(mss) < t.snd.mss {
		t.snd.mss = uint32(mss)
		if t.cc != nil {
			t.cc.SetMSS(t.snd.mss)
			t.congestionChanged(CwndMSS)
		}
	}
	return true
}

// mssOrZero is the configured MSS, or the largest if none is set.
func (c *Config) mssOrZero() uint16 {
	if c.MSS == 0 {
		return 65535
	}
	return c.MSS
}

// MSS returns the segment size TCP_MAXSEG reports: the send MSS once the
// options are negotiated; before, the clamp set with SetMSS, else 536 (RFC
// 9293 §3.7.1's default), as Linux does.
func (t *TCB) MSS() int {
	if t.negotiated() {
		return int(t.snd.mss)
	}
	if t.opt != nil && t.opt.mssUser != 0 {
		return int(t.opt.mssUser)
	}
	return defaultMSS
}

// SetCongestion chooses the congestion control by name (see
// CongestionControl), Linux's TCP_CONGESTION; it reports false for a name
// it does not know. A controller already at work is replaced by the new
// one, which starts afresh from the initial window (Linux keeps the
// window; ours belongs to the controller).
func (t *TCB) SetCongestion(name string) bool {
	if _, ok := CongestionControl(name); !ok {
		return false
	}
	c := t.own()
	c.NewCC, c.CongestionControl = nil, name
	if t.cc != nil {
		t.cc = c.newCC(t.snd.mss, uint64(t.snd.iss))
		t.cc.SetMSS(t.snd.mss)
		t.cc.SetSACK(t.sackOK)
		t.congestionChanged(CwndCCChange)
	}
	return true
}

// Congestion returns the name of the congestion control in use.
func (t *TCB) Congestion() string {
	if t.cc != nil && t.cfg.NewCC != nil {
		return t.cc.Name()
	}
	return t.cfg.ccName()
}

// SendSpace returns how many bytes Write would take now without blocking.
func (t *TCB) SendSpace() int {
	if !t.state.canSend() && t.state != StateSynSent && t.state != StateSynReceived || t.shutWr || t.err != nil {
		return 0
	}
	return t.snd.buf.free()
}

// PeerClosed reports whether the peer's FIN has been received (Linux's
// RCV_SHUTDOWN by the peer: POLLRDHUP).
func (t *TCB) PeerClosed() bool { return t.finRcvd }

// defaultMaxRecvBuf is Config.MaxRecvBuf's default: Linux's tcp_rmem[2]
// (6 MiB), for its usual shift of 7.
const defaultMaxRecvBuf = 6 << 20

// WindowScale is the shift a connection with this Config offers: as
// Linux's tcp_select_initial_window, ⌊log2⌋ of the largest receive buffer
// (MaxRecvBuf) less 15, within 0..14 (RFC 7323 §2.3). A SYN-cookie
// SYN-ACK must offer the same shift as the TCB the cookie later opens.
func (c *Config) WindowScale() uint8 {
	s := bits.Len(uint(c.maxRecvBuf())) - 1 - 15
	return uint8(min(max(s, 0), maxWindowScale))
}

// maxRecvBuf is MaxRecvBuf or its default.
func (c *Config) maxRecvBuf() int {
	if c.MaxRecvBuf <= 0 {
		return defaultMaxRecvBuf
	}
	return c.MaxRecvBuf
}

// KeepAlive returns the keepalive idle time (zero: off), probe interval
// and probe count.
func (t *TCB) KeepAlive() (idle, interval time.Duration, count int) {
	return t.tmr.keepIdle, t.tmr.keepIntvl, int(t.tmr.keepCount)
}
