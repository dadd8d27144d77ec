package tcp

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/synack-go/synack/wire"
)

// fuzzPeer plays the peer of one TCB for a fuzz input: it drives the TCB
// into a state with the segments a peer would send (no second TCB, no
// network, small buffers from a shared pool: a setup of a few calls), then
// checks what the TCB sends and delivers. Both byte streams are functions
// of the sequence number: the byte the peer sends at sequence s is
// peerByte(s), and the byte the application writes at offset i is
// appByte(i). So whatever the fuzzer makes the peer send, and however the
// TCB cuts, resends and reassembles, the bytes it delivers must be a
// prefix of the peer's stream and the bytes it sends a prefix of what was
// written.
type fuzzPeer struct {
	t         *testing.T
	tcb       *TCB
	now       time.Duration
	written   uint32 // bytes the application has written
	delivered uint32 // bytes the application has read
	buf       [512]byte
}

const (
	fuzzISS   Seq = 1_000_000 // the TCB's
	fuzzPeer0 Seq = 7_000     // the peer's ISS in the setup
)

// peerByte is the byte the peer sends at sequence s; appByte the byte the
// application writes at offset i. A multiplicative hash: a byte at the
// wrong offset shows, whatever the shift.
func peerByte(s Seq) byte   { return byte(uint32(s) * 0x9e3779b1 >> 24) }
func appByte(i uint32) byte { return byte((i ^ 0x5bd1e995) * 0x85ebca6b >> 24) }

// newFuzzPeer returns a TCB of cfg driven into the state k chooses: LISTEN,
// SYN_SENT, SYN_RECEIVED, ESTABLISHED with data in flight both ways,
// FIN_WAIT1, FIN_WAIT2 or CLOSE_WAIT, CLOSING, LAST_ACK, TIME_WAIT.
func newFuzzPeer(t *testing.T, cfg *Config, k byte) *fuzzPeer {
	p := &fuzzPeer{t: t, tcb: New(cfg, tcbPort, peerPort)}
	in := func(flags wire.TCPFlags, seq Seq, n int) {
		seg := wire.TCPSegment{SrcPort: peerPort, DstPort: tcbPort, Flags: flags, Seq: seq, Ack: p.tcb.snd.max,
			Window: 65535, Options: wire.TCPOptions{HasTS: true, TSVal: uint32(p.now / time.Millisecond)}}
		if flags&wire.SYN != 0 {
			seg.Options.MSS, seg.Options.SACKPermitted, seg.Options.HasWScale = 1460, true, true
			if flags&wire.ACK == 0 {
				seg.Ack = 0
			}
		}
		seg.Payload = p.peerData(seq, flags, n)
		p.step(&seg)
	}
	switch k % 10 {
	case 0:
		p.tcb.Listen(fuzzISS)
		return p
	case 1:
		p.tcb.Connect(fuzzISS, 0)
		p.poll()
		return p
	}
	p.tcb.Listen(fuzzISS)
	in(wire.SYN, fuzzPeer0, 0)
	if k%10 == 2 {
		return p
	}
	in(wire.ACK, fuzzPeer0+1, 0)
	switch k % 10 {
	case 3: // data both ways, some of it out of order
		p.write(3000)
		in(wire.ACK|wire.PSH, fuzzPeer0+1, 1000)
		in(wire.ACK, fuzzPeer0+2001, 500)
	case 4:
		p.tcb.Shutdown(p.now)
		p.poll()
	case 5:
		if k/10%2 == 0 { // FIN_WAIT2
			p.tcb.Shutdown(p.now)
			p.poll()
			in(wire.ACK, fuzzPeer0+1, 0)
		} else { // CLOSE_WAIT
			in(wire.FIN|wire.ACK, fuzzPeer0+1, 0)
		}
	case 6: // CLOSING: the FINs cross
		p.tcb.Close(p.now)
		p.poll()
		seg := wire.TCPSegment{SrcPort: peerPort, DstPort: tcbPort, Flags: wire.FIN | wire.ACK, Seq: fuzzPeer0 + 1,
			Ack: fuzzISS + 1, Window: 65535, Options: wire.TCPOptions{HasTS: true, TSVal: 1}}
		p.step(&seg)
	case 7: // LAST_ACK
		in(wire.FIN|wire.ACK, fuzzPeer0+1, 0)
		p.tcb.Close(p.now)
		p.poll()
	case 8: // TIME_WAIT
		p.tcb.Close(p.now)
		p.poll()
		in(wire.FIN|wire.ACK, fuzzPeer0+1, 0)
	case 9: // ESTABLISHED, idle
	}
	return p
}

// peerData returns the n bytes of the peer's stream a segment at seq with
// flags carries (a SYN's data starts one later).
func (p *fuzzPeer) peerData(seq Seq, flags wire.TCPFlags, n int) []byte {
	if n == 0 {
		return nil
	}
	if flags&wire.SYN != 0 {
		seq++
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = peerByte(seq.Add(uint32(i)))
	}
	return b
}

// step gives the TCB one segment now and lets it answer.
func (p *fuzzPeer) step(seg *wire.TCPSegment) {
	p.tcb.Input(seg, p.now)
	p.poll()
	if p.tcb.state == StateListen {
		// A RST took a passive TCB back to LISTEN (RFC 9293 §3.10.7.4):
		// the next SYN starts both streams again.
		p.written, p.delivered = 0, 0
	}
}

// poll lets the TCB emit what is due, twice if a deadline is already due.
func (p *fuzzPeer) poll() {
	p.tcb.Poll(p.now, p)
	if d := p.tcb.Deadline(); d <= p.now {
		p.tcb.Poll(p.now, p)
	}
}

// write writes n bytes of the application's stream, as many as fit.
func (p *fuzzPeer) write(n int) {
	for n > 0 {
		m := min(n, len(p.buf))
		for i := range m {
			p.buf[i] = appByte(p.written + uint32(i))
		}
		k, err := p.tcb.Write(p.buf[:m])
		p.written += uint32(k)
		if err != nil || k < m {
			break
		}
		n -= k
	}
	p.poll()
}

// read reads what the TCB holds and checks it continues the peer's stream.
func (p *fuzzPeer) read() {
	for {
		n, _ := p.tcb.Read(p.buf[:])
		if n == 0 {
			return
		}
		base := p.tcb.rcv.irs + 1
		for i, b := range p.buf[:n] {
			if want := peerByte(base.Add(p.delivered + uint32(i))); b != want {
				p.t.Fatalf("%v: delivered byte %d is %#x, want %#x: not a prefix of what the peer sent",
					p.tcb.state, p.delivered+uint32(i), b, want)
			}
		}
		p.delivered += uint32(n)
	}
}

// Emit checks every segment the TCB sends: its data is the application's
// stream at the right offset, and none beyond what was written.
func (p *fuzzPeer) Emit(seg *wire.TCPSegment) {
	if len(seg.Payload) == 0 {
		return
	}
	if seg.Flags&wire.SYN != 0 {
		p.t.Fatalf("%v: data on a SYN", p.tcb.state)
	}
	off := uint32(seg.Seq.Sub(fuzzISS + 1))
	if off+uint32(len(seg.Payload)) > p.written || off > p.written {
		p.t.Fatalf("%v: sent bytes %d..%d, but %d were written", p.tcb.state, off, off+uint32(len(seg.Payload)), p.written)
	}
	for i, b := range seg.Payload {
		if want := appByte(off + uint32(i)); b != want {
			p.t.Fatalf("%v: sent byte %d is %#x, want %#x: not what was written", p.tcb.state, off+uint32(i), b, want)
		}
	}
}

// FuzzTCBInput feeds random segments, time and application reads and
// writes to a TCB in every state. Properties: no panic; the sequence-space
// invariants hold after every step; the bytes delivered are a prefix of
// the bytes the peer sent, and the bytes sent a prefix of those written.
//
// An input is a state byte, then 12-byte steps: flags, SEQ (int16, from
// RCV.NXT), ACK (int16, from SND.UNA), window, urgent pointer, options
// (1: timestamp, whose TSval is the next 4 bytes; 2: a SACK block of the
// next two bytes ×100 from SND.UNA; 4: an MSS), payload length, then
// milliseconds to wait and what the application does (read, write 1000
// bytes, both, nothing).
func FuzzTCBInput(f *testing.F) {
	f.Add([]byte{3, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 3})
	f.Add([]byte{2, 0x04, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{8, 0x02, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0})
	f.Add([]byte{3, 0x18, 0x03, 0xe8, 0, 0, 0xff, 0xff, 0, 1, 0, 0, 0, 200, 100, 0,
		0x18, 0, 0, 0x0b, 0xb8, 0xff, 0xff, 0, 3, 0, 0, 0, 200, 5, 1})
	pool := NewBufferPool()
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 1 {
			return
		}
		p := newFuzzPeer(t, fuzzConfig(pool), data[0])
		tcb := p.tcb
		checkInvariants(t, tcb)
		for data = data[1:]; len(data) >= 14; {
			seg := wire.TCPSegment{
				SrcPort: peerPort, DstPort: tcbPort,
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
			seg.Payload = p.peerData(seg.Seq, seg.Flags, int(data[11])*8)
			p.now += time.Duration(data[12]) * time.Millisecond
			app := data[13]
			data = data[14:]
			p.step(&seg)
			checkInvariants(t, tcb)
			if app&1 != 0 {
				p.read()
			}
			if app&2 != 0 {
				p.write(1000)
			}
			checkInvariants(t, tcb)
		}
		p.now += 3 * time.Minute
		p.poll()
		p.read()
		checkInvariants(t, tcb)
	})
}

// fuzzConfig is the light configuration of the fuzzed TCBs: 16 KiB
// buffers from a pool the fuzzing process shares, so that an input costs
// microseconds, not megabytes; an MSS of 536 for more segments per byte.
func fuzzConfig(pool *BufferPool) *Config {
	return &Config{MSS: 536, NoDelay: true, SendBuf: 16 << 10, RecvBuf: 16 << 10, Buffers: pool}
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
	checkRecords(t, tcb)
}

// checkRecords checks the transmit record against SND.UNA and SND.MAX and
// the counters the pipe is made of.
func checkRecords(t *testing.T, tcb *TCB) {
	t.Helper()
	xs := tcb.xs
	if xs == nil || !tcb.state.synchronized() {
		return
	}
	q := &xs.q
	next := tcb.snd.una
	var sacked, lost, retrans uint32
	var listed uint32
	for id := q.head; id != q.end(); id++ {
		r := q.at(id)
		if r.seq != next || !r.seq.Less(r.end) {
			t.Fatalf("%v: record %d is [%d, %d), want it to start at %d", tcb.state, id, r.seq, r.end, next)
		}
		next = r.end
		if r.flags&txSACKed != 0 {
			sacked += r.len()
			if r.flags&(txLost|txRetransIn|txListed) != 0 {
				t.Fatalf("record %d SACKed and flagged %b", id, r.flags)
			}
		}
		if r.flags&txLost != 0 {
			lost += r.len()
			if r.flags&txListed != 0 && r.flags&txRetransIn == 0 {
				t.Fatalf("record %d lost, not resent, and in the time list", id)
			}
		}
		if r.flags&txRetransIn != 0 {
			retrans += r.len()
		}
		if r.flags&txListed != 0 {
			listed++
		}
	}
	if next != tcb.snd.max {
		t.Fatalf("%v: records end at %d, SND.MAX is %d", tcb.state, next, tcb.snd.max)
	}
	if (tcb.sackOK && sacked != xs.sackedOut) || lost != xs.lostOut || retrans != xs.retransOut || listed != q.tLen {
		t.Fatalf("counters: sacked %d/%d lost %d/%d retrans %d/%d listed %d/%d", sacked, xs.sackedOut,
			lost, xs.lostOut, retrans, xs.retransOut, listed, q.tLen)
	}
	id := q.tHead
	for i := uint32(0); i < q.tLen; i++ {
		r := q.at(id)
		if r.flags&txListed == 0 {
			t.Fatalf("the time list holds record %d, not flagged", id)
		}
		if i+1 < q.tLen && sentAfter(r.sentAt(), r.end, q.at(r.next).sentAt(), q.at(r.next).end) &&
			r.flags&txRetrans == 0 && q.at(r.next).flags&txRetrans == 0 {
			t.Fatalf("the time list is out of order at record %d", id)
		}
		id = r.next
	}
}
