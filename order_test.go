package synack

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/synack-go/synack/link"
	"github.com/synack-go/synack/link/pipe"
	"github.com/synack-go/synack/wire"
)

// orderTap is a link endpoint that checks the order in which its stack's
// TCP segments reach the link: per connection, in the order the TCB
// produced them, the acknowledgment number never goes back, and neither
// does the timestamp value (RFC 7323 §5.4: TSval is taken from a clock
// that only moves forward). The packets reach the link below in the order
// they were checked.
type orderTap struct {
	link.Endpoint
	mu     sync.Mutex
	last   map[flowKey]orderSeen
	errs   []string
	checks int
}

type orderSeen struct {
	ack, ts wire.Seq
	hasTS   bool
}

func (t *orderTap) WriteBatch(pkts [][]byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range pkts {
		var ip wire.IPPacket
		var seg wire.TCPSegment
		if wire.ParseIP(p, &ip) != nil || ip.Protocol != wire.ProtoTCP || seg.Parse(wire.TCP(ip.Payload)) != nil ||
			seg.Flags&wire.ACK == 0 || seg.Flags&wire.SYN != 0 {
			continue
		}
		k := flowKey{local: netip.AddrPortFrom(ip.Src, seg.SrcPort), remote: netip.AddrPortFrom(ip.Dst, seg.DstPort)}
		prev, ok := t.last[k]
		now := orderSeen{ack: seg.Ack, ts: wire.Seq(seg.Options.TSVal), hasTS: seg.Options.HasTS}
		t.checks++
		if ok && len(t.errs) < 10 {
			if now.ack.Less(prev.ack) {
				t.errs = append(t.errs, fmt.Sprintf("%v > %v: ack %d after ack %d", k.local, k.remote, now.ack, prev.ack))
			}
			if now.hasTS && prev.hasTS && now.ts.Less(prev.ts) {
				t.errs = append(t.errs, fmt.Sprintf("%v > %v: TSval %d after TSval %d", k.local, k.remote, now.ts, prev.ts))
			}
		}
		t.last[k] = now
	}
	return t.Endpoint.WriteBatch(pkts)
}

// Segments of one connection leave the stack in the order its TCB produced
// them, whichever goroutine produced them: the application's Write, a read
// loop answering ACKs and data, or the timers. Four rounds of four
// connections send 4 MiB each way at once on the wall clock, so that Writes race with the read
// loop's batches; a tap under each checks that acknowledgment numbers and
// timestamps never go back. Before the read loop's batches kept the
// connection's order, a segment a Write sent could overtake one the read
// loop had built before it and not yet written: the peer then saw ACKs go
// back (and dropped them by PAWS, RFC 7323 §5) and data reordered on a
// perfect link.
func TestSegmentsLeaveInOrder(t *testing.T) {
	defer wallBound(t, time.Minute)()
	a, b := pipe.New(pipe.Config{})
	ta := &orderTap{Endpoint: a, last: map[flowKey]orderSeen{}}
	tb := &orderTap{Endpoint: b, last: map[flowKey]orderSeen{}}
	client, server := stacksOn(t, ta, tb, Options{BatchACKs: BatchACKsOn}, Options{BatchACKs: BatchACKsOn})
	ln, err := server.Listen("tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for range 4 {
		var wg sync.WaitGroup
		for range 4 {
			c, s := dialAccept(t, client, ln, "10.0.0.2:80")
			wg.Add(1)
			go func() {
				defer wg.Done()
				exchange(t, c, s, 4<<20)
			}()
		}
		wg.Wait()
	}
	for _, tp := range []*orderTap{ta, tb} {
		tp.mu.Lock()
		if len(tp.errs) > 0 {
			t.Errorf("out of order (%d segments checked):\n%s", tp.checks, strings.Join(tp.errs, "\n"))
		}
		tp.mu.Unlock()
	}
}
