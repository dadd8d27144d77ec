package workload

import (
	"fmt"
	"io"
	"slices"
	"time"
)

// probeSize is the request and the response of the bufferbloat probe: a
// ping's worth.
const probeSize = 64

// baselineProbes are the probes before the bulk transfer starts: the
// least of their round trips is the path's own, the delay the bulk
// transfer's queue adds to.
const baselineProbes = 20

// bloatOut is what a bufferbloat run measured.
type bloatOut struct {
	bulk     bulkOut
	baseline time.Duration   // the least round trip of the idle path
	added    []time.Duration // each probe's round trip less baseline, sorted
}

// runBufferbloat moves o's bulk transfer over one connection while a
// second one, like ping, sends a 64-byte request every interval and waits
// for the 64-byte echo: its round trips less the idle path's are the
// queueing delay the bulk sender's standing queue adds (its data and the
// probe's request share the bottleneck).
func runBufferbloat(n Net, o bulkOpts, interval time.Duration) (bloatOut, error) {
	var out bloatOut
	client, closeEcho, err := dialEcho(n, rrPort)
	if err != nil {
		return out, err
	}
	defer closeEcho()
	client.SetDeadline(time.Now().Add(setupTimeout + o.cap + o.limit))
	req := make([]byte, probeSize)
	resp := make([]byte, probeSize)
	probe := func(i int) (time.Duration, error) {
		for j := range req {
			req[j] = byte(i + j)
		}
		start := time.Now()
		if _, err := client.Write(req); err != nil {
			return 0, fmt.Errorf("probe %d: write: %w", i, err)
		}
		if _, err := io.ReadFull(client, resp); err != nil {
			return 0, fmt.Errorf("probe %d: read: %w", i, err)
		}
		rtt := time.Since(start)
		if string(resp) != string(req) {
			return 0, fmt.Errorf("probe %d: the echo differs", i)
		}
		return rtt, nil
	}
	out.baseline = time.Duration(1<<63 - 1)
	for i := range baselineProbes {
		rtt, err := probe(i)
		if err != nil {
			return out, err
		}
		out.baseline = min(out.baseline, rtt)
		time.Sleep(interval)
	}

	type bulkResult struct {
		o   bulkOut
		err error
	}
	done := make(chan bulkResult, 1)
	go func() {
		b, err := runBulk(n, o)
		done <- bulkResult{b, err}
	}()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var rtts []time.Duration
	for i := baselineProbes; ; i++ {
		select {
		case r := <-done:
			if r.err != nil {
				return out, r.err
			}
			out.bulk = r.o
			for _, rtt := range rtts {
				out.added = append(out.added, max(rtt-out.baseline, 0))
			}
			slices.Sort(out.added)
			return out, nil
		case <-tick.C:
		}
		rtt, err := probe(i)
		if err != nil {
			return out, err
		}
		rtts = append(rtts, rtt)
	}
}
