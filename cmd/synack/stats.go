package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/synack-go/synack"
	"github.com/synack-go/synack/tcp"
)

// writeStatsTable writes one line per connection, as `ss -ti` would show
// it: state, addresses, smoothed RTT and its variance, RTO, congestion
// window (in segments and bytes) and slow-start threshold, bytes each way
// and retransmissions.
func writeStatsTable(w io.Writer, rows []synack.ConnInfo) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STATE\tLOCAL\tPEER\tRTT/VAR ms\tRTO ms\tCWND\tSSTHRESH\tSENT\tACKED\tRECEIVED\tRETRANS")
	for _, r := range rows {
		s := r.Stats
		cwnd := "-"
		if s.MSS > 0 {
			cwnd = fmt.Sprintf("%d (%s)", s.Cwnd/s.MSS, size(uint64(s.Cwnd)))
		}
		ssthresh := "-"
		if s.Ssthresh < 1<<30 {
			ssthresh = size(uint64(s.Ssthresh))
		}
		fmt.Fprintf(tw, "%v\t%v\t%v\t%s/%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n",
			s.State, r.Local, r.Remote, millis(s.RTT), millis(s.RTTVar), millis(s.RTO),
			cwnd, ssthresh, size(s.BytesSent), size(s.BytesAcked), size(s.BytesReceived), s.Retransmits)
	}
	return tw.Flush()
}

// tcpInfo is a connection's tcp_info on one line, the way `ss -ti` prints
// it below each socket: congestion control and its state, RTO, RTT, MSS,
// windows, bytes each way, what recovery knows (unacked, retransmitted,
// lost, SACKed bytes, reordering, D-SACKs), probes and backoff, minimum
// and receiver RTT, receive space, buffer sizes, pacing and delivery rates.
// Times are milliseconds, sizes bytes, rates bits per second.
func tcpInfo(s tcp.Stats) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s ca_state:%s rto:%s rtt:%s/%s backoff:%d mss:%d cwnd:%d",
		s.CC, s.CAStateName, millis(s.RTO), millis(s.RTT), millis(s.RTTVar), s.Backoff, s.MSS, s.Cwnd)
	if s.Ssthresh < 1<<30 {
		fmt.Fprintf(&b, " ssthresh:%d", s.Ssthresh)
	}
	fmt.Fprintf(&b, " bytes_sent:%d bytes_retrans:%d bytes_acked:%d bytes_received:%d",
		s.BytesSent, s.BytesRetrans, s.BytesAcked, s.BytesReceived)
	fmt.Fprintf(&b, " unacked:%d retrans:%d/%d lost:%d sacked:%d reordering:%d dsack_dups:%d probes:%d",
		s.Unacked, s.Retrans, s.Retransmits, s.Lost, s.Sacked, s.Reordering, s.DSACKDups, s.Probes)
	fmt.Fprintf(&b, " minrtt:%s rcv_rtt:%s rcv_space:%d sndbuf:%d rcvbuf:%d",
		millis(s.MinRTT), millis(s.RcvRTT), s.RcvSpace, s.SndBuf, s.RcvBuf)
	if s.PacingRate > 0 {
		fmt.Fprintf(&b, " pacing_rate:%d", s.PacingRate*8)
	}
	fmt.Fprintf(&b, " delivery_rate:%d", s.DeliveryRate*8)
	if s.AppLimited {
		b.WriteString(" app_limited")
	}
	return b.String()
}

// writeStatsDetails writes, for each connection, its addresses and its
// tcpInfo line, as `ss -ti` does.
func writeStatsDetails(w io.Writer, rows []synack.ConnInfo) error {
	for _, r := range rows {
		if _, err := fmt.Fprintf(w, "%v %v\n\t%s\n", r.Local, r.Remote, tcpInfo(r.Stats)); err != nil {
			return err
		}
	}
	return nil
}

// statsLoop writes the table of st's connections to w every interval until
// ctx ends, after a header line with the time, the count and the count in
// each state: "-- 15:04:05: 3 connections: 2 ESTABLISHED, 1 TIME_WAIT";
// below it each connection's tcp_info, as `ss -ti` (writeStatsDetails). A
// table that has not changed since the last one printed is not printed
// again, so an idle server stays quiet; each finished connection has its
// own line in the log.
func statsLoop(ctx context.Context, w io.Writer, every time.Duration, st *synack.Stack) {
	t := time.NewTicker(every)
	defer t.Stop()
	var rows []synack.ConnInfo
	var last string
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			rows = st.AppendConnections(rows[:0])
			var b strings.Builder
			fmt.Fprintf(&b, "%d %s%s\n", len(rows), plural(uint64(len(rows)), "connection"), stateCounts(rows))
			if len(rows) > 0 {
				writeStatsTable(&b, rows)
				writeStatsDetails(&b, rows)
			}
			if b.String() == last {
				continue
			}
			last = b.String()
			fmt.Fprintf(w, "-- %s: %s", now.Format("15:04:05"), last)
		}
	}
}

// stateCounts returns ": 2 ESTABLISHED, 1 TIME_WAIT" for rows, states in
// the order of RFC 9293's diagram, or "" for no rows.
func stateCounts(rows []synack.ConnInfo) string {
	var n [256]int
	for _, r := range rows {
		n[r.Stats.State]++
	}
	var b strings.Builder
	for s, k := range n {
		if k == 0 {
			continue
		}
		if b.Len() == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%d %v", k, tcp.State(s))
	}
	return b.String()
}

// millis formats d in milliseconds with up to three decimals.
func millis(d time.Duration) string {
	return fmt.Sprintf("%.3g", float64(d)/float64(time.Millisecond))
}

// size formats a byte count with a binary prefix: 512, 1.5K, 64M, 2.0G.
func size(n uint64) string {
	const units = "KMGTPE"
	if n < 1024 {
		return fmt.Sprint(n)
	}
	v, i := float64(n)/1024, 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if v < 10 {
		return fmt.Sprintf("%.1f%c", v, units[i])
	}
	return fmt.Sprintf("%.0f%c", v, units[i])
}

// byteRate formats bytes moved in d as a bit rate.
func byteRate(n uint64, d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	bps := float64(n) * 8 / d.Seconds()
	switch {
	case bps >= 1e9:
		return fmt.Sprintf("%.2f Gbit/s", bps/1e9)
	case bps >= 1e6:
		return fmt.Sprintf("%.1f Mbit/s", bps/1e6)
	default:
		return fmt.Sprintf("%.0f kbit/s", bps/1e3)
	}
}
