package synack

import (
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/synack-go/synack/link/pipe"
)

// TestInlineDeliveryBothWays runs two stacks on a perfect pipe, whose
// writers run the other stack's input (link.Inliner), with traffic that
// meets itself: ping-pong on some connections and streams written by
// both ends at once on others, so that an application's Write, holding
// its connection's lock, runs the other stack's input while the other
// stack's goroutines write too. It must not deadlock (wallBound ends a
// hang with every goroutine's stack), recurse without bound, reorder or
// lose a byte; and the read loops must have been spared the packets.
func TestInlineDeliveryBothWays(t *testing.T) {
	for _, cfg := range []pipe.Config{{}, {Offload: true}, {Queues: 2}, {Offload: true, Queues: 2}} {
		t.Run(fmt.Sprintf("offload=%v,queues=%d", cfg.Offload, max(cfg.Queues, 1)), func(t *testing.T) {
			inlineBothWays(t, cfg)
		})
	}
}

func inlineBothWays(t *testing.T, cfg pipe.Config) {
	defer wallBound(t, 2*time.Minute)()
	a, b := pipe.New(cfg)
	client, err := NewStack(a, Options{Name: "client", Addrs: []netip.Prefix{clientAddr}})
	if err != nil {
		t.Fatal(err)
	}
	server, err := NewStack(b, Options{Name: "server", Addrs: []netip.Prefix{serverAddr}})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	defer server.Close()

	const pingPongs, streams = 3, 3
	rounds := 2000
	if testing.Short() {
		rounds = 200
	}
	var wg sync.WaitGroup
	fail := make(chan error, 4*(pingPongs+streams))
	for i := range pingPongs {
		c, s := connected(t, client, server, fmt.Sprintf("10.0.0.2:%d", 100+i))
		wg.Add(2)
		go func() {
			defer wg.Done()
			io.Copy(s, s) // echo until the client closes
			s.Close()
		}()
		go func() {
			defer wg.Done()
			defer c.Close()
			var one [1]byte
			for r := range rounds {
				one[0] = byte(r)
				if _, err := c.Write(one[:]); err != nil {
					fail <- err
					return
				}
				if _, err := io.ReadFull(c, one[:]); err != nil || one[0] != byte(r) {
					fail <- fmt.Errorf("round %d: echoed %d, %v", r, one[0], err)
					return
				}
			}
		}()
	}
	for i := range streams {
		c, s := connected(t, client, server, fmt.Sprintf("10.0.0.2:%d", 200+i))
		for _, ends := range [][2]*Conn{{c, s}, {s, c}} {
			from, to := ends[0], ends[1]
			want := pattern(rounds * 37)
			wg.Add(2)
			go func() {
				defer wg.Done()
				for p := want; len(p) > 0; {
					n := min(len(p), 1+len(p)%1400)
					if _, err := from.Write(p[:n]); err != nil {
						fail <- err
						return
					}
					p = p[n:]
				}
				from.CloseWrite()
			}()
			go func() {
				defer wg.Done()
				got, err := io.ReadAll(to)
				if err != nil || !bytes.Equal(got, want) {
					fail <- fmt.Errorf("stream: %d bytes of %d, equal %v, %v", len(got), len(want), bytes.Equal(got, want), err)
				}
			}()
		}
	}
	wg.Wait()
	close(fail)
	for err := range fail {
		t.Error(err)
	}
	for _, e := range []pipe.Stats{a.(*pipe.Endpoint).Stats(), b.(*pipe.Endpoint).Stats()} {
		t.Logf("inline %d of %d", e.Inline, e.Read)
		if e.Inline == 0 || e.Inline*10 < e.Read {
			t.Errorf("%d of %d packets delivered inline, want a tenth at least", e.Inline, e.Read)
		}
	}
}

// pattern returns n bytes that tell their offsets apart.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}
