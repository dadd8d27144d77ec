package tcp

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/synack-go/synack/wire"
)

// transition is one edge of the RFC 9293 state diagram.
type transition struct{ from, to State }

// observer records what a TCB reports.
type observer struct {
	name  string
	trans []transition
	whys  []string
	cwnd  []CwndReason // why the congestion window moved, each report
	log   *[]string
}

func (o *observer) StateChanged(from, to State, why string) {
	o.trans = append(o.trans, transition{from, to})
	o.whys = append(o.whys, why)
	if o.log != nil {
		*o.log = append(*o.log, fmt.Sprintf("%s %v -> %v (%s)", o.name, from, to, why))
	}
}
func (o *observer) TimerFired(name string) {}
func (o *observer) Dropped(r DropReason)   {}
func (o *observer) CongestionChanged(cwnd, ssthresh uint32, why CwndReason) {
	o.cwnd = append(o.cwnd, why)
}

// packet is a segment in flight in the simulated network.
type packet struct {
	at   time.Duration
	to   int
	seg  wire.TCPSegment
	data []byte
}

// sim joins two TCBs through a network with a fixed one-way delay, driven by
// a virtual clock. drop decides, per segment, whether the network loses it.
type sim struct {
	t      testing.TB
	now    time.Duration
	tcb    [2]*TCB
	obs    [2]*observer
	delay  time.Duration
	flight []packet
	drop   func(from int, seg *wire.TCPSegment) bool
	// extra, when set, adds delay to one packet (reordering) and dup
	// says whether to deliver it twice.
	extra   func() time.Duration
	dup     func() bool
	quiet   bool
	log     []string
	sent    [2][]wire.TCPSegment
	sender  int
	tso     int // SetTSO before each Poll (tso_test.go)
	tsoSegs int // TSO segments emitted
}

func newSim(t testing.TB, cfg *Config) *sim {
	s := &sim{t: t, delay: 5 * time.Millisecond}
	if tsoOn(t) {
		s.tso = tsoTestMax
		t.Cleanup(func() { tsoUsed(t, s.tsoSegs) })
	}
	for i, port := range [2]uint16{40000, 80} {
		peer := [2]uint16{80, 40000}[i]
		s.tcb[i] = New(cfg, port, peer)
		s.obs[i] = &observer{name: [2]string{"A", "B"}[i], log: &s.log}
		s.tcb[i].SetObserver(s.obs[i])
	}
	return s
}

// Emit queues a copy of seg toward the other TCB.
func (s *sim) Emit(seg *wire.TCPSegment) {
	c := *seg
	c.Payload = nil
	p := packet{at: s.now + s.delay, to: 1 - s.sender, seg: c, data: append([]byte(nil), seg.Payload...)}
	if s.quiet {
		if s.drop != nil && s.drop(s.sender, seg) {
			return
		}
	} else {
		s.sent[s.sender] = append(s.sent[s.sender], p.seg)
		s.log = append(s.log, fmt.Sprintf("%v %s> %s", s.now, "AB"[s.sender:s.sender+1], segString(seg)))
		if s.drop != nil && s.drop(s.sender, seg) {
			s.log = append(s.log, "  (lost)")
			return
		}
	}
	if s.extra != nil {
		p.at += s.extra()
	}
	s.flight = append(s.flight, p)
	if s.dup != nil && s.dup() {
		s.flight = append(s.flight, p)
	}
}

func (s *sim) poll(i int) {
	s.sender = i
	s.tcb[i].SetTSO(s.tso)
	s.tcb[i].Poll(s.now, s)
	if s.tso > 0 {
		checkTxQueue(s.t, s.tcb[i])
	}
}

// step advances to the next event (a delivery or a timer) no later than
// until and runs it. It returns false when nothing is due before until.
func (s *sim) step(until time.Duration) bool {
	next := NoDeadline
	for _, p := range s.flight {
		next = min(next, p.at)
	}
	for _, t := range s.tcb {
		if t.State() != StateClosed {
			next = min(next, t.Deadline())
		}
	}
	if next > until {
		return false
	}
	if next > s.now {
		s.now = next
	}
	sort.SliceStable(s.flight, func(i, j int) bool { return s.flight[i].at < s.flight[j].at })
	if len(s.flight) > 0 && s.flight[0].at <= s.now {
		p := s.flight[0]
		s.flight = s.flight[1:]
		p.seg.Payload = p.data
		s.tcb[p.to].Input(&p.seg, s.now)
		s.poll(p.to)
		return true
	}
	for i := range s.tcb {
		if s.tcb[i].Deadline() <= s.now {
			s.poll(i)
		}
	}
	return true
}

// run processes events until nothing is due before now+d.
func (s *sim) run(d time.Duration) {
	until := s.now + d
	for i := 0; i < 1_000_000 && s.step(until); i++ {
	}
	s.now = until
}

func (s *sim) connect() {
	s.tcb[1].Listen(1_000_000)
	s.tcb[0].Connect(5_000, s.now)
	s.poll(0)
	s.run(time.Second)
}

// write queues p on TCB i and polls it.
func (s *sim) write(i int, p []byte) int {
	n, err := s.tcb[i].Write(p)
	if err != nil {
		s.t.Fatalf("write: %v", err)
	}
	s.poll(i)
	return n
}

// readAll drains TCB i.
func (s *sim) readAll(i int) []byte {
	var out bytes.Buffer
	buf := make([]byte, 4096)
	for {
		n, _ := s.tcb[i].Read(buf)
		if n == 0 {
			break
		}
		out.Write(buf[:n])
	}
	s.poll(i)
	return out.Bytes()
}

func (s *sim) wantStates(a, b State) {
	s.t.Helper()
	if s.tcb[0].State() != a || s.tcb[1].State() != b {
		s.t.Fatalf("states: got %v/%v, want %v/%v\n%s", s.tcb[0].State(), s.tcb[1].State(), a, b, strings.Join(s.log, "\n"))
	}
}

func segString(seg *wire.TCPSegment) string {
	return fmt.Sprintf("[%v] seq %d ack %d win %d len %d", seg.Flags, seg.Seq, seg.Ack, seg.Window, len(seg.Payload))
}
