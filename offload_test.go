package synack

import (
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/synack-go/synack/link"
	"github.com/synack-go/synack/link/pipe"
)

// exchange sends size bytes of a seeded pattern each way at once between c
// and s, half-closes, and checks the SHA-256 of what arrived both ways. It
// reports failures with t.Error, so it may run on any goroutine.
func exchange(t *testing.T, c, s *Conn, size int) {
	t.Helper()
	type sums struct{ sent, got [32]byte }
	var wg sync.WaitGroup
	var cs, ss sums
	transfer := func(conn *Conn, seed uint64, out *sums) {
		defer wg.Done()
		sent, got := sha256.New(), sha256.New()
		done := make(chan error, 1)
		go func() {
			_, err := io.Copy(got, conn)
			done <- err
		}()
		rng := rand.New(rand.NewPCG(seed, seed))
		buf := make([]byte, 64<<10)
		for left := size; left > 0; left -= len(buf) {
			for i := 0; i < len(buf); i += 8 {
				v := rng.Uint64()
				for j := range 8 {
					buf[i+j] = byte(v >> (8 * j))
				}
			}
			sent.Write(buf)
			if _, err := conn.Write(buf); err != nil {
				t.Error(err)
				return
			}
		}
		if err := conn.CloseWrite(); err != nil {
			t.Error(err)
		}
		if err := <-done; err != nil {
			t.Error(err)
		}
		copy(out.sent[:], sent.Sum(nil))
		copy(out.got[:], got.Sum(nil))
	}
	wg.Add(2)
	go transfer(c, 1, &cs)
	go transfer(s, 2, &ss)
	wg.Wait()
	if cs.sent != ss.got || ss.sent != cs.got {
		t.Error("SHA-256 of what was sent and what arrived differ")
	}
}

// Over a pipe with offloads, both stacks send TSO packets of up to 64 KiB,
// leave checksums to the link and take the other's packets whole; 32 MiB
// cross each way over IPv4 and IPv6 and arrive intact, in far fewer
// packets than segments.
func TestOffloadBulk(t *testing.T) {
	defer wallBound(t, time.Minute)()
	for _, addr := range []string{"10.0.0.2:80", "[fd00::2]:80"} {
		t.Run(addr, func(t *testing.T) {
			a, b := pipe.New(pipe.Config{Offload: true})
			client, server := stacksOn(t, a, b, Options{}, Options{})
			c, s := connected(t, client, server, addr)
			exchange(t, c, s, 32<<20)
			cs, ps := client.Stats(), a.(*pipe.Endpoint).Stats()
			t.Logf("client: %d segments in %d packets, %d TSO packets; pipe %+v", cs.SegmentsOut, cs.PacketsOut, ps.GSO, ps)
			if ps.GSO == 0 || cs.PacketsOut*4 > cs.SegmentsOut {
				t.Errorf("%d segments went out in %d packets, %d of them TSO: want TSO packets of several segments", cs.SegmentsOut, cs.PacketsOut, ps.GSO)
			}
		})
	}
}

// stacksOn starts a client and a server stack on the two ends of a link,
// with both families' addresses, closed at the end of the test.
func stacksOn(t testing.TB, a, b link.Endpoint, copts, sopts Options) (client, server *Stack) {
	t.Helper()
	copts.Name, copts.Addrs = "client", []netip.Prefix{clientAddr, clientAddr6}
	sopts.Name, sopts.Addrs = "server", []netip.Prefix{serverAddr, serverAddr6}
	var err error
	if client, err = NewStack(a, copts); err != nil {
		t.Fatal(err)
	}
	if server, err = NewStack(b, sopts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		client.Close()
		server.Close()
	})
	return client, server
}

// On a link with two receive queues each stack runs two read loops; eight
// connections spread over them, and each moves 4 MiB each way intact, with
// and without offloads.
func TestMultiQueue(t *testing.T) {
	defer wallBound(t, time.Minute)()
	for _, offload := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "offload"}[offload], func(t *testing.T) {
			a, b := pipe.New(pipe.Config{Queues: 2, Offload: offload})
			client, server := stacksOn(t, a, b, Options{}, Options{})
			if len(client.lk.queues) != 2 {
				t.Fatalf("the stack reads %d queues", len(client.lk.queues))
			}
			ln, err := server.Listen("tcp", "10.0.0.2:80")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			queues := map[int]bool{}
			var wg sync.WaitGroup
			for range 8 {
				c, s := dialAccept(t, client, ln, "10.0.0.2:80")
				queues[int(c.txq)] = true
				wg.Add(1)
				go func() {
					defer wg.Done()
					exchange(t, c, s, 4<<20)
				}()
			}
			wg.Wait()
			if len(queues) != 2 {
				t.Errorf("eight connections left by queues %v", queues)
			}
		})
	}
}

// BenchmarkBatchACKsUnderLoss moves 16 MiB one way over lossy,
// reordering links with batched ACKs off and on, and reports the
// retransmission timeouts, retransmissions and ACKs of each, per transfer:
// batching answers in-order data with stretch ACKs, which without RACK
// (RFC 8985) slow loss recovery (docs/design.md has the figures).
//
//	go test -run XXX -bench BatchACKsUnderLoss -benchtime 2x .
func BenchmarkBatchACKsUnderLoss(b *testing.B) {
	for _, cfg := range []pipe.Config{
		{Loss: 0.01, Delay: 2 * time.Millisecond},
		{Loss: 0.02, Reorder: 0.01, Delay: 5 * time.Millisecond},
		{Loss: 0.03, Delay: 1 * time.Millisecond},
	} {
		for _, mode := range []BatchACKMode{BatchACKsOff, BatchACKsOn} {
			name := fmt.Sprintf("loss=%g%%/reorder=%g%%/delay=%v/batch=%v", cfg.Loss*100, cfg.Reorder*100, cfg.Delay, mode == BatchACKsOn)
			b.Run(name, func(b *testing.B) {
				var rtos, rexmits, acks uint64
				for i := range b.N {
					cfg.Seed = int64(i + 1)
					a, p := pipe.New(cfg)
					client, server := stacksOn(b, a, p, Options{BatchACKs: mode}, Options{BatchACKs: mode})
					c, s := connected(b, client, server, "10.0.0.2:80")
					oneWay(b, c, s, 16<<20)
					cs, ss := c.Stats(), s.Stats()
					rtos, rexmits, acks = rtos+cs.RTOs, rexmits+cs.Retransmits, acks+ss.SegsOut
					client.Close()
					server.Close()
				}
				n := float64(b.N)
				b.ReportMetric(float64(rtos)/n, "RTOs/op")
				b.ReportMetric(float64(rexmits)/n, "retrans/op")
				b.ReportMetric(float64(acks)/n, "ACKs/op")
			})
		}
	}
}

// BenchmarkBatchACKsUnderLossSim is BenchmarkBatchACKsUnderLoss on
// virtual time, where a run replays from its seed: 16 MiB one way with
// CUBIC, the virtual time it took, the sender's timeouts and
// retransmissions and the receiver's segments (its ACKs), per transfer.
//
//	go test -run XXX -bench BatchACKsUnderLossSim -benchtime 4x .
func BenchmarkBatchACKsUnderLossSim(b *testing.B) {
	for _, cfg := range []pipe.Config{
		{Loss: 0.01, Delay: 2 * time.Millisecond},
		{Loss: 0.02, Reorder: 0.01, Delay: 5 * time.Millisecond},
		{Loss: 0.03, Delay: 1 * time.Millisecond},
		{Delay: 50 * time.Microsecond},
	} {
		for _, mode := range []BatchACKMode{BatchACKsOff, BatchACKsOn} {
			name := fmt.Sprintf("loss=%g%%/reorder=%g%%/delay=%v/batch=%v", cfg.Loss*100, cfg.Reorder*100, cfg.Delay, mode == BatchACKsOn)
			b.Run(name, func(b *testing.B) {
				var secs, rtos, rexmits, acks float64
				for i := range b.N {
					cfg.Seed = int64(i + 1)
					st, d := lossyTransferOpts(b, Options{BatchACKs: mode}, "cubic", cfg, 16<<20)
					secs += d.Seconds()
					rtos += float64(st.RTOs)
					rexmits += float64(st.Retransmits)
					acks += float64(st.acks)
				}
				n := float64(b.N)
				b.ReportMetric(secs/n, "vsec/op")
				b.ReportMetric(rtos/n, "RTOs/op")
				b.ReportMetric(rexmits/n, "retrans/op")
				b.ReportMetric(acks/n, "ACKs/op")
			})
		}
	}
}

// oneWay sends size bytes from c to s, half-closes, and checks what
// arrived.
func oneWay(t testing.TB, c, s *Conn, size int) {
	t.Helper()
	want, got := sha256.New(), sha256.New()
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(got, s)
		done <- err
	}()
	rng := rand.New(rand.NewPCG(uint64(size), 9))
	buf := make([]byte, 64<<10)
	for left := size; left > 0; left -= len(buf) {
		for i := range buf {
			buf[i] = byte(rng.Uint32())
		}
		want.Write(buf)
		if _, err := c.Write(buf); err != nil {
			t.Fatal(err)
		}
	}
	c.CloseWrite()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if string(want.Sum(nil)) != string(got.Sum(nil)) {
		t.Fatal("SHA-256 of what was sent and what arrived differ")
	}
}

// With Options.NoOffloads the stacks use an offloading pipe as a plain
// link: ReadBatch and WriteBatch, packets within the MTU with their
// checksums, none marked for TSO.
func TestNoOffloads(t *testing.T) {
	defer wallBound(t, time.Minute)()
	a, b := pipe.New(pipe.Config{Offload: true})
	client, server := stacksOn(t, a, b, Options{NoOffloads: true}, Options{NoOffloads: true})
	c, s := connected(t, client, server, "10.0.0.2:80")
	exchange(t, c, s, 4<<20)
	if ps := a.(*pipe.Endpoint).Stats(); ps.GSO != 0 || ps.TooBig != 0 {
		t.Fatalf("pipe %+v", ps)
	}
	if d := server.Stats().Drops; d.Checksum != 0 || d.Malformed != 0 {
		t.Fatalf("drops %+v", d)
	}
}
