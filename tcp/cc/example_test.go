package cc_test

import (
	"fmt"
	"time"

	"github.com/synack-go/synack/tcp/cc"
)

// The calls a TCB makes, in order, for one connection: set-up after the
// handshake, an ACK that reveals a loss and starts recovery, the ACK that
// ends it, and what the sender reads before it sends.
func Example() {
	c, err := cc.New("cubic", 1448)
	if err != nil {
		panic(err)
	}
	c.SetSACK(true)
	fmt.Println(c.Name(), c.Phase(), c.Cwnd())

	now := 50 * time.Millisecond
	// An ACK: first each packet loss detection marks lost (with the
	// snapshot its transmit record took at send)...
	c.OnPacketLost(cc.LostPacket{Now: now, Size: 1448, TxInFlight: 10 * 1448, TotalLost: 1448, TotalDelivered: 1448})
	// ...then the recovery event, once per episode...
	c.OnCongestionEvent(cc.CongestionEvent{Now: now, Rule: cc.RuleRACK, Inflight: 10 * 1448})
	// ...then the ACK's rate sample.
	c.OnAck(&cc.RateSample{Now: now, NewlyAcked: 1448, NewlyLost: 1448, RTT: 20 * time.Millisecond,
		SRTT: 20 * time.Millisecond, TotalDelivered: 2 * 1448, Inflight: 7 * 1448, IsCwndLimited: true})
	fmt.Println(c.Phase(), c.Cwnd(), c.Ssthresh(), c.UsesPRR())

	// The ACK that passes "recover" ends the episode: cwnd = ssthresh,
	// and the Reno-friendly region (RFC 9438 §4.3) sets the first growth.
	now += 20 * time.Millisecond
	c.OnRecoveryExit(now)
	c.OnAck(&cc.RateSample{Now: now, NewlyAcked: 8 * 1448, RTT: 20 * time.Millisecond,
		SRTT: 20 * time.Millisecond, TotalDelivered: 10 * 1448, IsCwndLimited: true})
	fmt.Println(c.Phase(), c.Cwnd(), c.PacingRate(), c.SendQuantum())
	// Output:
	// cubic slow_start 14480
	// recovery 10136 10136 true
	// congestion_avoidance 11012 660720 2896
}
