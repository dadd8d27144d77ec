package tcp

import (
	"testing"
	"time"
)

// Receive-buffer autotuning (rcvbuf.go): the receive buffer grows with what
// the user reads per receiver RTT, up to MaxRecvBuf; not for a reader who
// does not read, nor when the user fixed its size (SetBuffers, as
// SO_RCVBUF), nor under memory pressure; and the receiver RTT comes from
// timestamps.
func TestRecvBufAutotuning(t *testing.T) {
	bulkOver := func(cfg *Config, delay time.Duration, fix, read bool) (*sim, int) {
		s := newSim(t, cfg)
		s.delay = delay
		s.quiet = true
		if fix {
			s.tcb[1].SetBuffers(0, 1<<20)
		}
		s.connect()
		chunk := make([]byte, 64<<10)
		for range 1000 { // 1 s
			if s.tcb[0].SendSpace() > 0 {
				s.write(0, chunk)
			}
			s.run(time.Millisecond)
			if read {
				s.readAll(1)
			}
		}
		return s, int(s.tcb[1].Stats().RcvBuf)
	}
	bulk := func(cfg *Config, fix, read bool) (*sim, int) {
		return bulkOver(cfg, 5*time.Millisecond, fix, read)
	}
	cfg := testConfig()
	cfg.MaxRecvBuf = 4 << 20
	s, size := bulk(cfg, false, true)
	if size != 4<<20 {
		t.Errorf("a reader keeping up on a 10 ms path: buffer %d, want MaxRecvBuf %d", size, 4<<20)
	}
	if rtt := s.tcb[1].rcv.tune.rtt; rtt < 10*time.Millisecond || rtt > 12*time.Millisecond {
		t.Errorf("receiver RTT %v, want about 10 ms", rtt)
	}
	// On a sub-millisecond path the estimate is the RTT to the
	// microsecond, not Linux's whole millisecond tick of the timestamps.
	if s, _ := bulkOver(cfg, 100*time.Microsecond, false, true); s.tcb[1].rcv.tune.rtt > 300*time.Microsecond {
		t.Errorf("receiver RTT %v on a 200 µs path, want about 200 µs", s.tcb[1].rcv.tune.rtt)
	}
	if _, size := bulk(cfg, false, false); size != 1<<20 {
		t.Errorf("a reader who does not read: buffer %d, want the initial 1 MiB", size)
	}
	if _, size := bulk(cfg, true, true); size != 1<<20 {
		t.Errorf("a buffer fixed with SetBuffers: %d, want 1 MiB", size)
	}
	fixed := *cfg
	fixed.RecvBuf = 1 << 20
	if _, size := bulk(&fixed, false, true); size != 1<<20 {
		t.Errorf("a buffer fixed by Config.RecvBuf: %d, want 1 MiB", size)
	}
	tight := *cfg
	tight.Memory = NewMemoryBudget(2 << 20)
	if _, size := bulk(&tight, false, true); size > 1<<20+2<<20 {
		t.Errorf("a 2 MiB memory budget: buffer grew to %d", size)
	}
}
