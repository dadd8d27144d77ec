package tcp

import "time"

// RecoveryStats is what the loss-recovery unit and the congestion
// controller of a connection know, for statistics in the terms of Linux's
// tcp_info (TCP_INFO, ss -i). Sizes are bytes.
type RecoveryStats struct {
	CAState      uint8  // Linux's numbering: 0 Open, 1 Disorder, 2 CWR, 3 Recovery, 4 Loss
	CAStateName  string // "open", "disorder", "cwr", "recovery", "loss"
	Sacked       uint32 // bytes in flight the peer has SACKed (tcpi_sacked, in bytes)
	Lost         uint32 // bytes deemed lost and not yet acknowledged (tcpi_lost)
	Retrans      uint32 // bytes of retransmissions in flight (tcpi_retrans)
	Reordering   uint32 // the reordering the sender allows for, in segments (tcpi_reordering)
	ReorderSeen  uint64 // times the path was seen to reorder (tcpi_reord_seen)
	DSACKDups    uint64 // D-SACK blocks received (tcpi_dsack_dups)
	DSACKsSent   uint64 // duplicates received and reported as D-SACKs (RFC 2883)
	Spurious     uint64 // recoveries and timeouts undone as spurious (DSACK, timestamps, F-RTO)
	BytesRetrans uint64 // bytes retransmitted (tcpi_bytes_retrans)
	TLPRecovered uint64 // losses a tail loss probe repaired (TcpExtTCPLossProbeRecovery)
	MinRTT       time.Duration
	DeliveryRate uint64 // bytes per second, the last rate sample's (tcpi_delivery_rate)
	AppLimited   bool   // that sample was application-limited (tcpi_delivery_rate_app_limited)
	PacingRate   uint64 // bytes per second; 0: not pacing (tcpi_pacing_rate)
	Delivered    uint64 // bytes delivered over the connection's life (tcpi_delivered, in bytes)
	CC           string // the congestion control's name (TCP_CONGESTION)
	CCPhase      string // its state: "slow_start", "congestion_avoidance", "recovery", BBR's ...
}

// RecoveryStats returns the connection's recovery and congestion-control
// statistics. It does not allocate.
func (t *TCB) RecoveryStats() RecoveryStats {
	s := RecoveryStats{CAStateName: caOpen.String(), Reordering: dupThresh, CC: t.Congestion()}
	if t.cc != nil {
		s.CCPhase = t.cc.Phase()
	}
	if r := t.stats.rare; r != nil {
		s.DSACKsSent = r.DSACKsOut
	}
	xs := t.xs
	if xs == nil {
		return s
	}
	s.CAState, s.CAStateName = uint8(xs.ca), xs.ca.String()
	s.Sacked, s.Lost, s.Retrans = xs.sackedOut, xs.lostOut, xs.retransOut
	if !t.sackOK {
		s.Sacked = 0
	}
	if xs.rack.reordSeen && t.snd.mss > 0 {
		// RACK waits a reordering window instead of counting; in
		// segments, what it lets pass at the current delivery rate.
		s.Reordering = max(dupThresh, uint32(xs.rate.rs.DeliveryRate*uint64(t.reoWnd())/uint64(time.Second)/uint64(t.snd.mss)))
	}
	s.ReorderSeen, s.DSACKDups, s.Spurious, s.BytesRetrans = xs.reordSeen, xs.dsackDups, xs.spurious, xs.bytesResent
	if r := t.stats.rare; r != nil {
		s.TLPRecovered = r.TLPRecoveries
	}
	s.MinRTT = xs.rate.minRTT
	s.DeliveryRate, s.AppLimited = xs.rate.rs.DeliveryRate, xs.rate.rs.IsAppLimited
	s.PacingRate = xs.pace.rate
	s.Delivered = xs.rate.delivered
	return s
}
