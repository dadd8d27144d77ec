package tcp

import (
	"math"
	"time"
)

// Info is a connection's state in the terms of Linux's struct tcp_info
// (getsockopt TCP_INFO, ss -i): windows and queues in segments, as Linux
// counts them, so that tools and tests written for Linux read synack the
// same way. Where synack keeps bytes, counts are rounded up to segments of
// the send MSS.
type Info struct {
	State       uint8 // Linux's numbering: 1 ESTABLISHED, 2 SYN_SENT ... 10 LISTEN, 11 CLOSING
	CAState     uint8 // 0 Open, 1 Disorder (duplicate ACKs), 3 Recovery, 4 Loss (after a timeout)
	Retransmits uint8 // timeouts in a row, this episode
	Probes      uint8 // unanswered zero-window or keepalive probes
	Backoff     uint8 // RTO doublings in effect
	Options     uint8 // 1 timestamps, 2 SACK, 4 window scaling: Linux's TCPI_OPT_*
	SndWScale   uint8 // the peer's window shift
	RcvWScale   uint8 // ours

	RTO time.Duration
	ATO time.Duration // the delayed-ACK timeout

	SndMSS, RcvMSS, AdvMSS uint32 // bytes
	Unacked                uint32 // segments sent and not yet acknowledged
	Sacked                 uint32 // of those, segments the peer SACKed
	Lost                   uint32 // segments deemed lost and not yet resent
	Retrans                uint32 // segments resent and not yet acknowledged
	PMTU                   uint32

	RTT, RTTVar           time.Duration
	SndSsthresh, SndCwnd  uint32 // segments; SndSsthresh is 0x7fffffff before any loss, as Linux reports it
	Reordering            uint32 // the duplicate-ACK threshold
	TotalRetrans          uint32
	BytesAcked, BytesRecv uint64
	BytesSent             uint64
	SegsOut, SegsIn       uint32
	Delivered             uint32 // segments acknowledged, as Linux's count with the SYN
	SndWnd, RcvWnd        uint32 // bytes
	TotalRTO              uint16
}

// linuxState maps our states to the numbers of Linux's tcp_states.h.
var linuxState = [...]uint8{
	StateClosed: 7, StateListen: 10, StateSynSent: 2, StateSynReceived: 3,
	StateEstablished: 1, StateFinWait1: 4, StateFinWait2: 5, StateCloseWait: 8,
	StateClosing: 11, StateLastAck: 9, StateTimeWait: 6,
}

// Info returns the connection's tcp_info. It does not allocate.
func (t *TCB) Info() Info {
	mss := max(t.snd.mss, 1)
	segs := func(b uint32) uint32 { return (b + mss - 1) / mss }
	in := Info{
		State:       linuxState[t.state],
		Retransmits: uint8(min(t.tmr.backoffs, 255)),
		Backoff:     uint8(min(t.tmr.backoffs, 255)),
		SndWScale:   t.snd.shift,
		RcvWScale:   t.rcv.shift,
		RTO:         t.rtt.rto,
		ATO:         t.cfg.delayedAck(),
		SndMSS:      t.snd.mss,
		RcvMSS:      t.rcv.segMSS,
		AdvMSS:      t.rcv.mss,
		RTT:         t.rtt.srtt,
		RTTVar:      t.rtt.rttvar,
		SndWnd:      t.snd.wnd,
		RcvWnd:      t.rcvWindow(),
	}
	if t.ts.ok {
		in.Options |= 1
	}
	if t.sackOK {
		in.Options |= 2
	}
	if t.snd.shift != 0 || t.rcv.shift != 0 {
		in.Options |= 4
	}
	in.Probes = uint8(min(t.probes(), 255))
	if t.negotiated() {
		cwnd, ss, _, _ := t.SendRate()
		in.SndCwnd = cwnd / mss
		in.SndSsthresh = math.MaxInt32
		if ss < math.MaxInt32 {
			in.SndSsthresh = ss / mss
		}
		in.PMTU = t.snd.mss + 40
		if t.ts.ok {
			in.PMTU += 12
		}
	}
	rs := t.RecoveryStats()
	in.CAState = rs.CAState
	in.Unacked = segs(t.flight())
	in.Sacked = segs(rs.Sacked)
	in.Lost = segs(rs.Lost)
	in.Retrans = segs(rs.Retrans)
	in.Reordering = rs.Reordering
	s := &t.stats
	in.TotalRetrans = uint32(s.Retransmits)
	in.BytesAcked = s.BytesAcked
	in.BytesRecv = s.BytesReceived
	in.BytesSent = s.BytesSent
	in.SegsOut = uint32(s.SegsOut)
	in.SegsIn = uint32(s.SegsIn)
	if r := s.rare; r != nil {
		in.TotalRTO = uint16(min(r.RTOs, math.MaxUint16))
	}
	in.Delivered = uint32((s.BytesAcked+uint64(mss)-1)/uint64(mss)) + 1 // the SYN counts
	if !t.wasEstablished {
		in.Delivered = 0
	}
	return in
}
