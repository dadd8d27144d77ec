package synack

import (
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/synack-go/synack/link/pipe"
	"github.com/synack-go/synack/tcp"
)

var (
	lossyMiB     = flag.Int("lossy.mib", 32, "MiB each BenchmarkLossyPath transfer moves")
	lossyBuf     = flag.Int("lossy.buf", 0, "receive buffers of BenchmarkLossyPath's connections (0: the default)")
	lossySndBuf  = flag.Int("lossy.sndbuf", 0, "send buffers of BenchmarkLossyPath's connections (0: the default)")
	reorderDelay = flag.Duration("reorder.delay", 5*time.Millisecond, "how late BenchmarkReorderPath's reordered packets arrive")
)

// BenchmarkLossyPath is bench/compare's lossy-goodput on virtual time: one
// connection moves -lossy.mib MiB one way over 10 ms each way, 200 Mbit/s
// with a 500,000-byte drop-tail queue, and seeded random loss, with each
// congestion control. It reports the goodput in virtual time and the
// sender's recovery counters; a run replays from its seed, so A/B
// comparisons need no quiet machine. Unlike bench/compare's path, the ACK
// direction is impaired the same way (sim.Pipe has one Config).
// -lossy.buf and -lossy.sndbuf fix the buffers (0: autotuned, the
// default).
//
//	go test -run XXX -bench LossyPath -benchtime 1x .
func BenchmarkLossyPath(b *testing.B) {
	for _, name := range []string{"reno", "cubic", "bbr", "bbr-draft"} {
		for _, loss := range []float64{0, 0.001, 0.01, 0.03} {
			b.Run(fmt.Sprintf("cc=%s/loss=%g%%", name, loss*100), func(b *testing.B) {
				benchPath(b, name, pipe.Config{Loss: loss})
			})
		}
	}
}

// BenchmarkReorderPath is bench/compare's reordering workload on virtual
// time: BenchmarkLossyPath's path without random loss, where 1% of the
// packets (both ways here) leave 5 ms (-reorder.delay) late and those
// behind overtake them. Every retransmission is then spurious but for the
// queue's drops; RACK's reordering window (RFC 8985 §6.2) should stop them
// once D-SACKs show the reordering.
//
//	go test -run XXX -bench ReorderPath -benchtime 1x .
func BenchmarkReorderPath(b *testing.B) {
	for _, name := range []string{"reno", "cubic", "bbr", "bbr-draft"} {
		b.Run("cc="+name, func(b *testing.B) {
			benchPath(b, name, pipe.Config{Reorder: 0.01, ReorderDelay: *reorderDelay})
		})
	}
}

// benchPath moves -lossy.mib MiB with congestion control name over the
// benchmarks' path (10 ms each way, 200 Mbit/s, a 500,000-byte queue)
// with imp's impairments, seeded by the iteration, and reports the
// goodput in virtual time and the sender's recovery counters per transfer.
func benchPath(b *testing.B, name string, imp pipe.Config) {
	var mbps, rtos, rexmit, recov, probes, spurious, dsacks float64
	for i := range b.N {
		cfg := imp
		cfg.Delay, cfg.RateBitsPerSec, cfg.QueueBytes, cfg.Seed = 10*time.Millisecond, 200e6, 500000, int64(i+1)
		st, d := lossyTransfer(b, name, cfg, *lossyMiB<<20)
		mbps += float64(*lossyMiB<<20) * 8 / d.Seconds() / 1e6
		rtos += float64(st.RTOs)
		rexmit += float64(st.Retransmits)
		recov += float64(st.FastRecov)
		probes += float64(st.LossProbes)
		spurious += float64(st.Spurious)
		dsacks += float64(st.DSACKDups)
	}
	n := float64(b.N)
	b.ReportMetric(mbps/n, "Mbit/s")
	b.ReportMetric(rtos/n, "RTOs/op")
	b.ReportMetric(rexmit/n, "retrans/op")
	b.ReportMetric(recov/n, "recoveries/op")
	b.ReportMetric(probes/n, "TLPs/op")
	b.ReportMetric(spurious/n, "undone/op")
	b.ReportMetric(dsacks/n, "DSACKs/op")
}

// lossyStats is what lossyTransfer reports of the sender.
type lossyStats struct {
	tcp.Stats
	rcvBuf uint32 // the receiver's buffer size at the end
	acks   uint64 // segments the receiver sent
}

// lossyTransfer moves size bytes from client to server over a simulated
// path cfg with congestion control name ("bbr-draft" is the draft's BBRv3,
// "bbr" synack's: tcp/ccname.go) and returns the sender's
// statistics and the virtual time the transfer took.
func lossyTransfer(tb testing.TB, name string, cfg pipe.Config, size int) (lossyStats, time.Duration) {
	tb.Helper()
	return lossyTransferConfig(tb, tcp.Config{SendBuf: *lossySndBuf, RecvBuf: *lossyBuf}, name, cfg, size)
}

// lossyTransferConfig is lossyTransfer with both stacks' tcp.Config tc
// (its congestion control set from name).
func lossyTransferConfig(tb testing.TB, tc tcp.Config, name string, cfg pipe.Config, size int) (lossyStats, time.Duration) {
	tb.Helper()
	return lossyTransferOpts(tb, Options{TCP: tc}, name, cfg, size)
}

// lossyTransferOpts is lossyTransfer with both stacks' Options opts (their
// congestion control set from name).
func lossyTransferOpts(tb testing.TB, opts Options, name string, cfg pipe.Config, size int) (lossyStats, time.Duration) {
	tb.Helper()
	opts.TCP.CongestionControl = name
	sm, client, server := pairOpts(tb, cfg, opts, opts)
	c, s := connected(tb, client, server, "10.0.0.2:80")
	start := sm.Now()
	var got, want [32]byte
	done := false
	sm.Go(func() {
		h := sha256.New()
		if _, err := io.Copy(h, s); err != nil {
			tb.Error(err)
		}
		h.Sum(got[:0])
		done = true
	})
	sm.Go(func() {
		h := sha256.New()
		rng := rand.New(rand.NewPCG(uint64(size), 12))
		buf := make([]byte, 64<<10)
		for left := size; left > 0; left -= len(buf) {
			for i := range buf {
				buf[i] = byte(rng.Uint32())
			}
			h.Write(buf)
			if _, err := c.Write(buf); err != nil {
				tb.Error(err)
				return
			}
		}
		h.Sum(want[:0])
		c.CloseWrite()
	})
	waitFor(tb, sm, "the transfer", func() bool { return done })
	d := sm.Now().Sub(start)
	if got != want {
		tb.Fatal("SHA-256 of what was sent and what arrived differ")
	}
	return lossyStats{Stats: c.Stats(), rcvBuf: s.Stats().RcvBuf, acks: s.Stats().SegsOut}, d
}

// TestBulkNotBufferLimited: a bulk transfer over a long fat lossy path
// (64 MiB, 200 Mbit/s, 20 ms RTT, 1% loss, BBR, so that loss does not
// bound the rate) is not held back by the receive buffer: autotuning
// (tcp/rcvbuf.go) grows it past the initial 1 MiB as the reader keeps up,
// while a fixed 128 KiB buffer (SO_RCVBUF) caps the flight at a window per
// RTT, about 50 Mbit/s at best. Virtual time, seeded: the figures replay.
func TestBulkNotBufferLimited(t *testing.T) {
	if raceEnabled || testing.Short() {
		t.Skip("moves 128 MiB through the simulator")
	}
	const size = 64 << 20
	path := pipe.Config{Loss: 0.01, Delay: 10 * time.Millisecond, RateBitsPerSec: 200e6, QueueBytes: 500000, Seed: 1}
	mbps := func(d time.Duration) float64 { return float64(size) * 8 / d.Seconds() / 1e6 }

	st, d := lossyTransferConfig(t, tcp.Config{}, "bbr", path, size)
	t.Logf("autotuned: %.1f Mbit/s, receive buffer grew to %d bytes", mbps(d), st.rcvBuf)
	if mbps(d) < 150 {
		t.Errorf("autotuned receive buffer: %.1f Mbit/s, want at least 150", mbps(d))
	}
	if st.rcvBuf <= 1<<20 {
		t.Errorf("autotuned receive buffer stayed at %d bytes", st.rcvBuf)
	}

	st, d = lossyTransferConfig(t, tcp.Config{RecvBuf: 128 << 10}, "bbr", path, size)
	t.Logf("fixed 128 KiB: %.1f Mbit/s", mbps(d))
	if limit := float64(128<<10) * 8 / (20 * time.Millisecond).Seconds() / 1e6; mbps(d) > limit {
		t.Errorf("fixed 128 KiB buffer: %.1f Mbit/s, above the window's limit %.1f", mbps(d), limit)
	}
	if st.rcvBuf != 128<<10 {
		t.Errorf("fixed buffer changed to %d bytes", st.rcvBuf)
	}
}

// TestSendBufFollowsTheBDP: send-buffer autotuning (tcp/sndbuf.go) grows
// the buffer to four bandwidth-delay products, not to four windows: over
// a path whose queue is far longer than its BDP (200 Mbit/s, 20 ms RTT, a
// BDP of 500 kB, an 8 MB drop-tail queue), CUBIC fills the queue and its
// window reaches megabytes, but the buffer stops near 4 × 500 kB and the
// transfer still runs at the bottleneck's rate; over a long fat path with
// no queue to fill (1 Gbit/s, 40 ms RTT: a BDP of 5 MB) the buffer limits
// the flight and grows to its 4 MiB cap. Virtual time, seeded.
func TestSendBufFollowsTheBDP(t *testing.T) {
	if raceEnabled || testing.Short() {
		t.Skip("moves 160 MiB through the simulator")
	}
	mbps := func(size int, d time.Duration) float64 { return float64(size) * 8 / d.Seconds() / 1e6 }

	const deep = 32 << 20
	path := pipe.Config{Delay: 10 * time.Millisecond, RateBitsPerSec: 200e6, QueueBytes: 8e6, Seed: 1}
	st, d := lossyTransferConfig(t, tcp.Config{}, "cubic", path, deep)
	t.Logf("deep queue: %.1f Mbit/s, cwnd %d, send buffer %d", mbps(deep, d), st.Cwnd, st.SndBuf)
	if st.SndBuf > 2500000 {
		t.Errorf("deep queue: send buffer grew to %d bytes, want about 4 BDPs (2 MB)", st.SndBuf)
	}
	if st.SndBuf <= 1<<20 {
		t.Errorf("deep queue: send buffer stayed at %d bytes; 4 BDPs is 2 MB", st.SndBuf)
	}
	if mbps(deep, d) < 180 {
		t.Errorf("deep queue: %.1f Mbit/s, want the bottleneck's 200 less the start", mbps(deep, d))
	}

	const fat = 128 << 20
	path = pipe.Config{Delay: 20 * time.Millisecond, RateBitsPerSec: 1e9, QueueBytes: 8e6, Seed: 1}
	st, d = lossyTransferConfig(t, tcp.Config{}, "cubic", path, fat)
	t.Logf("long fat path: %.1f Mbit/s, send buffer %d", mbps(fat, d), st.SndBuf)
	if st.SndBuf != 4<<20 {
		t.Errorf("long fat path: send buffer %d, want the 4 MiB cap", st.SndBuf)
	}
}

// BenchmarkBufferbloat is bench/compare's bufferbloat case on virtual
// time: a bulk transfer over 10 ms each way, 200 Mbit/s and a 1 MB
// drop-tail queue, no loss, and beside it a second connection that
// answers one byte with one byte every 50 ms; it reports the goodput and
// the ping-pong's round trip above the path's 20 ms (the queueing delay
// the bulk transfer adds), mean and worst, after a 2 s warm-up.
//
//	go test -run XXX -bench Bufferbloat -benchtime 1x .
func BenchmarkBufferbloat(b *testing.B) {
	for _, name := range []string{"cubic", "bbr"} {
		b.Run("cc="+name, func(b *testing.B) {
			var mbps, mean, worst float64
			for i := range b.N {
				m, d, w := bufferbloat(b, name, int64(i+1))
				mbps += m
				mean += float64(d) / float64(time.Millisecond)
				worst = max(worst, float64(w)/float64(time.Millisecond))
			}
			n := float64(b.N)
			b.ReportMetric(mbps/n, "Mbit/s")
			b.ReportMetric(mean/n, "added-ms")
			b.ReportMetric(worst, "worst-added-ms")
		})
	}
}

// TestBBRLeavesStartup: BBR leaves Startup and its queue drains on
// BenchmarkBufferbloat's path with default (autotuned) buffers. A Write
// that slept until half the send buffer drained woke only after the
// flight (BBR's Startup cwnd, two BDPs, in a buffer of four) had taken
// every byte; each Write then marked the connection app-limited, BBR
// ignores such samples when it looks for the bandwidth's plateau, and it
// stayed in Startup with a BDP queued: 20 ms added to every round trip.
// Virtual time, seeded.
func TestBBRLeavesStartup(t *testing.T) {
	if raceEnabled || testing.Short() {
		t.Skip("runs 8 s of a 200 Mbit/s path in the simulator")
	}
	mbps, mean, worst := bufferbloat(t, "bbr", 1)
	t.Logf("%.1f Mbit/s, queueing delay added %v mean, %v worst", mbps, mean, worst)
	if mean > 5*time.Millisecond {
		t.Errorf("BBR added %v of queueing delay on average, want under 5 ms (a BDP is 20 ms)", mean)
	}
	if mbps < 180 {
		t.Errorf("BBR moved %.1f Mbit/s over a 200 Mbit/s path", mbps)
	}
}

// TestWriterWakesOnSendBufGrowth: a Write blocked on a full send buffer
// resumes when autotuning grows the buffer, not only when a third of what
// is queued has been acknowledged. On BenchmarkLossyPath's clean path
// (20 ms, 200 Mbit/s, a one-BDP queue) BBR's Startup overflows the queue
// once; while the holes are repaired the cumulative ACK stands still, the
// buffer grew from 1.6 to 4 MB, and the writer slept on: the sender ran
// out of data, the flight drained to nothing, and the 1 MB window then
// left at Startup's pacing gain of 2.77 into a queue that holds half of
// it. That burst cost 141 of the transfer's 221 retransmissions (4
// recoveries, 176.0 Mbit/s); with the writer awake, 106 in 2 recoveries,
// 178.4 Mbit/s, all of it Startup's overshoot of cwnd_gain 2 over a
// path of 2 BDPs. Virtual time, seeded: the figures replay.
func TestWriterWakesOnSendBufGrowth(t *testing.T) {
	if raceEnabled || testing.Short() {
		t.Skip("moves 32 MiB through the simulator")
	}
	const size = 32 << 20
	path := pipe.Config{Delay: 10 * time.Millisecond, RateBitsPerSec: 200e6, QueueBytes: 500000, Seed: 1}
	st, d := lossyTransfer(t, "bbr", path, size)
	mbps := float64(size) * 8 / d.Seconds() / 1e6
	t.Logf("%.1f Mbit/s, %d retransmissions, %d recoveries", mbps, st.Retransmits, st.FastRecov)
	if st.Retransmits > 150 || st.FastRecov > 2 {
		t.Errorf("%d retransmissions in %d recoveries on a clean path, want at most 150 in 2 (Startup's overshoot)", st.Retransmits, st.FastRecov)
	}
	if mbps < 178 {
		t.Errorf("%.1f Mbit/s, want at least 178", mbps)
	}
}

// bufferbloat runs BenchmarkBufferbloat's case once for congestion control
// name: the bulk goodput and the ping-pong's mean and worst added delay.
func bufferbloat(tb testing.TB, name string, seed int64) (mbps float64, mean, worst time.Duration) {
	tb.Helper()
	const path = 20 * time.Millisecond
	cfg := pipe.Config{Delay: path / 2, RateBitsPerSec: 200e6, QueueBytes: 1_000_000, Seed: seed}
	tc := tcp.Config{CongestionControl: name, SendBuf: *lossySndBuf, RecvBuf: *lossyBuf}
	sm, client, server := pairOpts(tb, cfg, Options{TCP: tc}, Options{TCP: tc})
	c, s := connected(tb, client, server, "10.0.0.2:80")
	pc, ps := connected(tb, client, server, "10.0.0.2:81")
	start := sm.Now()
	const dur = 8 * time.Second
	var received int64
	sm.Go(func() {
		buf := make([]byte, 64<<10)
		for sm.Now().Sub(start) < dur {
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
		c.Close()
	})
	sm.Go(func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := s.Read(buf)
			if sm.Now().Sub(start) > 2*time.Second {
				received += int64(n)
			}
			if err != nil {
				return
			}
		}
	})
	sm.Go(func() { io.Copy(ps, ps) })
	var sum time.Duration
	var count int
	done := false
	sm.Go(func() {
		one := []byte{1}
		for sm.Now().Sub(start) < dur {
			sm.Sleep(50 * time.Millisecond)
			t0 := sm.Now()
			if _, err := pc.Write(one); err != nil {
				tb.Error(err)
				break
			}
			if _, err := io.ReadFull(pc, one); err != nil {
				tb.Error(err)
				break
			}
			if t0.Sub(start) < 2*time.Second {
				continue
			}
			d := max(sm.Now().Sub(t0)-path, 0)
			sum += d
			worst = max(worst, d)
			count++
		}
		done = true
	})
	waitFor(tb, sm, "the bufferbloat run", func() bool { return done })
	if count < 20 {
		tb.Fatalf("%d round trips measured", count)
	}
	return float64(received) * 8 / (dur - 2*time.Second).Seconds() / 1e6, sum / time.Duration(count), worst
}
