package wire

import (
	"bytes"
	"errors"
	"testing"
)

// A SYN from 10.0.0.1:40000 to 10.0.0.2:80 as Linux sends it: seq 1000,
// win 64240, mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7.
const synHex = "9c40 0050 000003e8 00000000 a0 02 faf0 0000 0000" +
	"020405b4 0402080a 00000001 00000000 01030307"

func TestTCPCheck(t *testing.T) {
	hdr := func(off byte, n int) TCP {
		b := make(TCP, n)
		b[tcpDataOffset] = off << 4
		return b
	}
	for _, tc := range []struct {
		name string
		b    TCP
		err  error
	}{
		{"nil", nil, ErrTruncated},
		{"19 bytes", make(TCP, 19), ErrTruncated},
		{"offset 0", hdr(0, 20), ErrMalformed},
		{"offset 4", hdr(4, 40), ErrMalformed},
		{"offset 5", hdr(5, 20), nil},
		{"offset 6 short", hdr(6, 23), ErrTruncated},
		{"offset 6", hdr(6, 24), nil},
		{"offset 15", hdr(15, 60), nil},
		{"offset 15 short", hdr(15, 59), ErrTruncated},
	} {
		if err := tc.b.Check(); !errors.Is(err, tc.err) {
			t.Errorf("%s: Check() = %v, want %v", tc.name, err, tc.err)
		}
		var s TCPSegment
		if err := s.Parse(tc.b); !errors.Is(err, tc.err) {
			t.Errorf("%s: Parse() = %v, want %v", tc.name, err, tc.err)
		}
	}
}

func TestTCPAccessors(t *testing.T) {
	b := TCP(append(mustHex(synHex), "hello"...))
	b[tcpDataOffset] |= 0x01 // the NS/AE bit is not a flag
	if err := b.Check(); err != nil {
		t.Fatal(err)
	}
	if b.SrcPort() != 40000 || b.DstPort() != 80 || b.Seq() != 1000 || b.Ack() != 0 ||
		b.DataOffset() != 40 || b.Flags() != SYN || b.Window() != 64240 || b.Checksum() != 0 ||
		b.Urgent() != 0 || len(b.Options()) != 20 || string(b.Payload()) != "hello" {
		t.Fatalf("accessors of % x", []byte(b))
	}
}

func TestSegmentParse(t *testing.T) {
	var s TCPSegment
	s.Payload = []byte("stale")
	s.Options.NumSACK = 3
	if err := s.Parse(TCP(mustHex(synHex))); err != nil {
		t.Fatal(err)
	}
	want := TCPSegment{
		SrcPort: 40000, DstPort: 80, Seq: 1000, Flags: SYN, Window: 64240,
		Options: TCPOptions{MSS: 1460, SACKPermitted: true, HasTS: true, TSVal: 1, HasWScale: true, WScale: 7},
	}
	if d := segDiff(&s, &want); d != "" {
		t.Fatal(d)
	}
	// Re-emitting gives the same bytes: the options are in Linux's layout.
	out := make([]byte, s.Len())
	s.Emit(out)
	if !bytes.Equal(out, mustHex(synHex)) {
		t.Fatalf("Emit = % x\nwant   % x", out, mustHex(synHex))
	}
}

func TestSegmentParseBadOptions(t *testing.T) {
	b := mustHex(synHex)
	b[tcpHeaderLen+1] = 1 // MSS length 1
	var s TCPSegment
	if err := s.Parse(TCP(b)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Parse = %v, want ErrMalformed", err)
	}
}

func TestSegmentRoundTrip(t *testing.T) {
	r := newRand(4)
	for range 2000 {
		s := randSegment(r, 64)
		n := s.Len()
		if n != s.HeaderLen()+len(s.Payload) || s.HeaderLen()%4 != 0 || s.HeaderLen() > 60 {
			t.Fatalf("Len %d HeaderLen %d payload %d", n, s.HeaderLen(), len(s.Payload))
		}
		out := bytes.Repeat([]byte{0xee}, n+8)
		if got := s.Emit(out); got != n {
			t.Fatalf("Emit = %d, Len = %d", got, n)
		}
		if !bytes.Equal(out[n:], bytes.Repeat([]byte{0xee}, 8)) {
			t.Fatalf("Emit wrote past Len()")
		}
		if TCP(out).Checksum() != 0 {
			t.Fatalf("Emit left checksum %#x", TCP(out).Checksum())
		}
		var back TCPSegment
		if err := back.Parse(TCP(out[:n])); err != nil {
			t.Fatalf("Parse(% x): %v", out[:n], err)
		}
		want := s
		want.Options = normalized(s.Options)
		if d := segDiff(&back, &want); d != "" {
			t.Fatal(d)
		}
		if back.SeqLen() != s.SeqLen() {
			t.Fatalf("SeqLen %d != %d", back.SeqLen(), s.SeqLen())
		}
	}
}

func TestSegmentEmitInPlace(t *testing.T) {
	// The payload may already sit in the output buffer, where the header
	// goes or after it.
	for _, at := range []int{0, 7, 32, 44, 50} {
		buf := make([]byte, 128)
		copy(buf[at:], "payload!")
		s := TCPSegment{SrcPort: 1, DstPort: 2, Flags: PSH | ACK, Options: TCPOptions{HasTS: true, TSVal: 5}, Payload: buf[at : at+8]}
		n := s.Emit(buf)
		var back TCPSegment
		if err := back.Parse(TCP(buf[:n])); err != nil {
			t.Fatal(err)
		}
		if string(back.Payload) != "payload!" || back.Options.TSVal != 5 {
			t.Fatalf("payload at %d: got %q %+v", at, back.Payload, back.Options)
		}
	}
}

func TestSeqLen(t *testing.T) {
	for _, tc := range []struct {
		f    TCPFlags
		n    int
		want uint32
	}{
		{ACK, 0, 0}, {SYN, 0, 1}, {SYN | ACK, 0, 1}, {FIN | ACK, 0, 1}, {SYN | FIN, 0, 2},
		{PSH | ACK, 100, 100}, {FIN | PSH | ACK, 100, 101}, {RST, 0, 0}, {SYN | FIN, 3, 5},
	} {
		s := TCPSegment{Flags: tc.f, Payload: make([]byte, tc.n)}
		if got := s.SeqLen(); got != tc.want {
			t.Errorf("%v with %d bytes: SeqLen = %d, want %d", tc.f, tc.n, got, tc.want)
		}
	}
}

func TestTCPChecksum(t *testing.T) {
	r := newRand(5)
	for i := range 400 {
		src, dst := randAddrs(r, i%2 == 1)
		s := randSegment(r, 300)
		b := make(TCP, s.Len())
		s.Emit(b)
		b.SetChecksum(src, dst)
		if !b.VerifyChecksum(src, dst) {
			t.Fatalf("VerifyChecksum false right after SetChecksum")
		}
		// Any single-bit error is caught (RFC 1071 §2).
		j := r.IntN(len(b))
		b[j] ^= 1 << r.IntN(8)
		if b.VerifyChecksum(src, dst) {
			t.Fatalf("flipped bit in byte %d not detected", j)
		}
		b[j] ^= 0xff
		// Reference: naive sum over pseudo-header and segment.
		b.SetChecksum(src, dst)
		var ph []byte
		ph = append(ph, src.AsSlice()...)
		ph = append(ph, dst.AsSlice()...)
		if src.Is4() {
			ph = append(ph, 0, ProtoTCP, byte(len(b)>>8), byte(len(b)))
		} else {
			ph = append(ph, 0, 0, byte(len(b)>>8), byte(len(b)), 0, 0, 0, ProtoTCP)
		}
		if naiveSum(append(ph, b...)) != 0xffff {
			t.Fatalf("naive sum over a checksummed segment is not -0")
		}
	}
}
