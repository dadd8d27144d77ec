package trace

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/synack-go/synack/wire"
)

// TestTextMatchesTcpdump writes the golden conversations (and a few odd
// segments) to a pcap file, has the real tcpdump print it, and checks that
// Text prints the very same lines, with relative and with absolute numbers.
// It skips when tcpdump is not installed (apt-get install tcpdump).
func TestTextMatchesTcpdump(t *testing.T) {
	tcpdump, err := exec.LookPath("tcpdump")
	if err != nil {
		t.Skip("tcpdump not in PATH; install it to cross-check the text format")
	}
	sack := tsOpts(300, 400)
	sack.NumSACK = 3
	sack.SACK = [4]wire.SACKBlock{blk(5201, 5301), blk(5401, 5501), blk(4000, 4100)}
	var events []Event
	for _, e := range append(conversation(cli4, srv4), conversation(cli6, srv6)...) {
		if e.Kind == SegmentOut {
			events = append(events, e)
		}
	}
	cliB := netip.MustParseAddrPort("10.0.0.1:49153")
	events = append(events,
		out(0, "", cliB, srv4, wire.TCPSegment{Seq: 1234, Flags: wire.SYN, Window: 65535, Options: synOpts(1, 0)}),
		in(0, "", cliB, srv4, wire.TCPSegment{Seq: 0, Ack: 1235, Flags: wire.RST | wire.ACK}),
		out(0, "", cliB, srv4, wire.TCPSegment{Seq: 1235, Ack: 77, Flags: wire.ACK, Window: 9, Options: sack}),
		in(0, "", cliB, srv4, wire.TCPSegment{Seq: 77, Ack: 1235, Flags: wire.ACK, Window: 9, Options: sack}),
		out(0, "", cliB, srv4, wire.TCPSegment{Seq: 1235, Flags: wire.RST}),
		out(0, "", cliB, srv4, wire.TCPSegment{Seq: 1235, Ack: 78, Flags: wire.URG | wire.ACK | wire.PSH | wire.ECE | wire.CWR, Urgent: 2, Window: 1, Payload: []byte("hi")}),
		out(0, "", cliB, srv4, wire.TCPSegment{Seq: 1, Flags: wire.SYN, Options: wire.TCPOptions{MSS: 536, SACKPermitted: true, HasWScale: true, WScale: 14}}),
		out(0, "", cliB, srv4, wire.TCPSegment{Seq: 1, Flags: wire.SYN, Options: wire.TCPOptions{HasTS: true, TSVal: 1 << 31, HasWScale: true,
			NumSACK: 4, SACK: [4]wire.SACKBlock{blk(1, 2), blk(3, 4), blk(5, 6), blk(7, 8)}}}),
	)
	pcap := filepath.Join(t.TempDir(), "trace.pcap")
	if err := os.WriteFile(pcap, writePcap(events), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opts TextOptions
		args []string
	}{
		{"relative", TextOptions{Time: TimeNone}, nil},
		{"absolute", TextOptions{Time: TimeNone, Absolute: true}, []string{"-S"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(tcpdump, append([]string{"-n", "-t", "-r", pcap}, tc.args...)...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			want, err := cmd.Output()
			if err != nil {
				t.Fatalf("tcpdump: %v\n%s", err, stderr.Bytes())
			}
			got := render(t, tc.opts, events)
			gotLines, wantLines := strings.Split(got, "\n"), strings.Split(string(want), "\n")
			if len(gotLines) != len(wantLines) {
				t.Fatalf("%d lines, tcpdump printed %d:\n%s", len(gotLines), len(wantLines), want)
			}
			for i := range gotLines {
				// tcpdump decodes payloads by port (": HTTP" for port 80
				// with data); Text prints the TCP layer only.
				wantLines[i] = appDecode.ReplaceAllString(wantLines[i], "$1")
				if gotLines[i] != wantLines[i] {
					t.Errorf("line %d:\ngot     %s\ntcpdump %s", i+1, gotLines[i], wantLines[i])
				}
			}
		})
	}
}

// appDecode matches what tcpdump prints after "length N" for a payload it
// decodes.
var appDecode = regexp.MustCompile(`(, length \d+): .*$`)

// writePcap returns a pcap file (LINKTYPE_RAW) holding each segment event
// as the IP packet that carries it.
func writePcap(events []Event) []byte {
	var f []byte
	f = binary.LittleEndian.AppendUint32(f, 0xa1b2c3d4) // magic, microseconds
	f = binary.LittleEndian.AppendUint16(f, 2)
	f = binary.LittleEndian.AppendUint16(f, 4)
	f = binary.LittleEndian.AppendUint32(f, 0)     // thiszone
	f = binary.LittleEndian.AppendUint32(f, 0)     // sigfigs
	f = binary.LittleEndian.AppendUint32(f, 65535) // snaplen
	f = binary.LittleEndian.AppendUint32(f, 101)   // LINKTYPE_RAW
	for _, e := range events {
		src, dst := e.Remote.Addr(), e.Local.Addr()
		if e.Kind == SegmentOut {
			src, dst = dst, src
		}
		hl := wire.IPHeaderLen(dst)
		pkt := make([]byte, hl+e.Seg.Len())
		wire.PutIPHeader(pkt, src, dst, wire.ProtoTCP, e.Seg.Len(), 64)
		e.Seg.Emit(pkt[hl:])
		wire.TCP(pkt[hl:]).SetChecksum(src, dst)
		us := e.At.Microseconds()
		f = binary.LittleEndian.AppendUint32(f, uint32(us/1e6))
		f = binary.LittleEndian.AppendUint32(f, uint32(us%1e6))
		f = binary.LittleEndian.AppendUint32(f, uint32(len(pkt)))
		f = binary.LittleEndian.AppendUint32(f, uint32(len(pkt)))
		f = append(f, pkt...)
	}
	return f
}
