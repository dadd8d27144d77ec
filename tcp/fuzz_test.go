package tcp

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/synack-go/synack/wire"
)

// tcbInState returns a TCB of the pair (A, B) driven by real segments into a
// state chosen by k, so that fuzzed segments reach every state.
func tcbInState(t testing.TB, k byte) (*sim, int) {
	s := newSim(t, testConfig())
	switch k % 10 {
	case 0: // LISTEN
		s.tcb[1].Listen(1_000_000)
		return s, 1
	case 1: // SYN_SENT
		s.tcb[0].Connect(5000, 0)
		s.poll(0)
		s.flight = nil
		return s, 0
	case 2: // SYN_RECEIVED
		s.tcb[1].Listen(1_000_000)
		s.tcb[0].Connect(5000, 0)
		s.poll(0)
		s.step(time.Second)
		s.flight = nil
		return s, 1
	}
	s.connect()
	switch k % 10 {
	case 3: // ESTABLISHED with data both ways in flight
		s.write(0, make([]byte, 5000))
		s.write(1, make([]byte, 3000))
		return s, 0
	case 4: // FIN_WAIT1
		s.tcb[0].Shutdown(s.now)
		s.poll(0)
		s.flight = nil
		return s, 0
	case 5: // FIN_WAIT2 / CLOSE_WAIT
		s.tcb[0].Shutdown(s.now)
		s.poll(0)
		s.run(time.Second)
		return s, int(k/10) % 2
	case 6: // CLOSING
		s.tcb[0].Close(s.now)
		s.tcb[1].Close(s.now)
		s.poll(0)
		s.poll(1)
		s.step(s.now + time.Second)
		s.step(s.now + time.Second)
		return s, 0
	case 7: // LAST_ACK
		s.tcb[0].Close(s.now)
		s.poll(0)
		s.run(time.Second)
		s.tcb[1].Close(s.now)
		s.poll(1)
		s.flight = nil
		return s, 1
	case 8: // TIME_WAIT
		s.tcb[0].Close(s.now)
		s.poll(0)
		s.run(time.Second)
		s.tcb[1].Close(s.now)
		s.poll(1)
		s.run(time.Second)
		return s, 0
	}
	return s, 1
}

// FuzzTCBInput feeds random segments into a TCB in every state. Properties:
// no panic, and the sequence-space invariants hold after every segment.
func FuzzTCBInput(f *testing.F) {
	f.Add([]byte{3, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10})
	f.Add([]byte{2, 0x04, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{8, 0x02, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 1 {
			return
		}
		s, i := tcbInState(t, data[0])
		tcb := s.tcb[i]
		data = data[1:]
		var out collector
		now := s.now
		for len(data) >= 12 {
			seg := wire.TCPSegment{
				SrcPort: tcb.rport, DstPort: tcb.lport,
				Flags:  wire.TCPFlags(data[0]),
				Seq:    tcb.rcv.nxt + Seq(int32(int16(binary.BigEndian.Uint16(data[1:])))),
				Ack:    tcb.snd.una + Seq(int32(int16(binary.BigEndian.Uint16(data[3:])))),
				Window: binary.BigEndian.Uint16(data[5:]),
				Urgent: uint16(data[7]),
			}
			if data[8]&1 != 0 {
				seg.Options.HasTS = true
				seg.Options.TSVal = binary.BigEndian.Uint32(data[8:])
			}
			if data[8]&2 != 0 {
				seg.Options.NumSACK = 1
				seg.Options.SACK[0] = wire.SACKBlock{Left: tcb.snd.una + Seq(data[9])*100, Right: tcb.snd.una + Seq(data[10])*100}
			}
			if data[8]&4 != 0 {
				seg.Options.MSS = uint16(data[9])
			}
			n := int(data[11])
			data = data[12:]
			n = min(n, len(data))
			seg.Payload, data = data[:n], data[n:]
			now += time.Duration(data0(data)) * time.Millisecond
			tcb.Input(&seg, now)
			tcb.Poll(now, &out)
			if d := tcb.Deadline(); d != NoDeadline && d <= now {
				tcb.Poll(now, &out)
			}
			checkInvariants(t, tcb)
			buf := make([]byte, 100)
			tcb.Read(buf)
			tcb.Write(buf)
		}
		tcb.Poll(now+3*time.Minute, &out)
		checkInvariants(t, tcb)
	})
}

func data0(b []byte) byte {
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

func checkInvariants(t *testing.T, tcb *TCB) {
	t.Helper()
	if tcb.state == StateClosed || tcb.state == StateListen {
		return
	}
	if tcb.snd.una.Greater(tcb.snd.nxt) && tcb.state != StateSynSent {
		t.Fatalf("%v: SND.UNA %d > SND.NXT %d", tcb.state, tcb.snd.una, tcb.snd.nxt)
	}
	if tcb.snd.nxt.Greater(tcb.snd.max) {
		t.Fatalf("%v: SND.NXT %d > SND.MAX %d", tcb.state, tcb.snd.nxt, tcb.snd.max)
	}
	if tcb.rcv.buf.n < 0 || tcb.rcv.buf.n > tcb.rcv.buf.size || tcb.snd.buf.n > tcb.snd.buf.size {
		t.Fatalf("%v: buffer overflow: rcv %d/%d snd %d/%d", tcb.state, tcb.rcv.buf.n, tcb.rcv.buf.size, tcb.snd.buf.n, tcb.snd.buf.size)
	}
	end := tcb.snd.bufSeq.Add(uint32(tcb.snd.buf.n))
	if tcb.state.synchronized() && tcb.snd.una.Greater(end.Add(1)) {
		t.Fatalf("%v: SND.UNA %d beyond the buffered data and FIN (%d)", tcb.state, tcb.snd.una, end)
	}
}
