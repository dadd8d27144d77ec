package pcap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// rec is one packet to put in a test capture.
type rec struct {
	ts   time.Time
	data []byte
	orig int // 0 means len(data)
}

// byteOrder is what the file builders need of a byte order.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// classicFile builds a classic pcap file in the given byte order.
func classicFile(order byteOrder, nano bool, linkType uint32, recs []rec) []byte {
	var f []byte
	magic := uint32(magicMicro)
	if nano {
		magic = magicNano
	}
	f = order.AppendUint32(f, magic)
	f = order.AppendUint16(f, 2)
	f = order.AppendUint16(f, 4)
	f = order.AppendUint32(f, 0)
	f = order.AppendUint32(f, 0)
	f = order.AppendUint32(f, 262144)
	f = order.AppendUint32(f, linkType)
	for _, r := range recs {
		frac := uint32(r.ts.Nanosecond() / 1000)
		if nano {
			frac = uint32(r.ts.Nanosecond())
		}
		orig := r.orig
		if orig == 0 {
			orig = len(r.data)
		}
		f = order.AppendUint32(f, uint32(r.ts.Unix()))
		f = order.AppendUint32(f, frac)
		f = order.AppendUint32(f, uint32(len(r.data)))
		f = order.AppendUint32(f, uint32(orig))
		f = append(f, r.data...)
	}
	return f
}

// ngWriter builds pcapng files block by block.
type ngWriter struct {
	order byteOrder
	b     []byte
}

func (w *ngWriter) block(typ uint32, body []byte) {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	n := uint32(12 + len(body))
	w.b = w.order.AppendUint32(w.b, typ)
	w.b = w.order.AppendUint32(w.b, n)
	w.b = append(w.b, body...)
	w.b = w.order.AppendUint32(w.b, n)
}

func (w *ngWriter) shb() {
	var body []byte
	body = w.order.AppendUint32(body, ngBOM)
	body = w.order.AppendUint16(body, 1)
	body = w.order.AppendUint16(body, 0)
	body = w.order.AppendUint64(body, ^uint64(0)) // section length unknown
	w.block(magicNG, body)
}

// idb describes an interface; resol < 0 leaves if_tsresol out.
func (w *ngWriter) idb(linkType uint16, snap uint32, resol int, offset int64) {
	var body []byte
	body = w.order.AppendUint16(body, linkType)
	body = w.order.AppendUint16(body, 0)
	body = w.order.AppendUint32(body, snap)
	body = w.order.AppendUint16(body, 2) // if_name, to be skipped
	body = w.order.AppendUint16(body, 3)
	body = append(body, 'l', 'o', '0', 0)
	if resol >= 0 {
		body = w.order.AppendUint16(body, ngOptTSResol)
		body = w.order.AppendUint16(body, 1)
		body = append(body, byte(resol), 0, 0, 0)
	}
	if offset != 0 {
		body = w.order.AppendUint16(body, ngOptTSOffset)
		body = w.order.AppendUint16(body, 8)
		body = w.order.AppendUint64(body, uint64(offset))
	}
	body = w.order.AppendUint32(body, 0) // opt_endofopt
	w.block(ngBlockIDB, body)
}

func (w *ngWriter) epb(iface uint32, ts uint64, data []byte, orig int) {
	var body []byte
	body = w.order.AppendUint32(body, iface)
	body = w.order.AppendUint32(body, uint32(ts>>32))
	body = w.order.AppendUint32(body, uint32(ts))
	body = w.order.AppendUint32(body, uint32(len(data)))
	body = w.order.AppendUint32(body, uint32(orig))
	w.block(ngBlockEPB, append(body, data...))
}

func (w *ngWriter) spb(data []byte, orig int) {
	body := w.order.AppendUint32(nil, uint32(orig))
	w.block(ngBlockSPB, append(body, data...))
}

func (w *ngWriter) pb(iface uint16, ts uint64, data []byte) {
	var body []byte
	body = w.order.AppendUint16(body, iface)
	body = w.order.AppendUint16(body, 0)
	body = w.order.AppendUint32(body, uint32(ts>>32))
	body = w.order.AppendUint32(body, uint32(ts))
	body = w.order.AppendUint32(body, uint32(len(data)))
	body = w.order.AppendUint32(body, uint32(len(data)))
	w.block(ngBlockPB, append(body, data...))
}

// readAll reads every packet of file, copying the data.
func readAll(t *testing.T, file []byte) []Packet {
	t.Helper()
	r, err := NewReader(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	var pkts []Packet
	for {
		p, err := r.Next()
		if err == io.EOF {
			return pkts
		}
		if err != nil {
			t.Fatalf("packet %d: %v", len(pkts)+1, err)
		}
		p.Data = append([]byte(nil), p.Data...)
		pkts = append(pkts, p)
	}
}

func TestReadClassic(t *testing.T) {
	ts := time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.UTC)
	p1, p2 := udp4(1, "one"), udp4(2, "two")
	for _, tc := range []struct {
		name  string
		order byteOrder
		nano  bool
	}{
		{"little-endian microseconds", binary.LittleEndian, false},
		{"little-endian nanoseconds", binary.LittleEndian, true},
		{"big-endian microseconds", binary.BigEndian, false},
		{"big-endian nanoseconds", binary.BigEndian, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := classicFile(tc.order, tc.nano, LinkTypeRaw|0x10000000, []rec{{ts: ts, data: p1}, {ts: ts.Add(time.Second), data: p2[:20], orig: len(p2)}})
			pkts := readAll(t, file)
			if len(pkts) != 2 {
				t.Fatalf("%d packets, want 2", len(pkts))
			}
			want := ts.Truncate(time.Microsecond)
			if tc.nano {
				want = ts
			}
			if !pkts[0].Time.Equal(want) || pkts[0].LinkType != LinkTypeRaw || !bytes.Equal(pkts[0].Data, p1) || pkts[0].OrigLen != len(p1) {
				t.Errorf("packet 1: %+v", pkts[0])
			}
			if len(pkts[1].Data) != 20 || pkts[1].OrigLen != len(p2) || !pkts[1].Time.Equal(want.Add(time.Second)) {
				t.Errorf("packet 2 (cut by the snapshot length): %+v", pkts[1])
			}
		})
	}
}

// What the package's own Writer writes, its Reader reads.
func TestReadWhatWriterWrote(t *testing.T) {
	ts := time.Date(2025, 1, 2, 3, 4, 5, 6789, time.UTC)
	for _, nano := range []bool{false, true} {
		var buf bytes.Buffer
		w, err := newWriter(&buf, nano)
		if err != nil {
			t.Fatal(err)
		}
		w.WritePacket(ts, udp4(7, "x"))
		pkts := readAll(t, buf.Bytes())
		if len(pkts) != 1 || !bytes.Equal(pkts[0].Data, udp4(7, "x")) || pkts[0].Time.Nanosecond()/1000 != 6 {
			t.Errorf("nano %v: %+v", nano, pkts)
		}
	}
}

func TestReadPcapng(t *testing.T) {
	p := udp4(1, "hello")
	eth := append([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x08, 0x00}, p...)
	for _, order := range []byteOrder{binary.LittleEndian, binary.BigEndian} {
		t.Run(order.String(), func(t *testing.T) {
			w := &ngWriter{order: order}
			w.shb()
			w.idb(LinkTypeEthernet, 0, -1, 0)  // microseconds by default
			w.idb(LinkTypeRaw, 65535, 9, 1000) // nanoseconds, 1000 s offset
			w.block(4, []byte{0, 0, 0, 0})     // a Name Resolution Block, skipped
			w.epb(0, 1_700_000_000_123_456, eth, len(eth))
			w.epb(1, 5_000_000_007, p, len(p))
			w.spb(eth[:20], len(eth))
			w.pb(1, 1_000_000_000, p)
			w.idb(LinkTypeRaw, 0, 0x80|10, 0) // 2^-10 s
			w.epb(2, 3<<10|512, p, len(p))
			// A second section in the other byte order starts afresh.
			other := &ngWriter{order: binary.LittleEndian}
			if order == binary.LittleEndian {
				other.order = binary.BigEndian
			}
			other.shb()
			other.idb(LinkTypeLinuxSLL2, 0, 3, 0)
			other.epb(0, 42_123, p, len(p))
			file := append(w.b, other.b...)

			pkts := readAll(t, file)
			if len(pkts) != 6 {
				t.Fatalf("%d packets, want 6", len(pkts))
			}
			type want struct {
				t    time.Time
				lt   uint32
				ifc  int
				n    int
				orig int
			}
			for i, w := range []want{
				{time.Unix(1_700_000_000, 123_456_000), LinkTypeEthernet, 0, len(eth), len(eth)},
				{time.Unix(1005, 7), LinkTypeRaw, 1, len(p), len(p)},
				{time.Time{}, LinkTypeEthernet, 0, 20, len(eth)},
				{time.Unix(1001, 0), LinkTypeRaw, 1, len(p), len(p)},
				{time.Unix(3, 500_000_000), LinkTypeRaw, 2, len(p), len(p)},
				{time.Unix(42, 123_000_000), LinkTypeLinuxSLL2, 0, len(p), len(p)},
			} {
				g := pkts[i]
				if !g.Time.Equal(w.t) || g.LinkType != w.lt || g.Interface != w.ifc || len(g.Data) != w.n || g.OrigLen != w.orig {
					t.Errorf("packet %d: time %v link %d iface %d len %d orig %d, want %+v", i+1, g.Time, g.LinkType, g.Interface, len(g.Data), g.OrigLen, w)
				}
			}
			if ip, err := IP(pkts[0].LinkType, pkts[0].Data); err != nil || !bytes.Equal(ip, p) {
				t.Errorf("IP of the Ethernet frame: %v", err)
			}
		})
	}
}

func TestIPLinkTypes(t *testing.T) {
	p := udp4(1, "x")
	p6 := append([]byte{0x60}, make([]byte, 39)...)
	be := binary.BigEndian
	ether := func(types ...uint16) []byte {
		f := make([]byte, 12)
		for i, typ := range types {
			f = be.AppendUint16(f, typ)
			if i < len(types)-1 {
				f = be.AppendUint16(f, 0x0123) // the VLAN tag's TCI
			}
		}
		return f
	}
	sll := func(proto uint16) []byte {
		h := make([]byte, 14)
		be.PutUint16(h[2:], 772) // ARPHRD_LOOPBACK
		return be.AppendUint16(h, proto)
	}
	sll2 := func(proto uint16) []byte {
		h := be.AppendUint16(nil, proto)
		return append(h, make([]byte, 18)...)
	}
	for _, tc := range []struct {
		name   string
		link   uint32
		header []byte
		ip     []byte
		err    error
	}{
		{"raw", LinkTypeRaw, nil, p, nil},
		{"DLT_RAW 12", LinkTypeDLTRaw, nil, p, nil},
		{"DLT_RAW 14", LinkTypeDLTRawOpenBSD, nil, p6, nil},
		{"IPv4", LinkTypeIPv4, nil, p, nil},
		{"IPv6", LinkTypeIPv6, nil, p6, nil},
		{"Ethernet", LinkTypeEthernet, ether(etherIPv4), p, nil},
		{"Ethernet IPv6", LinkTypeEthernet, ether(etherIPv6), p6, nil},
		{"802.1Q", LinkTypeEthernet, ether(etherVLAN, etherIPv4), p, nil},
		{"QinQ", LinkTypeEthernet, ether(etherQinQ, etherVLAN, etherIPv6), p6, nil},
		{"ARP", LinkTypeEthernet, ether(0x0806), p, ErrNotIP},
		{"short Ethernet", LinkTypeEthernet, []byte{1, 2, 3}, nil, ErrFormat},
		{"VLAN cut short", LinkTypeEthernet, append(ether(etherVLAN), 0), nil, ErrFormat},
		{"SLL", LinkTypeLinuxSLL, sll(etherIPv4), p, nil},
		{"SLL IPv6", LinkTypeLinuxSLL, sll(etherIPv6), p6, nil},
		{"SLL2", LinkTypeLinuxSLL2, sll2(etherIPv4), p, nil},
		{"SLL2 ARP", LinkTypeLinuxSLL2, sll2(0x0806), p, ErrNotIP},
		{"short SLL2", LinkTypeLinuxSLL2, make([]byte, 10), nil, ErrFormat},
		{"null, little-endian host", LinkTypeNull, []byte{2, 0, 0, 0}, p, nil},
		{"null, big-endian host", LinkTypeNull, []byte{0, 0, 0, 2}, p, nil},
		{"null IPv6 (Darwin)", LinkTypeNull, []byte{30, 0, 0, 0}, p6, nil},
		{"null, not IP", LinkTypeNull, []byte{7, 0, 0, 0}, p, ErrNotIP},
		{"loop", LinkTypeLoop, []byte{0, 0, 0, 24}, p6, nil},
		{"unknown link type", 147, nil, p, ErrLinkType},
	} {
		got, err := IP(tc.link, append(append([]byte(nil), tc.header...), tc.ip...))
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%s: error %v, want %v", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, tc.ip) {
			t.Errorf("%s: got % x, %v", tc.name, got, err)
		}
	}
}

// Malformed files give errors that say what is wrong, never a panic.
func TestReadMalformed(t *testing.T) {
	le := binary.LittleEndian
	good := classicFile(le, false, LinkTypeRaw, []rec{{ts: time.Unix(1, 0), data: udp4(1, "a")}})
	huge := append([]byte(nil), good...)
	le.PutUint32(huge[24+8:], 1<<30)
	badVersion := append([]byte(nil), good...)
	le.PutUint16(badVersion[4:], 3)
	ng := &ngWriter{order: le}
	ng.shb()
	ng.idb(LinkTypeRaw, 0, -1, 0)
	epbAt := len(ng.b)
	ng.epb(0, 1, udp4(1, "a"), 29)
	noIface := &ngWriter{order: le}
	noIface.shb()
	noIface.epb(3, 1, udp4(1, "a"), 29)
	badTrail := append([]byte(nil), ng.b...)
	badTrail[len(badTrail)-1] ^= 0xff
	badLen := append([]byte(nil), ng.b...)
	le.PutUint32(badLen[epbAt+4:], 13) // the EPB's length
	for _, tc := range []struct {
		name string
		file []byte
		open bool // NewReader succeeds; the error comes from Next
		err  error
	}{
		{"empty", nil, false, io.ErrUnexpectedEOF},
		{"not a capture", []byte("GET / HTTP/1.1\r\n\r\nxxxxxxxxxx"), false, ErrFormat},
		{"modified pcap", le.AppendUint32(make([]byte, 0, 24), magicModified), false, ErrFormat},
		{"header cut short", good[:10], false, io.ErrUnexpectedEOF},
		{"version 3", badVersion, false, ErrFormat},
		{"record header cut short", good[:30], true, io.ErrUnexpectedEOF},
		{"record data cut short", good[:len(good)-1], true, io.ErrUnexpectedEOF},
		{"record of 1 GiB", huge, true, ErrFormat},
		{"pcapng cut short", ng.b[:len(ng.b)-3], true, io.ErrUnexpectedEOF},
		{"pcapng section header cut short", ng.b[:20], false, io.ErrUnexpectedEOF},
		{"pcapng packet of an undescribed interface", noIface.b, true, ErrFormat},
		{"pcapng trailing length differs", badTrail, true, ErrFormat},
		{"pcapng block length not a multiple of 4", badLen, true, ErrFormat},
		{"pcapng bad byte-order magic", append(le.AppendUint32(le.AppendUint32(nil, magicNG), 28), make([]byte, 20)...), false, ErrFormat},
	} {
		r, err := NewReader(bytes.NewReader(tc.file))
		if tc.open {
			if err != nil {
				t.Errorf("%s: NewReader: %v", tc.name, err)
				continue
			}
			for err == nil {
				_, err = r.Next()
			}
		}
		if !errors.Is(err, tc.err) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.err)
		} else {
			t.Logf("%s: %v", tc.name, err)
		}
	}
}

// TestReadToolFiles has editcap (Wireshark's) convert a capture to pcapng
// and to big-endian, nanosecond pcap, and reads all three back the same.
func TestReadToolFiles(t *testing.T) {
	editcap, err := exec.LookPath("editcap")
	if err != nil {
		t.Skip("editcap not in PATH; install tshark (it brings editcap) to read files Wireshark writes")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "src.pcap")
	ts := time.Date(2025, 6, 7, 8, 9, 10, 11_000, time.UTC)
	var recs []rec
	for i := range 5 {
		recs = append(recs, rec{ts: ts.Add(time.Duration(i) * time.Millisecond), data: udp4(uint16(i), "tool")})
	}
	if err := os.WriteFile(src, classicFile(binary.LittleEndian, false, LinkTypeRaw, recs), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"pcapng", "nsecpcap"} {
		out := filepath.Join(dir, format)
		if b, err := exec.Command(editcap, "-F", format, src, out).CombinedOutput(); err != nil {
			t.Fatalf("editcap -F %s: %v\n%s", format, err, b)
		}
		file, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		pkts := readAll(t, file)
		if len(pkts) != len(recs) {
			t.Fatalf("%s: %d packets, want %d", format, len(pkts), len(recs))
		}
		for i, p := range pkts {
			if !p.Time.Equal(recs[i].ts) || !bytes.Equal(p.Data, recs[i].data) || p.LinkType != LinkTypeRaw {
				t.Errorf("%s: packet %d: %v link %d % x", format, i+1, p.Time, p.LinkType, p.Data)
			}
		}
	}
}
