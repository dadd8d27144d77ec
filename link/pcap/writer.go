// Package pcap records packets in the classic pcap capture format that
// tcpdump, Wireshark and tshark read. [Writer] writes a capture file;
// [Wrap] tees every packet an endpoint reads or writes into one.
//
// Files use LINKTYPE_RAW (each record is a bare IPv4 or IPv6 packet), a
// snapshot length of 65535 bytes, and little-endian byte order whatever the
// host, so a capture of the same packets is the same file everywhere.
//
// Format: https://datatracker.ietf.org/doc/draft-ietf-opsawg-pcap/
package pcap

import (
	"encoding/binary"
	"io"
	"math"
	"time"
)

// File format constants (draft-ietf-opsawg-pcap, File Header and Packet Record).
const (
	magicMicro      = 0xa1b2c3d4 // timestamps in seconds and microseconds
	magicNano       = 0xa1b23c4d // timestamps in seconds and nanoseconds
	versionMajor    = 2
	versionMinor    = 4
	fileHeaderLen   = 24
	recordHeaderLen = 16

	// LinkTypeRaw is LINKTYPE_RAW: each packet begins with an IPv4 or IPv6
	// header, with no link-layer header before it.
	LinkTypeRaw = 101

	// SnapLen is the most bytes of one packet a file records; longer
	// packets are cut, keeping their original length in the record.
	SnapLen = 65535
)

// Writer writes packets to a pcap file. A Writer is not safe for concurrent
// use; once a write fails, the file is incomplete and the Writer should be
// dropped.
type Writer struct {
	w    io.Writer
	nano bool
	buf  []byte // record header and packet, written with one Write
}

// NewWriter writes a pcap file header with microsecond timestamps to w and
// returns a Writer for the packets. It returns the error of the write.
func NewWriter(w io.Writer) (*Writer, error) { return newWriter(w, false) }

// NewWriterNano is NewWriter with nanosecond timestamps (magic 0xa1b23c4d),
// which current tcpdump, Wireshark and tshark read.
func NewWriterNano(w io.Writer) (*Writer, error) { return newWriter(w, true) }

// newWriter writes the file header and returns the Writer.
func newWriter(w io.Writer, nano bool) (*Writer, error) {
	pw := &Writer{w: w, nano: nano, buf: make([]byte, 0, recordHeaderLen+2048)}
	h := pw.buf[:fileHeaderLen]
	magic := uint32(magicMicro)
	if nano {
		magic = magicNano
	}
	binary.LittleEndian.PutUint32(h[0:], magic)
	binary.LittleEndian.PutUint16(h[4:], versionMajor)
	binary.LittleEndian.PutUint16(h[6:], versionMinor)
	binary.LittleEndian.PutUint32(h[8:], 0)  // reserved (was thiszone)
	binary.LittleEndian.PutUint32(h[12:], 0) // reserved (was sigfigs)
	binary.LittleEndian.PutUint32(h[16:], SnapLen)
	binary.LittleEndian.PutUint32(h[20:], LinkTypeRaw)
	if err := writeAll(w, h); err != nil {
		return nil, err
	}
	return pw, nil
}

// WritePacket appends one packet, captured at ts, to the file; packets longer
// than SnapLen are cut to SnapLen bytes. Times before 1970 are written as
// 1970, times after 2106 as 2106. It returns the error of the write.
func (w *Writer) WritePacket(ts time.Time, pkt []byte) error {
	caplen := min(len(pkt), SnapLen)
	n := recordHeaderLen + caplen
	if cap(w.buf) < n {
		w.buf = make([]byte, 0, n)
	}
	b := w.buf[:n]
	sec, frac := timestamp(ts, w.nano)
	binary.LittleEndian.PutUint32(b[0:], sec)
	binary.LittleEndian.PutUint32(b[4:], frac)
	binary.LittleEndian.PutUint32(b[8:], uint32(caplen))
	binary.LittleEndian.PutUint32(b[12:], uint32(min(len(pkt), math.MaxUint32)))
	copy(b[recordHeaderLen:], pkt[:caplen])
	return writeAll(w.w, b)
}

// timestamp splits ts into the record's seconds and fraction fields.
func timestamp(ts time.Time, nano bool) (sec, frac uint32) {
	s := ts.Unix()
	switch {
	case s < 0:
		return 0, 0
	case s > math.MaxUint32:
		return math.MaxUint32, 0
	}
	ns := uint32(ts.Nanosecond())
	if nano {
		return uint32(s), ns
	}
	return uint32(s), ns / 1000
}

// writeAll writes b, turning a short write into io.ErrShortWrite.
func writeAll(w io.Writer, b []byte) error {
	n, err := w.Write(b)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	return err
}
