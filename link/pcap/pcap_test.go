package pcap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/synack-go/synack/link/pipe"
)

// udp4 returns a valid IPv4/UDP packet from 10.0.0.1 to 10.0.0.2 carrying
// payload. The UDP checksum is 0 (none), which IPv4 allows.
func udp4(srcPort uint16, payload string) []byte {
	b := make([]byte, 28+len(payload))
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	b[8] = 64 // TTL
	b[9] = 17 // UDP
	copy(b[12:], []byte{10, 0, 0, 1, 10, 0, 0, 2})
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	binary.BigEndian.PutUint16(b[10:], ^uint16(sum))
	binary.BigEndian.PutUint16(b[20:], srcPort)
	binary.BigEndian.PutUint16(b[22:], 9)
	binary.BigEndian.PutUint16(b[24:], uint16(8+len(payload)))
	copy(b[28:], payload)
	return b
}

// record is one parsed packet record.
type record struct {
	sec, frac, caplen, origlen uint32
	data                       []byte
}

// parse checks a little-endian pcap file header and returns the records.
func parse(t *testing.T, file []byte, magic uint32) []record {
	t.Helper()
	le := binary.LittleEndian
	if len(file) < 24 {
		t.Fatalf("file of %d bytes has no header", len(file))
	}
	if m := le.Uint32(file); m != magic {
		t.Fatalf("magic %#x, want %#x", m, magic)
	}
	if le.Uint16(file[4:]) != 2 || le.Uint16(file[6:]) != 4 || le.Uint32(file[16:]) != 65535 || le.Uint32(file[20:]) != 101 {
		t.Fatalf("bad header % x", file[:24])
	}
	var recs []record
	for b := file[24:]; len(b) > 0; {
		if len(b) < 16 {
			t.Fatalf("truncated record header")
		}
		r := record{sec: le.Uint32(b), frac: le.Uint32(b[4:]), caplen: le.Uint32(b[8:]), origlen: le.Uint32(b[12:])}
		if len(b) < 16+int(r.caplen) {
			t.Fatalf("record claims %d bytes, %d left", r.caplen, len(b)-16)
		}
		r.data = b[16 : 16+r.caplen]
		recs = append(recs, r)
		b = b[16+r.caplen:]
	}
	return recs
}

func TestWriterRecords(t *testing.T) {
	ts := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	for _, nano := range []bool{false, true} {
		var buf bytes.Buffer
		newWriter := NewWriter
		if nano {
			newWriter = NewWriterNano
		}
		w, err := newWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		p1, p2 := udp4(1, "hello"), make([]byte, 70000)
		copy(p2, p1)
		if err := w.WritePacket(ts, p1); err != nil {
			t.Fatal(err)
		}
		if err := w.WritePacket(ts.Add(time.Second), p2); err != nil {
			t.Fatal(err)
		}
		w.WritePacket(time.Unix(-5, 0), nil) // before 1970: written as 1970
		magic, frac := uint32(0xa1b2c3d4), uint32(123456)
		if nano {
			magic, frac = 0xa1b23c4d, 123456789
		}
		recs := parse(t, buf.Bytes(), magic)
		if len(recs) != 3 {
			t.Fatalf("%d records, want 3", len(recs))
		}
		if r := recs[0]; r.sec != uint32(ts.Unix()) || r.frac != frac || r.caplen != uint32(len(p1)) || r.origlen != r.caplen || !bytes.Equal(r.data, p1) {
			t.Fatalf("nano %v: record 0 is %+v", nano, r)
		}
		if r := recs[1]; r.sec != uint32(ts.Unix())+1 || r.caplen != 65535 || r.origlen != 70000 {
			t.Fatalf("nano %v: long packet record is sec %d caplen %d origlen %d", nano, r.sec, r.caplen, r.origlen)
		}
		if r := recs[2]; r.sec != 0 || r.frac != 0 || r.caplen != 0 {
			t.Fatalf("nano %v: pre-1970 record is %+v", nano, r)
		}
	}
}

// fakeClock returns times one millisecond apart.
func fakeClock() func() time.Time {
	t := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	return func() time.Time {
		t = t.Add(time.Millisecond)
		return t
	}
}

// capture sends three packets a->b and two b->a through a pipe whose a end
// is wrapped, and returns the capture file.
func capture(t *testing.T, cfg Config) []byte {
	t.Helper()
	a, b := pipe.New(pipe.Config{})
	var file bytes.Buffer
	e, err := Wrap(a, &file, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.MTU() != 1500 || e.BatchSize() != a.BatchSize() {
		t.Fatal("Wrap changed MTU or BatchSize")
	}
	if err := e.WriteBatch([][]byte{udp4(1, "one"), udp4(2, "two")}); err != nil {
		t.Fatal(err)
	}
	if err := e.WriteBatch([][]byte{udp4(3, "three")}); err != nil {
		t.Fatal(err)
	}
	if err := b.WriteBatch([][]byte{udp4(4, "four"), udp4(5, "five")}); err != nil {
		t.Fatal(err)
	}
	bufs, sizes := [][]byte{make([]byte, 1500), make([]byte, 1500)}, []int{0, 0}
	if n, err := e.ReadBatch(bufs, sizes); n != 2 || err != nil {
		t.Fatalf("ReadBatch = %d, %v", n, err)
	}
	if e.Err() != nil {
		t.Fatal(e.Err())
	}
	return file.Bytes()
}

func TestWrapRecordsBothDirections(t *testing.T) {
	recs := parse(t, capture(t, Config{Now: fakeClock()}), 0xa1b2c3d4)
	if len(recs) != 5 {
		t.Fatalf("%d records, want 5", len(recs))
	}
	// One timestamp per batch: 1 ms, 1 ms, 2 ms, then the read at 3 ms.
	wantMS := []uint32{1, 1, 2, 3, 3}
	for i, r := range recs {
		if port := binary.BigEndian.Uint16(r.data[20:]); port != uint16(i+1) {
			t.Fatalf("record %d is packet %d", i, port)
		}
		if r.frac != wantMS[i]*1000 {
			t.Fatalf("record %d stamped %d us, want %d ms", i, r.frac, wantMS[i])
		}
	}
	// The same traffic on the same clock makes the same file.
	if !bytes.Equal(capture(t, Config{Now: fakeClock()}), capture(t, Config{Now: fakeClock()})) {
		t.Fatal("two captures of the same traffic differ")
	}
}

// failAfter accepts n writes, then fails every one.
type failAfter struct{ n int }

var errDiskFull = errors.New("disk full")

func (f *failAfter) Write(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errDiskFull
	}
	f.n--
	return len(p), nil
}

func TestCaptureErrorNeverStopsTraffic(t *testing.T) {
	a, b := pipe.New(pipe.Config{})
	defer a.Close()
	if _, err := Wrap(a, &failAfter{0}, Config{}); !errors.Is(err, errDiskFull) {
		t.Fatalf("Wrap on a failing writer = %v, want its error", err)
	}
	e, err := Wrap(a, &failAfter{2}, Config{}) // header and one record
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := e.WriteBatch([][]byte{udp4(uint16(i), "x")}); err != nil {
			t.Fatalf("WriteBatch %d = %v despite a capture error", i, err)
		}
	}
	bufs, sizes := [][]byte{make([]byte, 1500)}, []int{0}
	for range 3 {
		if n, err := b.ReadBatch(bufs, sizes); n != 1 || err != nil {
			t.Fatalf("traffic stopped: ReadBatch = %d, %v", n, err)
		}
	}
	if !errors.Is(e.Err(), errDiskFull) {
		t.Fatalf("Err = %v, want the write error", e.Err())
	}
	e.Close()
	if err := b.WriteBatch(nil); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Close did not close the wrapped endpoint: %v", err)
	}
}

func TestShortWriteIsAnError(t *testing.T) {
	if _, err := NewWriter(shortWriter{}); !errors.Is(err, io.ErrShortWrite) {
		t.Fatalf("NewWriter on a short writer = %v, want io.ErrShortWrite", err)
	}
}

type shortWriter struct{}

func (shortWriter) Write(p []byte) (int, error) { return len(p) / 2, nil }

// TestToolsReadTheFile has tshark, or else tcpdump, read a capture and
// count its packets.
func TestToolsReadTheFile(t *testing.T) {
	var tool string
	var args []string
	if p, err := exec.LookPath("tshark"); err == nil {
		tool, args = p, []string{"-n", "-r"}
	} else if p, err := exec.LookPath("tcpdump"); err == nil {
		tool, args = p, []string{"-n", "-r"}
	} else {
		t.Skip("neither tshark nor tcpdump is in PATH; install one to check the files it reads")
	}
	for _, nano := range []bool{false, true} {
		path := filepath.Join(t.TempDir(), "c.pcap")
		if err := os.WriteFile(path, capture(t, Config{Nanosecond: nano}), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(tool, append(args, path)...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", tool, err, out)
		}
		t.Logf("%s:\n%s", filepath.Base(tool), out)
		n := 0
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, "10.0.0.1") && strings.Contains(line, "10.0.0.2") {
				n++
			}
		}
		if n != 5 {
			t.Fatalf("%s (nanosecond %v) printed %d packets, want 5:\n%s", filepath.Base(tool), nano, n, out)
		}
	}
}

func BenchmarkWrapWrite(b *testing.B) {
	a, _ := pipe.New(pipe.Config{QueueLen: 1})
	defer a.Close()
	e, err := Wrap(a, io.Discard, Config{})
	if err != nil {
		b.Fatal(err)
	}
	batch := make([][]byte, 64)
	for i := range batch {
		batch[i] = udp4(uint16(i), strings.Repeat("x", 1472))
	}
	b.ReportAllocs()
	b.SetBytes(64 * 1500)
	for b.Loop() {
		e.WriteBatch(batch)
	}
}
