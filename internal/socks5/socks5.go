// Package socks5 is a SOCKS version 5 client (RFC 1928) for `synack proxy
// --socks5`: CONNECT for TCP flows and UDP ASSOCIATE (§7) for UDP flows,
// with no authentication or username/password (RFC 1929). Replies that
// refuse a request become errors that errors.Is matches against the errno
// a direct connection would have given (ECONNREFUSED, EHOSTUNREACH, ...),
// so that the proxy answers its client as the destination would have.
package socks5

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"time"
)

// Protocol constants: RFC 1928 §3-§7 and RFC 1929.
const (
	version5 = 5

	methodNone     = 0x00
	methodUserPass = 0x02
	methodNoneOK   = 0xff // "NO ACCEPTABLE METHODS"

	cmdConnect      = 0x01
	cmdUDPAssociate = 0x03

	atypIPv4   = 0x01
	atypDomain = 0x03
	atypIPv6   = 0x04

	userPassVersion = 0x01
)

// Dialer reaches destinations through one SOCKS5 server. The zero value is
// not usable: Server is required. A Dialer is safe for concurrent use.
type Dialer struct {
	// Server is the SOCKS5 server's "host:port".
	Server string
	// Username and Password, when Username is not empty, authenticate with
	// RFC 1929; otherwise the client offers "no authentication" only.
	Username, Password string
	// DialServer opens the TCP connection to the server; nil means a
	// net.Dialer. The proxy sets it to bind its outgoing sockets (an
	// interface, a firewall mark) so that they do not loop back into its
	// own TUN device.
	DialServer func(ctx context.Context, network, address string) (net.Conn, error)
	// ListenUDP opens the local UDP socket of an association, on laddr
	// (the local address of the control connection, port 0); nil means
	// net.ListenUDP.
	ListenUDP func(network string, laddr *net.UDPAddr) (*net.UDPConn, error)
	// Timeout bounds each handshake; 0 means 30 s.
	Timeout time.Duration
}

// ReplyError is a reply other than "succeeded" (RFC 1928 §6). errors.Is
// matches it against the errno the refusal stands for: ECONNREFUSED for
// "connection refused", EHOSTUNREACH for "host unreachable", ENETUNREACH,
// EACCES for "not allowed by ruleset", ETIMEDOUT for "TTL expired" (which
// servers also send when their own connect timed out).
type ReplyError struct {
	Code byte
}

var replyNames = [...]string{
	1: "general SOCKS server failure",
	2: "connection not allowed by ruleset",
	3: "network unreachable",
	4: "host unreachable",
	5: "connection refused",
	6: "TTL expired",
	7: "command not supported",
	8: "address type not supported",
}

var replyErrnos = [...]syscall.Errno{
	2: syscall.EACCES,
	3: syscall.ENETUNREACH,
	4: syscall.EHOSTUNREACH,
	5: syscall.ECONNREFUSED,
	6: syscall.ETIMEDOUT,
	7: syscall.EOPNOTSUPP,
	8: syscall.EAFNOSUPPORT,
}

func (e *ReplyError) Error() string {
	if int(e.Code) < len(replyNames) && replyNames[e.Code] != "" {
		return "socks5: " + replyNames[e.Code]
	}
	return fmt.Sprintf("socks5: reply %#02x", e.Code)
}

// Unwrap returns the errno the reply stands for, if any.
func (e *ReplyError) Unwrap() error {
	if int(e.Code) < len(replyErrnos) && replyErrnos[e.Code] != 0 {
		return replyErrnos[e.Code]
	}
	return nil
}

// Errors of the handshake.
var (
	// ErrProtocol: the server answered something that is not SOCKS5.
	ErrProtocol = errors.New("socks5: protocol error")
	// ErrAuth: the server accepts none of the methods offered, or refused
	// the username and password.
	ErrAuth = errors.New("socks5: authentication failed")
)

// DialContext connects to address ("host:port"; a host that is not an IP
// literal is sent as a domain name for the server to resolve) through the
// server with CONNECT (RFC 1928 §4) and returns the connection, which
// carries the flow's bytes from then on. network must be "tcp", "tcp4" or
// "tcp6". A refusal is a *ReplyError.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, net.UnknownNetworkError(network)
	}
	c, err := d.handshake(ctx, cmdConnect, address)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err, Addr: addrOf(address)}
	}
	return c, nil
}

// addrOf returns address as a net.Addr for an error.
func addrOf(address string) net.Addr {
	if ap, err := netip.ParseAddrPort(address); err == nil {
		return net.TCPAddrFromAddrPort(ap)
	}
	return nil
}

// handshake connects to the server, authenticates, sends a request for cmd
// and address, and reads the reply. It returns the control connection and
// the reply's bound address.
func (d *Dialer) handshake(ctx context.Context, cmd byte, address string) (conn *boundConn, err error) {
	req, err := appendAddr([]byte{version5, cmd, 0}, address)
	if err != nil {
		return nil, err
	}
	dial := d.DialServer
	if dial == nil {
		var nd net.Dialer
		dial = nd.DialContext
	}
	c, err := dial(ctx, "tcp", d.Server)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	c.SetDeadline(time.Now().Add(timeout))
	// The end of ctx ends the handshake at once (and ctx.Err() is then
	// what the caller sees).
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := d.authenticate(c); err != nil {
		return nil, ctxErr(ctx, err)
	}
	if _, err := c.Write(req); err != nil {
		return nil, ctxErr(ctx, err)
	}
	bound, err := readReply(c)
	if err != nil {
		return nil, ctxErr(ctx, err)
	}
	c.SetDeadline(time.Time{})
	return &boundConn{Conn: c, bound: bound}, nil
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// authenticate negotiates the method (RFC 1928 §3) and runs RFC 1929's
// username/password exchange if the server picks it.
func (d *Dialer) authenticate(c net.Conn) error {
	hello := []byte{version5, 1, methodNone}
	if d.Username != "" {
		hello = []byte{version5, 2, methodNone, methodUserPass}
	}
	if _, err := c.Write(hello); err != nil {
		return err
	}
	var sel [2]byte
	if _, err := io.ReadFull(c, sel[:]); err != nil {
		return err
	}
	switch {
	case sel[0] != version5:
		return ErrProtocol
	case sel[1] == methodNone:
		return nil
	case sel[1] == methodUserPass && d.Username != "":
	default:
		return ErrAuth
	}
	if len(d.Username) > 255 || len(d.Password) > 255 {
		return ErrAuth
	}
	msg := append([]byte{userPassVersion, byte(len(d.Username))}, d.Username...)
	msg = append(append(msg, byte(len(d.Password))), d.Password...)
	if _, err := c.Write(msg); err != nil {
		return err
	}
	var st [2]byte
	if _, err := io.ReadFull(c, st[:]); err != nil {
		return err
	}
	if st[0] != userPassVersion || st[1] != 0 {
		return ErrAuth
	}
	return nil
}

// appendAddr appends address ("host:port") in SOCKS5 form: ATYP, address,
// port (RFC 1928 §5).
func appendAddr(b []byte, address string) ([]byte, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return nil, errors.New("socks5: invalid port " + strconv.Quote(port))
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return appendAddrPort(b, netip.AddrPortFrom(a.Unmap(), uint16(p))), nil
	}
	if len(host) == 0 || len(host) > 255 {
		return nil, errors.New("socks5: invalid host name " + strconv.Quote(host))
	}
	b = append(b, atypDomain, byte(len(host)))
	b = append(b, host...)
	return binary.BigEndian.AppendUint16(b, uint16(p)), nil
}

// appendAddrPort appends an IP address and port in SOCKS5 form.
func appendAddrPort(b []byte, ap netip.AddrPort) []byte {
	if a := ap.Addr(); a.Is4() {
		v := a.As4()
		b = append(append(b, atypIPv4), v[:]...)
	} else {
		v := a.As16()
		b = append(append(b, atypIPv6), v[:]...)
	}
	return binary.BigEndian.AppendUint16(b, ap.Port())
}

// readReply reads a reply (RFC 1928 §6) and returns its bound address (a
// domain name in it is not resolved and gives a zero AddrPort).
func readReply(r io.Reader) (netip.AddrPort, error) {
	var h [4]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return netip.AddrPort{}, err
	}
	if h[0] != version5 {
		return netip.AddrPort{}, ErrProtocol
	}
	bound, err := readAddr(r, h[3])
	if err != nil {
		return netip.AddrPort{}, err
	}
	if h[1] != 0 {
		return netip.AddrPort{}, &ReplyError{Code: h[1]}
	}
	return bound, nil
}

// readAddr reads an address of type atyp and a port.
func readAddr(r io.Reader, atyp byte) (netip.AddrPort, error) {
	var buf [256 + 2]byte
	var n int
	switch atyp {
	case atypIPv4:
		n = 4
	case atypIPv6:
		n = 16
	case atypDomain:
		if _, err := io.ReadFull(r, buf[:1]); err != nil {
			return netip.AddrPort{}, err
		}
		if _, err := io.ReadFull(r, buf[:int(buf[0])+2]); err != nil {
			return netip.AddrPort{}, err
		}
		return netip.AddrPort{}, nil
	default:
		return netip.AddrPort{}, ErrProtocol
	}
	if _, err := io.ReadFull(r, buf[:n+2]); err != nil {
		return netip.AddrPort{}, err
	}
	a, _ := netip.AddrFromSlice(buf[:n])
	return netip.AddrPortFrom(a, binary.BigEndian.Uint16(buf[n:])), nil
}

// boundConn is a connection through the server, with the address the
// server bound for it (CONNECT: its outgoing socket; UDP ASSOCIATE: the
// relay).
type boundConn struct {
	net.Conn
	bound netip.AddrPort
}

// CloseWrite half-closes the connection to the server when its transport
// can (a *net.TCPConn can): the server passes the FIN on to the
// destination, so a half-close crosses the proxy.
func (c *boundConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// SyscallConn gives the transport's raw connection when it has one (a
// *net.TCPConn does), so that a relay can wait for data before it takes a
// buffer.
func (c *boundConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errors.ErrUnsupported
}

// SetLinger sets SO_LINGER on the connection to the server when its
// transport can: SetLinger(0) then Close resets it, and the server resets
// the destination, so a reset crosses the proxy.
func (c *boundConn) SetLinger(sec int) error {
	if l, ok := c.Conn.(interface{ SetLinger(int) error }); ok {
		return l.SetLinger(sec)
	}
	return errors.ErrUnsupported
}

// CloseRead is CloseWrite's other half.
func (c *boundConn) CloseRead() error {
	if cr, ok := c.Conn.(interface{ CloseRead() error }); ok {
		return cr.CloseRead()
	}
	return errors.ErrUnsupported
}
