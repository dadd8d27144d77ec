// Package cc holds congestion control for package tcp behind one interface,
// so that NewReno, CUBIC and BBR are interchangeable.
//
// A Controller is fed with what the sender learns: one rate sample per ACK
// (draft-ietf-ccwg-bbr §4.1, the delivery-rate estimation that grew out of
// draft-cheng-iccrg-delivery-rate-estimation), each packet marked lost, and
// the loss-recovery events of the TCB. It answers with a congestion window,
// a pacing rate and a send quantum. Controllers are sans-IO like the TCB:
// they read no clock (every event carries now), start no goroutine and
// allocate nothing per event.
//
// # When the TCB calls what
//
// Once, when the handshake has negotiated the segment size and SACK:
//
//	c, err := cc.New(name, mss)   // before any other call
//	c.SetSACK(sackOK)             // RFC 2018 negotiated or not
//
// For every ACK that is not older than SND.UNA (RFC 9293 §3.10.7.4), in the
// order Linux's tcp_ack uses:
//
//  1. the transmit record takes the cumulative and selective
//     acknowledgments; each newly delivered packet updates the rate sampler
//     (UpdateRateSample, draft §4.1.2.3);
//  2. loss detection (RACK, RFC 8985 §6.2; RFC 6675 IsLost) marks packets
//     lost: OnPacketLost once per packet, in sequence order;
//  3. if this ACK starts loss recovery: OnCongestionEvent, once per
//     episode (RFC 6582 §3.2 step 2: not again until the ACK passes
//     "recover"); if it ends recovery (the ACK passes "recover"):
//     OnRecoveryExit; if it proves the last recovery or timeout spurious
//     (DSACK, RFC 3708; timestamps, RFC 3522; F-RTO, RFC 5682):
//     OnSpuriousCongestion;
//  4. the rate sample is generated (GenerateRateSample, draft §4.1.2.3)
//     and passed to OnAck. A duplicate ACK that neither delivers nor marks
//     anything may be skipped.
//
// Then the TCB reads Cwnd, PacingRate and SendQuantum before it sends.
//
// On the retransmission timeout (RFC 6298 §5.4), before resending:
// OnRTO; then, if the TCB marks what was outstanding lost (as Linux's
// tcp_enter_loss does), OnPacketLost for each such packet. A timeout is both a congestion event and, for recovery purposes,
// the start of an episode that OnRecoveryExit ends (when the ACK passes the
// SND.MAX of the timeout) or OnSpuriousCongestion undoes.
//
// When new data is about to be sent and nothing is in flight after the
// application had nothing to send: OnIdleRestart (RFC 5681 §4.1, RFC 9438
// §5.8, draft-ietf-ccwg-bbr §5.4). The controller decides what idle means to
// it (NewReno and CUBIC restart from the initial window only after more
// than one RTO).
//
// When the path MTU lowers the segment size: SetMSS.
//
// During recovery the TCB owns the window of NewReno and CUBIC through PRR
// (RFC 6937), with Ssthresh as its target, when UsesPRR reports true; BBR
// (UsesPRR false) sets the window itself (draft §5.6.4.4) and the TCB sends
// up to Cwnd.
//
// # Units and conventions
//
// Sizes are bytes, rates bytes per second, times the stack's monotonic
// time.Duration. A Controller is not safe for concurrent use: it belongs
// to one TCB.
package cc

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Controller decides the congestion window, the pacing rate and the send
// quantum of one connection. The package comment says when the TCB calls
// each method. A Controller is not safe for concurrent use.
type Controller interface {
	// Name returns the algorithm's name, as Linux's TCP_CONGESTION spells
	// it: "reno", "cubic" or "bbr".
	Name() string
	// SetMSS sets the sender's segment size (SMSS, RFC 5681 §2). New sets
	// the first; the TCB calls SetMSS again whenever the path MTU changes
	// it.
	SetMSS(mss uint32)
	// SetSACK tells whether the peer sends SACK (RFC 2018): with it a
	// sender can see more than one loss per round trip
	// (C.has_selective_acks, draft-ietf-ccwg-bbr §2.2). The default is
	// false; the TCB calls it once after the handshake.
	SetSACK(ok bool)

	// OnAck reports one ACK's rate sample, after OnPacketLost and the
	// recovery events that ACK caused. The sample is the caller's, passed
	// by pointer because the TCB makes one per ACK: the controller reads
	// it during the call and keeps no reference.
	OnAck(rs *RateSample)
	// OnPacketLost reports one packet that loss detection has just marked
	// lost (draft-ietf-ccwg-bbr §5.2.4), whether or not it starts a
	// recovery episode.
	OnPacketLost(p LostPacket)
	// OnCongestionEvent reports the start of loss recovery or an ECN
	// congestion response: the multiplicative decrease of RFC 5681 §3.2,
	// RFC 9438 §4.6, draft-ietf-ccwg-bbr §5.6.4.4.
	OnCongestionEvent(ev CongestionEvent)
	// OnRecoveryExit reports the ACK that ends a recovery episode started
	// by OnCongestionEvent or OnRTO (RFC 6582 §3.2 step 3, RFC 6675 §5,
	// RFC 6937 §3.1).
	OnRecoveryExit(now time.Duration)
	// OnRTO reports a retransmission timeout (RFC 5681 §3.1, RFC 6298
	// §5.5); inflight is the FlightSize when it fired, before anything is
	// marked lost.
	OnRTO(now time.Duration, inflight uint32)
	// OnSpuriousCongestion reports that the latest congestion event or
	// timeout was spurious: the controller restores what it saved there
	// (RFC 4015 §3, RFC 9438 §4.9, draft-ietf-ccwg-bbr §5.5.11).
	OnSpuriousCongestion(now time.Duration)
	// OnIdleRestart reports that the sender is about to send new data with
	// nothing in flight after running out of data; idle is how long
	// nothing was in flight, rto the current retransmission timeout.
	OnIdleRestart(now, idle, rto time.Duration)

	// Cwnd returns the congestion window in bytes.
	Cwnd() uint32
	// Ssthresh returns the slow-start threshold in bytes (math.MaxUint32
	// while unset; BBR keeps none).
	Ssthresh() uint32
	// PacingRate returns the rate in bytes per second at which the TCB
	// should pace its segments; 0 means do not pace.
	PacingRate() uint64
	// SendQuantum returns the most bytes the TCB should send back to back
	// before the pacer may hold it (C.send_quantum, draft-ietf-ccwg-bbr
	// §5.6.3; Linux's tcp_tso_autosize for the others).
	SendQuantum() uint32
	// UsesPRR reports whether the TCB should govern the window during
	// recovery with PRR (RFC 6937), aiming at Ssthresh.
	UsesPRR() bool
	// Phase names the controller's state for traces and statistics:
	// "slow_start", "css", "congestion_avoidance", "recovery", or BBR's
	// "startup", "drain", "probe_bw_down", "probe_bw_cruise",
	// "probe_bw_refill", "probe_bw_up", "probe_rtt".
	Phase() string
}

// RateSample is what one ACK tells congestion control: the per-ACK rate
// sample of draft-ietf-ccwg-bbr §2.3 and §4.1.2.1.3, and the connection
// state the controller reads at that moment. The TCB fills it from its
// transmit record and rate sampler.
type RateSample struct {
	// Now is the time the ACK was processed.
	Now time.Duration

	// NewlyAcked is RS.newly_acked: bytes cumulatively or selectively
	// acknowledged by this ACK for the first time (RFC 6937's
	// DeliveredData).
	NewlyAcked uint32
	// NewlyLost is RS.newly_lost: bytes marked lost while processing this
	// ACK.
	NewlyLost uint32
	// RTT is RS.rtt: the round-trip time of the most recently sent packet
	// this ACK newly acknowledges, when unambiguous (Karn, or timestamps);
	// zero when there is none.
	RTT time.Duration
	// SRTT is the smoothed RTT after this ACK (RFC 6298); zero before the
	// first sample.
	SRTT time.Duration

	// DeliveryRate is RS.delivery_rate in bytes per second: Delivered over
	// Interval, or zero when this ACK gives no valid sample
	// (draft-ietf-ccwg-bbr §4.1.2.3 GenerateRateSample).
	DeliveryRate uint64
	// Delivered is RS.delivered: bytes delivered between the send of the
	// most recently sent packet this ACK acknowledges and now.
	Delivered uint64
	// Interval is RS.interval, the sample's length.
	Interval time.Duration
	// PriorDelivered is RS.prior_delivered: P.delivered of the most
	// recently sent packet this ACK acknowledges. Controllers count
	// packet-timed round trips with it (draft §5.5.1).
	PriorDelivered uint64
	// IsAppLimited is RS.is_app_limited: the sample may understate the
	// path because the sender ran out of data (draft §4.1.1.3).
	IsAppLimited bool
	// TxInFlight is RS.tx_in_flight: the bytes in flight right after that
	// packet was sent.
	TxInFlight uint32
	// Lost is RS.lost: bytes marked lost between that packet's send and
	// now.
	Lost uint64

	// TotalDelivered is C.delivered after this ACK: bytes delivered over
	// the connection's life.
	TotalDelivered uint64
	// Inflight is C.inflight after this ACK: the bytes the sender believes
	// are in the network (RFC 6675's pipe; FlightSize without SACK).
	Inflight uint32
	// IsCwndLimited is C.is_cwnd_limited: the sender filled the congestion
	// window at some point in the last packet-timed round trip. With
	// Delivered (RFC 7661's pipeACK) it tells whether the window is
	// validated and may grow.
	IsCwndLimited bool
	// SACKOnly says the ACK did not advance SND.UNA: what it delivered,
	// it delivered by SACK. NewReno and CUBIC grow the window only on
	// ACKs that advance it (RFC 5681 §3.1, "each ACK received that
	// cumulatively acknowledges new data"; Linux's tcp_may_raise_cwnd),
	// so that limited transmit (RFC 3042) sends one segment per
	// duplicate ACK, not two.
	SACKOnly bool
}

// LostPacket describes one packet just marked lost, with the snapshot taken
// when it was sent (draft-ietf-ccwg-bbr §4.1.2.1.2 and §5.5.10.2). With
// TCP segmentation offload a "packet" is the whole burst sent as one.
type LostPacket struct {
	// Now is when loss detection marked it.
	Now time.Duration
	// Size is the packet's payload in bytes.
	Size uint32
	// TxInFlight is P.tx_in_flight: bytes in flight right after its send,
	// itself included.
	TxInFlight uint32
	// LostAtSend is P.lost: C.lost when it was sent.
	LostAtSend uint64
	// TotalLost is C.lost now, this packet included.
	TotalLost uint64
	// TotalDelivered is C.delivered now.
	TotalDelivered uint64
	// IsAppLimited is P.is_app_limited.
	IsAppLimited bool
}

// CongestionRule names the rule that detected a congestion event, so a
// trace can say why the window changed.
type CongestionRule uint8

// The rules that start a recovery episode or a congestion response.
const (
	// RuleDupAcks is the third duplicate ACK: RFC 5681 §3.2 step 2,
	// RFC 6582 §3.2.
	RuleDupAcks CongestionRule = iota + 1
	// RuleSACK is RFC 6675 §5: IsLost(SND.UNA) from the scoreboard,
	// DupThresh segments SACKed above it.
	RuleSACK
	// RuleRACK is RFC 8985 §6.2: a packet sent a reordering window before
	// one that was delivered.
	RuleRACK
	// RuleTLP is RFC 8985 §7.4: a tail loss probe repaired a loss.
	RuleTLP
	// RuleECE is an ECN-Echo (RFC 3168 §6.1.2). Reserved: synack does not
	// negotiate ECN yet.
	RuleECE
)

var ruleNames = [...]string{"", "dupacks", "sack", "rack", "tlp", "ece"}

// String returns the rule's short name, as traces print it.
func (r CongestionRule) String() string {
	if int(r) < len(ruleNames) && r != 0 {
		return ruleNames[r]
	}
	return fmt.Sprintf("rule(%d)", uint8(r))
}

// CongestionEvent is the start of loss recovery or of an ECN response.
type CongestionEvent struct {
	// Now is when the TCB detected it.
	Now time.Duration
	// Rule is what detected it.
	Rule CongestionRule
	// Inflight is RFC 5681's FlightSize when the event was detected: the
	// bytes sent and not yet cumulatively acknowledged.
	Inflight uint32
}

// Names of the algorithms New knows.
const (
	NameReno  = "reno"
	NameCUBIC = "cubic"
	NameBBR   = "bbr"
)

// ErrUnknown is returned by New for a name it does not know.
var ErrUnknown = errors.New("cc: unknown congestion control")

// New returns a controller by the name Linux gives it ("reno", "cubic",
// "bbr") for a sender whose segments carry mss bytes, with each algorithm's
// defaults. An unknown name returns an error wrapping ErrUnknown.
func New(name string, mss uint32) (Controller, error) {
	switch name {
	case NameReno:
		return NewReno(mss), nil
	case NameCUBIC:
		return NewCUBIC(mss, CUBICConfig{}), nil
	case NameBBR:
		return NewBBR(mss, BBRConfig{}), nil
	}
	return nil, fmt.Errorf("%w %q (want %q, %q or %q)", ErrUnknown, name, NameReno, NameCUBIC, NameBBR)
}

// Names lists the algorithms New knows.
func Names() []string { return []string{NameReno, NameCUBIC, NameBBR} }

// InitialWindow is RFC 6928 §2: min(10*MSS, max(2*MSS, 14600)).
func InitialWindow(mss uint32) uint32 {
	return min(10*mss, max(2*mss, 14600))
}

// noSsthresh is RFC 5681 §3.1's "arbitrarily high" initial ssthresh.
const noSsthresh = math.MaxUint32

func satAdd(a, b uint32) uint32 {
	if a > math.MaxUint32-b {
		return math.MaxUint32
	}
	return a + b
}

// clamp32 converts a non-negative 64-bit byte count to uint32, saturating.
func clamp32(v uint64) uint32 {
	if v > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(v)
}
