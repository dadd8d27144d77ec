package script

import (
	"encoding/binary"
	"time"
)

// sock is a socket the script made, under its script fd. A passive
// connection not yet accepted is a sock too, with fd -1 and its listener
// as parent.
type sock struct {
	scriptFD  int
	liveFD    int
	listening bool
	bound     bool
	conn      *conn   // the connection it is; nil before any
	parent    *sock   // the listener of a passive connection
	pending   []*conn // a listener's connections not yet accepted, oldest first
}

// conn is one connection as the script sees it: its ports and the numbers
// that translate between the script's sequence space and the live one.
type conn struct {
	lport, rport uint16
	lportKnown   bool

	// The stack's ISN, learned from its first SYN or SYN-ACK, and what the
	// script calls it (the seq on that line).
	localISN, scriptLocalISN uint32
	haveLocalISN             bool
	// The script's ISN: the seq of its SYN (live and script agree).
	remoteISN     uint32
	haveRemoteISN bool

	// Timestamps: the live val recorded for each script val of the
	// outbound lines matched, and the first offset live − script.
	tsVals  map[uint32]uint32
	tsOff   uint32
	haveTS  bool
	tsStart time.Duration // the run time of the first outbound TS
}

func newConn() *conn { return &conn{tsVals: make(map[uint32]uint32)} }

// freshPort picks a remote port for a new passive connection.
func (r *runner) freshPort() uint16 {
	return uint16(40000 + r.ports.IntN(20000))
}

// passiveConn makes the connection of a peer that opens towards bind_port
// from a fresh port.
func (r *runner) passiveConn() *conn {
	c := newConn()
	c.lport, c.lportKnown = r.cfg.BindPort, true
	c.rport = r.freshPort()
	return c
}

// flowFor returns the connection an inbound packet belongs to, making one
// when the script starts a new connection: a packet towards a listening
// socket under test (which then hands over to the new connection, as
// packetdrill's passive child), or any packet when no connection exists.
func (r *runner) flowFor() *conn {
	s := r.sut
	if s == nil {
		if r.stray == nil {
			r.stray = r.passiveConn()
		}
		return r.stray
	}
	if !s.listening && s.conn != nil {
		return s.conn
	}
	c := r.passiveConn()
	if s.listening {
		s.pending = append(s.pending, c)
		r.sut = &sock{scriptFD: -1, liveFD: -1, conn: c, parent: s}
	} else {
		s.conn = c
	}
	return c
}

// inbound builds the packet of an inbound line and injects it.
func (r *runner) inbound(ev *Event) error {
	pk := ev.Packet
	var l4 []byte
	var proto byte
	src, dst := r.cfg.RemoteIP, r.cfg.LocalIP
	switch pk.Proto {
	case ProtoTCP:
		c := r.flowFor()
		h := tcpHeader{sport: c.rport, dport: c.lport, flags: pk.Flags, ae: pk.AE, win: pk.Win, urg: pk.Urg, payloadLen: pk.Len}
		if pk.SrcPort != 0 {
			h.sport, h.dport = pk.SrcPort, pk.DstPort
		}
		if pk.HasACE {
			h.ae = pk.ACE&4 != 0
			h.flags &^= flagECE | flagCWR
			if pk.ACE&2 != 0 {
				h.flags |= flagCWR
			}
			if pk.ACE&1 != 0 {
				h.flags |= flagECE
			}
		}
		syn := pk.Flags&flagSYN != 0
		h.seq = pk.Seq
		if syn {
			// A SYN's number is absolute; the first names the peer's ISN.
			if !c.haveRemoteISN {
				c.remoteISN, c.haveRemoteISN = pk.Seq, true
			}
		} else {
			h.seq = pk.Seq + c.remoteISN
		}
		if pk.Flags&flagACK != 0 {
			h.ack = pk.Ack + c.localISN
			if syn {
				h.ack = pk.Ack - c.scriptLocalISN + c.localISN
			}
		} else {
			h.ack = pk.Ack
		}
		opts := make([]Option, len(pk.Options))
		copy(opts, pk.Options)
		for i := range opts {
			o := &opts[i]
			switch o.Kind {
			case OptSACK:
				blocks := make([][2]uint32, len(o.SACK))
				for j, b := range o.SACK {
					blocks[j] = [2]uint32{b[0] + c.localISN, b[1] + c.localISN}
				}
				o.SACK = blocks
			case OptTS:
				if pk.Flags&flagACK != 0 && o.TSEcr != 0 {
					live, ok := c.tsVals[o.TSEcr]
					switch {
					case ok:
					case r.cfg.TSEcrScaled && c.haveTS:
						live = o.TSEcr + c.tsOff
					default:
						return r.errorf(ev.Line, "TS ecr %d: no outbound packet matched so far had TS val %d, so its live value is unknown (echo a val the stack sent, or use --tcp_ts_ecr_scaled)", o.TSEcr, o.TSEcr)
					}
					o.TSEcr = live
				}
			}
		}
		h.opts = encodeOptions(opts)
		proto = 6
		l4 = buildTCP(src, dst, &h)
	case ProtoUDP:
		proto = 17
		l4 = make([]byte, 8+pk.Len)
		binary.BigEndian.PutUint16(l4[0:], r.freshPort())
		binary.BigEndian.PutUint16(l4[2:], r.cfg.BindPort)
		binary.BigEndian.PutUint16(l4[4:], uint16(8+pk.Len))
	case ProtoICMP:
		var err error
		if proto, l4, err = r.icmp(ev); err != nil {
			return err
		}
	}
	tos := 0
	if pk.TOS >= 0 {
		tos = pk.TOS
	}
	if pk.ECN >= 0 && pk.ECN != ECNECT01 {
		tos = tos&^3 | pk.ECN
	}
	if proto == 17 {
		cs := udpChecksum(src, dst, l4)
		binary.BigEndian.PutUint16(l4[6:], cs)
	}
	pkt := buildIP(src, dst, proto, byte(tos), pk.TTL, pk.FlowLabel, l4)
	r.packets = append(r.packets, Captured{At: r.t.Now(), Inbound: true, Data: pkt})
	if err := r.t.Inject(pkt); err != nil {
		return r.errorf(ev.Line, "injecting the packet: %v", err)
	}
	return nil
}
