package pcap

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"time"
)

// pcapng block types and option codes (draft-ietf-opsawg-pcapng §4, §10).
const (
	ngBOM          = 0x1a2b3c4d // byte-order magic of a Section Header Block
	ngBlockIDB     = 1          // Interface Description Block
	ngBlockPB      = 2          // Packet Block (obsolete)
	ngBlockSPB     = 3          // Simple Packet Block
	ngBlockEPB     = 6          // Enhanced Packet Block
	ngOptEnd       = 0          // opt_endofopt
	ngOptTSResol   = 9          // if_tsresol
	ngOptTSOffset  = 14         // if_tsoffset
	ngMinBlock     = 12         // type, length, trailing length
	ngSHBMinBody   = 16         // byte-order magic, version, section length
	ngDefaultResol = 6          // microseconds when if_tsresol is absent
)

// ngIface is what a packet needs from its Interface Description Block.
type ngIface struct {
	linkType uint32
	snapLen  uint32
	resol    uint8 // if_tsresol: 10^-n seconds, or 2^-(n&0x7f) when the top bit is set
	offset   int64 // if_tsoffset, seconds
}

// section reads a Section Header Block whose type has just been read: it
// sets the byte order and forgets the interfaces of the section before.
func (r *Reader) section() error {
	at := r.off - 4
	h, err := r.read(8)
	if err != nil {
		return r.errorf("section header", err)
	}
	switch {
	case binary.LittleEndian.Uint32(h[4:]) == ngBOM:
		r.order = binary.LittleEndian
	case binary.BigEndian.Uint32(h[4:]) == ngBOM:
		r.order = binary.BigEndian
	default:
		return fmt.Errorf("%w: pcapng section header at offset %d has byte-order magic % x", ErrFormat, at, h[4:8])
	}
	total := r.order.Uint32(h)
	if total < ngMinBlock+ngSHBMinBody || total%4 != 0 || total > maxRecord {
		return fmt.Errorf("%w: pcapng section header at offset %d has length %d", ErrFormat, at, total)
	}
	rest, err := r.read(int(total) - 12) // past type, length and magic
	if err != nil {
		return r.errorf("section header", err)
	}
	if major := r.order.Uint16(rest); major != 1 {
		return fmt.Errorf("%w: pcapng version %d.%d at offset %d, want 1.x", ErrFormat, major, r.order.Uint16(rest[2:]), at)
	}
	if trail := r.order.Uint32(rest[len(rest)-4:]); trail != total {
		return fmt.Errorf("%w: pcapng section header at offset %d ends with length %d, not %d", ErrFormat, at, trail, total)
	}
	r.ifaces = r.ifaces[:0]
	return nil
}

// nextNG returns the next packet of a pcapng file.
func (r *Reader) nextNG() (Packet, error) {
	for {
		at := r.off
		h, err := r.read(4)
		if err == io.EOF {
			return Packet{}, io.EOF
		}
		if err != nil {
			return Packet{}, r.errorf("block header", err)
		}
		if binary.LittleEndian.Uint32(h) == magicNG { // the same in both byte orders
			if err := r.section(); err != nil {
				return Packet{}, err
			}
			continue
		}
		typ := r.order.Uint32(h)
		if h, err = r.read(4); err != nil {
			return Packet{}, r.errorf("block header", err)
		}
		total := r.order.Uint32(h)
		if total < ngMinBlock || total%4 != 0 || total > maxRecord {
			return Packet{}, fmt.Errorf("%w: pcapng block of type %d at offset %d has length %d", ErrFormat, typ, at, total)
		}
		b, err := r.read(int(total) - 8)
		if err != nil {
			return Packet{}, r.errorf("block", err)
		}
		body := b[:len(b)-4]
		if trail := r.order.Uint32(b[len(b)-4:]); trail != total {
			return Packet{}, fmt.Errorf("%w: pcapng block of type %d at offset %d ends with length %d, not %d", ErrFormat, typ, at, trail, total)
		}
		var p Packet
		var ok bool
		switch typ {
		case ngBlockIDB:
			err = r.interfaceBlock(body)
		case ngBlockEPB:
			p, ok, err = r.enhancedBlock(body)
		case ngBlockSPB:
			p, ok, err = r.simpleBlock(body)
		case ngBlockPB:
			p, ok, err = r.packetBlock(body)
		}
		if err != nil {
			return Packet{}, fmt.Errorf("%w: pcapng block of type %d at offset %d: %s", ErrFormat, typ, at, err)
		}
		if ok {
			r.n++
			return p, nil
		}
	}
}

// interfaceBlock adds the interface an Interface Description Block
// describes.
func (r *Reader) interfaceBlock(body []byte) error {
	if len(body) < 8 {
		return fmt.Errorf("interface description of %d bytes", len(body))
	}
	ifc := ngIface{linkType: uint32(r.order.Uint16(body)), snapLen: r.order.Uint32(body[4:]), resol: ngDefaultResol}
	for opts := body[8:]; len(opts) >= 4; {
		code, n := r.order.Uint16(opts), int(r.order.Uint16(opts[2:]))
		if code == ngOptEnd {
			break
		}
		padded := (n + 3) &^ 3
		if 4+padded > len(opts) {
			return fmt.Errorf("option %d of %d bytes runs past the block", code, n)
		}
		v := opts[4 : 4+n]
		switch {
		case code == ngOptTSResol && n >= 1:
			ifc.resol = v[0]
		case code == ngOptTSOffset && n >= 8:
			ifc.offset = int64(r.order.Uint64(v))
		}
		opts = opts[4+padded:]
	}
	if len(r.ifaces) >= 1<<16 {
		return fmt.Errorf("more than %d interfaces", 1<<16)
	}
	r.ifaces = append(r.ifaces, ifc)
	return nil
}

// iface returns the interface numbered id in the current section.
func (r *Reader) iface(id uint32) (*ngIface, error) {
	if int64(id) >= int64(len(r.ifaces)) {
		return nil, fmt.Errorf("packet on interface %d, of %d described", id, len(r.ifaces))
	}
	return &r.ifaces[id], nil
}

// enhancedBlock returns the packet of an Enhanced Packet Block.
func (r *Reader) enhancedBlock(body []byte) (Packet, bool, error) {
	if len(body) < 20 {
		return Packet{}, false, fmt.Errorf("enhanced packet block of %d bytes", len(body))
	}
	id := r.order.Uint32(body)
	ifc, err := r.iface(id)
	if err != nil {
		return Packet{}, false, err
	}
	ts := uint64(r.order.Uint32(body[4:]))<<32 | uint64(r.order.Uint32(body[8:]))
	caplen, origlen := r.order.Uint32(body[12:]), r.order.Uint32(body[16:])
	if int64(caplen) > int64(len(body)-20) {
		return Packet{}, false, fmt.Errorf("%d captured bytes in a block of %d", caplen, len(body)+12)
	}
	return Packet{Time: ifc.time(ts), LinkType: ifc.linkType, Interface: int(id),
		Data: body[20 : 20+caplen], OrigLen: int(max(origlen, caplen))}, true, nil
}

// simpleBlock returns the packet of a Simple Packet Block, which has no
// timestamp (its Time is the zero Time) and belongs to the first interface.
func (r *Reader) simpleBlock(body []byte) (Packet, bool, error) {
	if len(body) < 4 {
		return Packet{}, false, fmt.Errorf("simple packet block of %d bytes", len(body))
	}
	ifc, err := r.iface(0)
	if err != nil {
		return Packet{}, false, err
	}
	origlen := r.order.Uint32(body)
	caplen := min(int64(origlen), int64(len(body)-4))
	if ifc.snapLen != 0 {
		caplen = min(caplen, int64(ifc.snapLen))
	}
	return Packet{LinkType: ifc.linkType, Data: body[4 : 4+caplen], OrigLen: int(max(int64(origlen), caplen))}, true, nil
}

// packetBlock returns the packet of an obsolete Packet Block.
func (r *Reader) packetBlock(body []byte) (Packet, bool, error) {
	if len(body) < 20 {
		return Packet{}, false, fmt.Errorf("packet block of %d bytes", len(body))
	}
	id := uint32(r.order.Uint16(body))
	ifc, err := r.iface(id)
	if err != nil {
		return Packet{}, false, err
	}
	ts := uint64(r.order.Uint32(body[4:]))<<32 | uint64(r.order.Uint32(body[8:]))
	caplen, origlen := r.order.Uint32(body[12:]), r.order.Uint32(body[16:])
	if int64(caplen) > int64(len(body)-20) {
		return Packet{}, false, fmt.Errorf("%d captured bytes in a block of %d", caplen, len(body)+12)
	}
	return Packet{Time: ifc.time(ts), LinkType: ifc.linkType, Interface: int(id),
		Data: body[20 : 20+caplen], OrigLen: int(max(origlen, caplen))}, true, nil
}

// time converts a timestamp in the interface's units to a time.
func (ifc *ngIface) time(ts uint64) time.Time {
	var sec, ns uint64
	if ifc.resol&0x80 != 0 {
		shift := uint(ifc.resol & 0x7f)
		if shift >= 64 {
			sec, ns = 0, 0
		} else {
			sec = ts >> shift
			hi, lo := bits.Mul64(ts&(1<<shift-1), 1e9)
			ns = lo>>shift | hi<<(64-shift) // hi<<64 is 0 in Go
		}
	} else {
		unit := uint64(1)
		exp := min(ifc.resol, 19) // 10^19 overflows uint64
		for range exp {
			unit *= 10
		}
		sec = ts / unit
		frac := ts % unit
		switch {
		case exp <= 9:
			ns = frac * (1e9 / unit)
		default:
			ns = frac / (unit / 1e9)
		}
	}
	return time.Unix(int64(sec)+ifc.offset, int64(ns))
}
