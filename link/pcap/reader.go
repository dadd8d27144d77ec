package pcap

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// Reading limits. A record or block larger than maxRecord is taken for
// garbage rather than allocated: real snapshot lengths stop at 256 KiB.
const (
	maxRecord = 16 << 20
	magicNG   = 0x0a0d0d0a // pcapng Section Header Block type, any byte order
	// magicModified is Alexey Kuznetzov's "modified pcap" (24-byte record
	// headers), which tcpdump writes no more.
	magicModified = 0xa1b2cd34
	// linkTypeMask keeps the link type of a file header's LinkType field,
	// whose top bits say whether frames end in an FCS (draft-ietf-opsawg-pcap
	// §4).
	linkTypeMask = 0x03ffffff
)

// Errors a Reader returns besides io.EOF. A capture cut short inside a
// record or block gives an error wrapping io.ErrUnexpectedEOF, so that a
// caller may keep the packets read before it.
var (
	// ErrFormat reports bytes that are not a capture this package reads:
	// an unknown magic number, a header or block that contradicts itself.
	ErrFormat = errors.New("pcap: malformed capture")
)

// Packet is one packet record of a capture.
type Packet struct {
	// Time is when the packet was captured.
	Time time.Time
	// LinkType is the LINKTYPE_ value of the packet's interface: it says
	// what header precedes the network layer in Data (see IP).
	LinkType uint32
	// Interface is the index of the pcapng interface the packet was
	// captured on, in its section; 0 in a classic pcap file.
	Interface int
	// Data holds the captured bytes. It is valid until the next call of
	// Next.
	Data []byte
	// OrigLen is the packet's length on the wire, more than len(Data) when
	// the snapshot length cut it.
	OrigLen int
}

// Reader reads the packets of a capture file: classic pcap in either byte
// order with microsecond or nanosecond timestamps, or pcapng (Section Header,
// Interface Description, Enhanced, Simple and the obsolete Packet blocks,
// several interfaces and sections, any timestamp resolution and offset;
// other blocks are skipped). It never panics on malformed input: it returns
// an error naming the record and byte offset. A Reader is not safe for
// concurrent use.
type Reader struct {
	r     *bufio.Reader
	off   int64 // bytes consumed so far
	n     int   // packets returned so far
	ng    bool
	order binary.ByteOrder
	buf   []byte

	// classic pcap
	nano     bool
	linkType uint32

	// pcapng: the current section's interfaces
	ifaces []ngIface
}

// NewReader reads the file header from r and returns a Reader for the
// packets. It returns an error wrapping ErrFormat for a file that is
// neither classic pcap nor pcapng, or the error of reading r.
func NewReader(r io.Reader) (*Reader, error) {
	rd := &Reader{r: bufio.NewReaderSize(r, 64<<10)}
	head, err := rd.read(4)
	if err != nil {
		return nil, headerError(rd.off, err)
	}
	switch le, be := binary.LittleEndian.Uint32(head), binary.BigEndian.Uint32(head); {
	case le == magicNG:
		rd.ng = true
		if err := rd.section(); err != nil {
			return nil, err
		}
		return rd, nil
	case le == magicMicro || le == magicNano:
		rd.order, rd.nano = binary.LittleEndian, le == magicNano
	case be == magicMicro || be == magicNano:
		rd.order, rd.nano = binary.BigEndian, be == magicNano
	case le == magicModified || be == magicModified:
		return nil, fmt.Errorf("%w: modified pcap format (magic % x) is not supported", ErrFormat, head)
	default:
		return nil, fmt.Errorf("%w: unknown magic number % x: not a pcap or pcapng file", ErrFormat, head)
	}
	h, err := rd.read(fileHeaderLen - 4)
	if err != nil {
		return nil, headerError(rd.off, err)
	}
	if major := rd.order.Uint16(h[0:]); major != versionMajor {
		return nil, fmt.Errorf("%w: pcap version %d.%d, want 2.x", ErrFormat, major, rd.order.Uint16(h[2:]))
	}
	rd.linkType = rd.order.Uint32(h[16:]) & linkTypeMask
	return rd, nil
}

// Next returns the next packet, io.EOF after the last one, or an error
// that names the packet and the byte offset where the file went wrong.
func (r *Reader) Next() (Packet, error) {
	if r.ng {
		return r.nextNG()
	}
	at := r.off
	h, err := r.read(recordHeaderLen)
	if err == io.EOF {
		return Packet{}, io.EOF
	}
	if err != nil {
		return Packet{}, r.errorf("record header", err)
	}
	sec, frac := r.order.Uint32(h[0:]), r.order.Uint32(h[4:])
	caplen, origlen := r.order.Uint32(h[8:]), r.order.Uint32(h[12:])
	if caplen > maxRecord {
		return Packet{}, fmt.Errorf("%w: packet %d at offset %d claims %d captured bytes", ErrFormat, r.n+1, at, caplen)
	}
	data, err := r.read(int(caplen))
	if err != nil {
		return Packet{}, r.errorf("packet data", err)
	}
	ns := int64(frac) * 1000
	if r.nano {
		ns = int64(frac)
	}
	r.n++
	return Packet{
		Time: time.Unix(int64(sec), ns), LinkType: r.linkType, Data: data,
		OrigLen: int(max(origlen, caplen)),
	}, nil
}

// read returns the next n bytes in r.buf, or io.EOF when the file ends
// before the first of them, or io.ErrUnexpectedEOF when it ends inside.
func (r *Reader) read(n int) ([]byte, error) {
	if cap(r.buf) < n {
		r.buf = make([]byte, n, max(n, 2*cap(r.buf)))
	}
	b := r.buf[:n]
	m, err := io.ReadFull(r.r, b)
	r.off += int64(m)
	return b, err
}

// headerError wraps an error reading the file header.
func headerError(off int64, err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("pcap: file header cut short at offset %d: %w", off, err)
}

// errorf wraps a read error with where it happened.
func (r *Reader) errorf(what string, err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("pcap: packet %d: %s cut short at offset %d: %w", r.n+1, what, r.off, err)
}
