package socks5

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
)

// UDPConn is a UDP association (RFC 1928 §7): datagrams to and from any
// destination pass through the server's relay, each with a SOCKS header
// naming its far end. It lives as long as the TCP control connection: when
// the server closes that, reads fail with io.EOF. It is safe for
// concurrent use.
type UDPConn struct {
	ctrl  *boundConn
	pc    *net.UDPConn
	relay netip.AddrPort

	wmu  sync.Mutex
	wbuf []byte // a write's header and data

	rmu  sync.Mutex
	rbuf []byte // a read's datagram, made on first use

	closeOnce sync.Once
	ended     chan struct{} // closed when the control connection ends
	err       error         // why the association ended; set before ended closes
}

// ErrFragmented: a datagram from the relay with a FRAG field other than 0,
// which RFC 1928 §7 lets an implementation drop; this one does.
var ErrFragmented = errors.New("socks5: fragmented datagram")

// Associate asks the server for a UDP association (RFC 1928 §7) and returns
// it. The request names the local socket the datagrams will come from, so
// that the server relays only those.
func (d *Dialer) Associate(ctx context.Context) (*UDPConn, error) {
	// Open the UDP socket on the address the control connection will use.
	// That is only known once connected, so first connect to learn it: the
	// request's address is then exact (RFC 1928 §7 asks for it when known).
	probe, err := d.dialProbe(ctx)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: "udp", Err: err}
	}
	listen := d.ListenUDP
	if listen == nil {
		listen = net.ListenUDP
	}
	pc, err := listen("udp", &net.UDPAddr{IP: probe})
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: "udp", Err: err}
	}
	local := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	c, err := d.handshake(ctx, cmdUDPAssociate, netip.AddrPortFrom(local.Addr().Unmap(), local.Port()).String())
	if err != nil {
		pc.Close()
		return nil, &net.OpError{Op: "dial", Net: "udp", Err: err}
	}
	relay := c.bound
	if !relay.IsValid() || relay.Addr().IsUnspecified() {
		// Servers that bind the relay on every address answer 0.0.0.0:
		// the relay is then at the address we reached the server on.
		srv := c.RemoteAddr().(*net.TCPAddr).AddrPort()
		relay = netip.AddrPortFrom(srv.Addr().Unmap(), relay.Port())
	}
	u := &UDPConn{ctrl: c, pc: pc, relay: relay, ended: make(chan struct{})}
	go u.watch()
	return u, nil
}

// dialProbe returns the local IP a connection to the server uses.
func (d *Dialer) dialProbe(ctx context.Context) (net.IP, error) {
	dial := d.DialServer
	if dial == nil {
		var nd net.Dialer
		dial = nd.DialContext
	}
	c, err := dial(ctx, "tcp", d.Server)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	ip := c.LocalAddr().(*net.TCPAddr).IP
	if v4 := ip.To4(); v4 != nil {
		ip = v4
	}
	return ip, nil
}

// watch waits for the control connection to end, which ends the
// association: "A UDP association terminates when the TCP connection that
// the UDP ASSOCIATE request arrived on terminates."
func (u *UDPConn) watch() {
	var b [1]byte
	_, err := u.ctrl.Read(b[:])
	if err == nil {
		err = ErrProtocol // the server has nothing to say on it
	}
	u.end(err)
}

func (u *UDPConn) end(err error) {
	u.closeOnce.Do(func() {
		if errors.Is(err, net.ErrClosed) {
			err = net.ErrClosed
		} else if err != io.EOF && !errors.Is(err, ErrProtocol) {
			err = io.EOF
		}
		u.err = err
		close(u.ended)
		u.ctrl.Close()
		u.pc.Close()
	})
}

// Relay returns the address of the server's UDP relay.
func (u *UDPConn) Relay() netip.AddrPort { return u.relay }

// LocalAddr returns the local UDP socket's address.
func (u *UDPConn) LocalAddr() net.Addr { return u.pc.LocalAddr() }

// WriteTo sends p to dst through the relay.
func (u *UDPConn) WriteTo(p []byte, dst netip.AddrPort) (int, error) {
	u.wmu.Lock()
	defer u.wmu.Unlock()
	b := appendAddrPort(append(u.wbuf[:0], 0, 0, 0), dst) // RSV, FRAG 0
	b = append(b, p...)
	u.wbuf = b
	if _, err := u.pc.WriteToUDPAddrPort(b, u.relay); err != nil {
		return 0, u.ioErr(err)
	}
	return len(p), nil
}

// ReadFrom reads one datagram that came through the relay into p and
// returns its length and the far end that sent it. Datagrams from any
// other source than the relay, with a FRAG field other than 0 or a
// malformed header are dropped. After the association ends it returns
// io.EOF (the server closed the control connection) or net.ErrClosed.
func (u *UDPConn) ReadFrom(p []byte) (int, netip.AddrPort, error) {
	u.rmu.Lock()
	defer u.rmu.Unlock()
	if u.rbuf == nil {
		u.rbuf = make([]byte, 65536)
	}
	buf := u.rbuf
	for {
		n, from, err := u.pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			return 0, netip.AddrPort{}, u.ioErr(err)
		}
		if netip.AddrPortFrom(from.Addr().Unmap(), from.Port()) != u.relay {
			continue
		}
		src, data, err := parseDatagram(buf[:n])
		if err != nil {
			continue
		}
		return copy(p, data), src, nil
	}
}

// ioErr reports why the association ended, if it has.
func (u *UDPConn) ioErr(err error) error {
	select {
	case <-u.ended:
		return u.err
	default:
		return err
	}
}

// parseDatagram reads a relayed datagram's header (RFC 1928 §7).
func parseDatagram(b []byte) (netip.AddrPort, []byte, error) {
	if len(b) < 4 || b[0] != 0 || b[1] != 0 {
		return netip.AddrPort{}, nil, ErrProtocol
	}
	if b[2] != 0 {
		return netip.AddrPort{}, nil, ErrFragmented
	}
	var n int
	switch b[3] {
	case atypIPv4:
		n = 4
	case atypIPv6:
		n = 16
	default:
		return netip.AddrPort{}, nil, ErrProtocol // a relay answers with the address it sent to
	}
	if len(b) < 4+n+2 {
		return netip.AddrPort{}, nil, ErrProtocol
	}
	a, _ := netip.AddrFromSlice(b[4 : 4+n])
	port := uint16(b[4+n])<<8 | uint16(b[5+n])
	return netip.AddrPortFrom(a.Unmap(), port), b[6+n:], nil
}

// Close ends the association: the control connection and the UDP socket
// close, and blocked reads return net.ErrClosed.
func (u *UDPConn) Close() error {
	u.end(net.ErrClosed)
	return nil
}

// Done is closed when the association has ended.
func (u *UDPConn) Done() <-chan struct{} { return u.ended }
