package tcp

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/synack-go/synack/wire"
)

func cookieACK(syn *wire.TCPSegment, iss Seq, tsVal uint32) *wire.TCPSegment {
	ack := &wire.TCPSegment{SrcPort: syn.SrcPort, DstPort: syn.DstPort, Seq: syn.Seq + 1, Ack: iss + 1, Flags: wire.ACK}
	if syn.Options.HasTS {
		ack.Options.HasTS, ack.Options.TSVal, ack.Options.TSEcr = true, syn.Options.TSVal+5, tsVal
	}
	return ack
}

// A cookie round-trips the SYN's options for random tuples and options.
func TestSynCookieRoundTrip(t *testing.T) {
	c := NewSynCookies([32]byte{9})
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		local := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, 2}), 80)
		remote := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i), byte(rng.Uint32())}), uint16(rng.Uint32()))
		syn := &wire.TCPSegment{SrcPort: remote.Port(), DstPort: 80, Seq: Seq(rng.Uint32()), Flags: wire.SYN}
		syn.Options.MSS = uint16(rng.IntN(9000))
		if rng.IntN(2) == 0 {
			syn.Options.HasTS, syn.Options.TSVal = true, rng.Uint32()
			syn.Options.HasWScale, syn.Options.WScale = rng.IntN(2) == 0, uint8(rng.IntN(15))
			syn.Options.SACKPermitted = rng.IntN(2) == 0
		}
		now := time.Duration(rng.Int64N(int64(time.Hour)))
		tsNow := rng.Uint32()
		iss, tsVal := c.Make(local, remote, syn, now, tsNow)
		if int32(tsVal-tsNow) > 0 {
			t.Fatalf("tsVal %d above the clock %d", tsVal, tsNow)
		}
		opts, ok := c.Check(local, remote, cookieACK(syn, iss, tsVal), now+60*time.Second)
		if !ok {
			t.Fatalf("%d: valid cookie rejected", i)
		}
		if opts.MSS > max(syn.Options.MSS, 536) || (syn.Options.MSS >= 1460 && opts.MSS != 1460) {
			t.Fatalf("MSS %d from a SYN with %d", opts.MSS, syn.Options.MSS)
		}
		if syn.Options.HasTS && (opts.SACKPermitted != syn.Options.SACKPermitted || opts.HasWScale != syn.Options.HasWScale ||
			(opts.HasWScale && opts.WScale != syn.Options.WScale)) {
			t.Fatalf("options %+v from SYN %+v", opts, syn.Options)
		}
	}
}

// Tampered, stale or foreign cookies fail.
func TestSynCookieRejects(t *testing.T) {
	c := NewSynCookies([32]byte{9})
	local := netip.MustParseAddrPort("10.0.0.2:80")
	remote := netip.MustParseAddrPort("10.0.0.1:40000")
	syn := &wire.TCPSegment{SrcPort: 40000, DstPort: 80, Seq: 1234, Flags: wire.SYN, Options: wire.TCPOptions{MSS: 1460}}
	now := 10 * time.Minute
	iss, ts := c.Make(local, remote, syn, now, 0)
	ack := cookieACK(syn, iss, ts)
	if _, ok := c.Check(local, remote, ack, now); !ok {
		t.Fatal("valid cookie rejected")
	}
	bad := *ack
	bad.Ack += 1 << 10
	if _, ok := c.Check(local, remote, &bad, now); ok {
		t.Error("tampered cookie accepted")
	}
	if _, ok := c.Check(local, remote, ack, now+3*cookieTick); ok {
		t.Error("stale cookie accepted")
	}
	if _, ok := NewSynCookies([32]byte{8}).Check(local, remote, ack, now); ok {
		t.Error("cookie accepted under another key")
	}
	if _, ok := c.Check(local, netip.MustParseAddrPort("10.0.0.1:40001"), ack, now); ok {
		t.Error("cookie accepted for another tuple")
	}
}

// A TCB opened from a cookie is ESTABLISHED and talks to the client.
func TestOpenFromCookie(t *testing.T) {
	s := newSim(t, testConfig())
	c := NewSynCookies([32]byte{3})
	local := netip.MustParseAddrPort("10.0.0.2:80")
	remote := netip.MustParseAddrPort("10.0.0.1:40000")
	a := s.tcb[0]
	a.Connect(5000, 0)
	var out collector
	a.Poll(0, &out)
	syn := out.segs[0]
	iss, tsVal := c.Make(local, remote, &syn, 0, 777)
	synack := wire.TCPSegment{SrcPort: 80, DstPort: 40000, Seq: iss, Ack: syn.Seq + 1, Flags: wire.SYN | wire.ACK, Window: 65535,
		Options: wire.TCPOptions{MSS: 1460, HasWScale: true, WScale: 7, SACKPermitted: true, HasTS: true, TSVal: tsVal, TSEcr: syn.Options.TSVal}}
	a.Input(&synack, time.Millisecond)
	out.segs = nil
	a.Poll(time.Millisecond, &out)
	opts, ok := c.Check(local, remote, &out.segs[0], time.Millisecond)
	if !ok {
		t.Fatal("cookie rejected")
	}
	b := New(testConfig(), 80, 40000)
	b.SetObserver(s.obs[1])
	b.SetTSOffset(0)
	b.OpenFromCookie(&out.segs[0], &opts, time.Millisecond)
	s.tcb[1] = b
	s.now = time.Millisecond
	if b.State() != StateEstablished || !b.sackOK || b.snd.shift != 7 || !b.ts.ok {
		t.Fatalf("state %v sack %v shift %d ts %v", b.State(), b.sackOK, b.snd.shift, b.ts.ok)
	}
	s.write(0, []byte("through a cookie"))
	s.run(time.Second)
	if got := s.readAll(1); string(got) != "through a cookie" {
		t.Fatalf("read %q", got)
	}
}
