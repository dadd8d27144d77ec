package wire

import (
	"bytes"
	"errors"
	"testing"
)

func TestOptionsEmitLinuxLayout(t *testing.T) {
	sack := func(n int) TCPOptions {
		o := TCPOptions{NumSACK: n}
		for i := range n {
			o.SACK[i] = SACKBlock{Seq(0x1000 * (i + 1)), Seq(0x1000*(i+1) + 0x100)}
		}
		return o
	}
	synAck := TCPOptions{MSS: 1460, SACKPermitted: true, HasTS: true, TSVal: 1, TSEcr: 2, HasWScale: true, WScale: 7}
	tsSack3 := sack(3)
	tsSack3.HasTS, tsSack3.TSVal, tsSack3.TSEcr = true, 0x01020304, 0x05060708
	full := synAck
	full.NumSACK, full.SACK = 4, sack(4).SACK
	for _, tc := range []struct {
		name string
		o    TCPOptions
		want string
	}{
		{"none", TCPOptions{}, ""},
		{"mss", TCPOptions{MSS: 1460}, "020405b4"},
		{"sackOK", TCPOptions{SACKPermitted: true}, "01010402"},
		{"ts", TCPOptions{HasTS: true, TSVal: 0xdeadbeef, TSEcr: 1}, "0101080a deadbeef 00000001"},
		{"wscale", TCPOptions{HasWScale: true, WScale: 14}, "0103030e"},
		{"wscale 0", TCPOptions{HasWScale: true}, "01030300"},
		// Linux SYN-ACK: mss 1460,sackOK,TS val 1 ecr 2,nop,wscale 7.
		{"syn", synAck, "020405b4 0402080a 00000001 00000002 01030307"},
		{"sack1", sack(1), "0101050a 00001000 00001100"},
		{"sack4", sack(4), "01010522 00001000 00001100 00002000 00002100 00003000 00003100 00004000 00004100"},
		{"ts+sack3 fills 40", tsSack3, "0101080a 01020304 05060708 0101051a 00001000 00001100 00002000 00002100 00003000 00003100"},
		// 20 bytes of SYN options leave room for two blocks.
		{"syn+sack4 keeps 2", full, "020405b4 0402080a 00000001 00000002 01030307 01010512 00001000 00001100 00002000 00002100"},
		{"negative NumSACK", TCPOptions{NumSACK: -1}, ""},
		{"huge NumSACK", TCPOptions{NumSACK: 1 << 30}, "01010522 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := mustHex(tc.want)
			if got := tc.o.Len(); got != len(want) {
				t.Fatalf("Len() = %d, want %d", got, len(want))
			}
			out := bytes.Repeat([]byte{0xee}, 48)
			n := tc.o.Emit(out)
			if n != len(want) || !bytes.Equal(out[:n], want) {
				t.Fatalf("Emit = %d % x\nwant %d % x", n, out[:n], len(want), want)
			}
			if !bytes.Equal(out[n:], bytes.Repeat([]byte{0xee}, 48-n)) {
				t.Fatalf("Emit wrote past Len(): % x", out)
			}
		})
	}
}

func TestOptionsLenAndRoundTrip(t *testing.T) {
	// Every combination of options and SACK counts, in and out of range.
	for mask := range 16 {
		for nsack := -2; nsack <= 6; nsack++ {
			o := TCPOptions{NumSACK: nsack}
			if mask&1 != 0 {
				o.MSS = 536
			}
			if mask&2 != 0 {
				o.HasWScale, o.WScale = true, 3
			}
			if mask&4 != 0 {
				o.SACKPermitted = true
			}
			if mask&8 != 0 {
				o.HasTS, o.TSVal, o.TSEcr = true, 100, 200
			}
			for i := range o.SACK {
				o.SACK[i] = SACKBlock{Seq(i * 10), Seq(i*10 + 5)}
			}
			n := o.Len()
			if n%4 != 0 || n > TCPMaxOptionsLen {
				t.Fatalf("%+v: Len() = %d", o, n)
			}
			buf := make([]byte, n)
			if got := o.Emit(buf); got != n {
				t.Fatalf("%+v: Emit = %d, Len = %d", o, got, n)
			}
			var back TCPOptions
			if err := back.Parse(buf); err != nil {
				t.Fatalf("%+v: Parse(% x): %v", o, buf, err)
			}
			if want := normalized(o); back != want {
				t.Fatalf("round trip of % x:\ngot  %+v\nwant %+v", buf, back, want)
			}
		}
	}
}

func TestOptionsRoundTripRandom(t *testing.T) {
	r := newRand(3)
	for range 2000 {
		o := randOptions(r)
		buf := make([]byte, o.Len())
		o.Emit(buf)
		var back TCPOptions
		if err := back.Parse(buf); err != nil {
			t.Fatalf("Parse(% x): %v", buf, err)
		}
		if want := normalized(o); back != want {
			t.Fatalf("round trip of % x:\ngot  %+v\nwant %+v", buf, back, want)
		}
	}
}

func TestOptionsParse(t *testing.T) {
	mss := func(v uint16) TCPOptions { return TCPOptions{MSS: v} }
	for _, tc := range []struct {
		name string
		in   string
		want TCPOptions
		err  error
	}{
		{"empty", "", TCPOptions{}, nil},
		{"nops", "01010101", TCPOptions{}, nil},
		{"eol", "00", TCPOptions{}, nil},
		{"eol ends the list", "020405b4 00 02 00 ff", mss(1460), nil},
		{"eol padding", "020405b4 000000 00", mss(1460), nil},
		{"mss", "020405b4", mss(1460), nil},
		{"mss 0 means absent", "02040000", TCPOptions{}, nil},
		{"wscale", "010303 0e", TCPOptions{HasWScale: true, WScale: 14}, nil},
		{"wscale above 14 kept as sent", "030320 00", TCPOptions{HasWScale: true, WScale: 32}, nil},
		{"sackOK", "0402 0101", TCPOptions{SACKPermitted: true}, nil},
		{"ts unaligned", "01 080a 00000001 00000002 00", TCPOptions{HasTS: true, TSVal: 1, TSEcr: 2}, nil},
		{"sack 1", "0101050a 00000010 00000020", TCPOptions{NumSACK: 1, SACK: [4]SACKBlock{{0x10, 0x20}}}, nil},
		{"sack 4", "0522 00000001 00000002 00000003 00000004 00000005 00000006 00000007 00000008",
			TCPOptions{NumSACK: 4, SACK: [4]SACKBlock{{1, 2}, {3, 4}, {5, 6}, {7, 8}}}, nil},
		{"any order", "0303 05 080a 00000009 0000000a 0402 0204 0218",
			TCPOptions{MSS: 536, HasWScale: true, WScale: 5, SACKPermitted: true, HasTS: true, TSVal: 9, TSEcr: 10}, nil},
		{"later copy wins", "02040100 02040200", mss(0x200), nil},
		{"later sack replaces", "0512 00000001 00000002 00000003 00000004 050a 00000005 00000006",
			TCPOptions{NumSACK: 1, SACK: [4]SACKBlock{{5, 6}}}, nil},
		{"unknown skipped", "fd04abcd 020405b4", mss(1460), nil},
		{"unknown empty skipped", "2202 020405b4", mss(1460), nil},
		{"tfo cookie skipped", "220a 0102030405060708 0101", TCPOptions{}, nil},
		{"mss bad length ignored", "0203ff 020405b4", mss(1460), nil},
		{"wscale bad length ignored", "03040102", TCPOptions{}, nil},
		{"sackOK bad length ignored", "040301", TCPOptions{}, nil},
		{"ts bad length ignored", "0808 000000010000", TCPOptions{}, nil},
		{"sack no blocks ignored", "0502", TCPOptions{}, nil},
		{"sack ragged ignored", "050b 0000000100000002 ff", TCPOptions{}, nil},
		{"length 0", "fd00", TCPOptions{}, ErrMalformed},
		{"length 1", "020405b4 fd01", TCPOptions{}, ErrMalformed},
		{"mss length 0", "0200", TCPOptions{}, ErrMalformed},
		{"no length byte", "010102", TCPOptions{}, ErrMalformed},
		{"runs past end", "0204 05", TCPOptions{}, ErrMalformed},
		{"ts runs past end", "080a 00000001 000000", TCPOptions{}, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := TCPOptions{MSS: 9, HasTS: true, NumSACK: 2} // Parse must reset
			err := o.Parse(mustHex(tc.in))
			if !errors.Is(err, tc.err) {
				t.Fatalf("Parse(%s) error = %v, want %v", tc.in, err, tc.err)
			}
			if err == nil && o != tc.want {
				t.Fatalf("Parse(%s)\ngot  %+v\nwant %+v", tc.in, o, tc.want)
			}
		})
	}
}

func TestOptionsParseLongInput(t *testing.T) {
	// Outside a TCP header an option list may exceed 40 bytes; a SACK
	// option with more than four blocks keeps the first four.
	in := []byte{optSACK, 2 + 8*6}
	for i := range 12 {
		in = append(in, 0, 0, 0, byte(i))
	}
	var o TCPOptions
	if err := o.Parse(in); err != nil {
		t.Fatal(err)
	}
	want := TCPOptions{NumSACK: 4, SACK: [4]SACKBlock{{0, 1}, {2, 3}, {4, 5}, {6, 7}}}
	if o != want {
		t.Fatalf("got %+v, want %+v", o, want)
	}
}
