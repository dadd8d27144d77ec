package script

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"github.com/synack-go/synack"
	"github.com/synack-go/synack/tcp"
)

// socketLayer gives synack's Stack, Conn and Listener the system calls of a
// C program on Linux: file descriptors, errno values, non-blocking mode,
// poll, socket options. Its methods run on goroutines of the simulation,
// one at a time, so they share the table without locks.
type socketLayer struct {
	t     *synackTarget
	socks map[int]*ssock
}

// ssock is one socket: its options until it connects or listens, then its
// Conn or Listener.
type ssock struct {
	fd       int
	family   int
	nonblock bool
	bound    netip.AddrPort
	isBound  bool
	reuse    bool

	cfg       tcp.Config // the tunables the connection will have
	ccName    string
	mssUser   int
	keepalive bool
	keepIdle  time.Duration // TCP_KEEPIDLE; zero: tcp_keepalive_time
	linger    bool          // SO_LINGER on with 0 s: close resets
	cork      bool          // TCP_CORK
	more      bool          // corked by a MSG_MORE send
	quickack  bool
	userTO    time.Duration
	sndbuf    int // as SO_SNDBUF reports it (Linux doubles what is set)
	rcvbuf    int

	ln     *synack.Listener
	conn   *synack.Conn
	shutRd bool // SHUT_RD: reads see the end once the data is read
	shutWr bool

	connecting bool // a non-blocking connect is under way
	inProgress bool // connect said EINPROGRESS, and no connect has yet said how it ended
	connErr    error
	cancel     context.CancelFunc
}

// Linux errno numbers, independent of the OS the runner runs on.
const (
	eBADF         = syscall.Errno(9)
	eAGAIN        = syscall.Errno(11)
	eINVAL        = syscall.Errno(22)
	ePIPE         = syscall.Errno(32)
	eNOPROTOOPT   = syscall.Errno(92)
	ePROTONOSUPP  = syscall.Errno(93)
	eSOCKTNOSUPP  = syscall.Errno(94)
	eOPNOTSUPP    = syscall.Errno(95)
	eAFNOSUPPORT  = syscall.Errno(97)
	eADDRINUSE    = syscall.Errno(98)
	eADDRNOTAVAIL = syscall.Errno(99)
	eISCONN       = syscall.Errno(106)
	eNOTCONN      = syscall.Errno(107)
	eALREADY      = syscall.Errno(114)
	eINPROGRESS   = syscall.Errno(115)
	eNOENT        = syscall.Errno(2)
)

// linuxErrno turns a synack error into the Linux errno a C program sees.
func linuxErrno(err error) error {
	if err == nil {
		return nil
	}
	for _, e := range []struct {
		err   error
		errno int
	}{
		{syscall.ECONNRESET, 104}, {syscall.ECONNREFUSED, 111}, {syscall.ETIMEDOUT, 110},
		{syscall.EPIPE, 32}, {syscall.EHOSTUNREACH, 113}, {syscall.ENETUNREACH, 101},
		{syscall.EADDRINUSE, 98}, {syscall.EADDRNOTAVAIL, 99}, {syscall.EACCES, 13},
		{syscall.EPROTO, 71}, {syscall.EINVAL, 22}, {syscall.ENOENT, 2}, {syscall.EMSGSIZE, 90},
		{os.ErrDeadlineExceeded, 11}, {net.ErrClosed, 9}, {context.Canceled, 103},
	} {
		if errors.Is(err, e.err) {
			return syscall.Errno(e.errno)
		}
	}
	return err
}

func (l *socketLayer) sock(fd int) (*ssock, error) {
	s, ok := l.socks[fd]
	if !ok {
		return nil, eBADF
	}
	return s, nil
}

func (l *socketLayer) Socket(domain, typ, proto int) (int, error) {
	if domain != 2 && domain != 10 {
		return -1, eAFNOSUPPORT
	}
	switch {
	case typ&0xf != 1:
		return -1, eSOCKTNOSUPP // synack speaks TCP only
	case proto != 0 && proto != 6:
		return -1, ePROTONOSUPP
	}
	fd := 3 // the lowest free descriptor, as the kernel gives
	for l.socks[fd] != nil {
		fd++
	}
	s := &ssock{fd: fd, family: domain, nonblock: typ&0x800 != 0, cfg: l.t.tcp}
	s.sndbuf, s.rcvbuf = l.t.tcp.SendBuf, l.t.tcp.RecvBuf
	l.socks[fd] = s
	return fd, nil
}

// addr converts a socket address for a socket of s's family.
func (s *ssock) addr(a netip.AddrPort) (netip.AddrPort, error) {
	if s.family == 2 && !a.Addr().Is4() {
		return a, eAFNOSUPPORT
	}
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port()), nil
}

func (l *socketLayer) Bind(fd int, a netip.AddrPort) error {
	s, err := l.sock(fd)
	if err != nil {
		return err
	}
	if s.isBound || s.conn != nil || s.ln != nil {
		return eINVAL
	}
	if a, err = s.addr(a); err != nil {
		return err
	}
	if !a.Addr().IsUnspecified() && a.Addr() != l.t.cfg.LocalIP {
		return eADDRNOTAVAIL
	}
	for _, o := range l.socks {
		if o != s && o.isBound && o.bound.Port() == a.Port() && a.Port() != 0 && !(s.reuse && o.reuse && o.ln == nil) {
			return eADDRINUSE
		}
	}
	s.bound, s.isBound = a, true
	return nil
}

func (l *socketLayer) Listen(fd, backlog int) error {
	s, err := l.sock(fd)
	if err != nil {
		return err
	}
	if s.conn != nil || s.connecting {
		return eINVAL
	}
	if s.ln != nil {
		return nil
	}
	network := "tcp4"
	if s.bound.Addr().Is6() || !s.isBound && s.family == 10 {
		network = "tcp6"
	}
	if !s.isBound {
		s.bound = netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
		if network == "tcp6" {
			s.bound = netip.AddrPortFrom(netip.IPv6Unspecified(), 0)
		}
	}
	// Linux's accept queue holds backlog+1 connections.
	ln, err := l.t.stack.ListenAddrPortConfig(network, s.bound, max(backlog, 0)+1, s.cfg)
	if err != nil {
		return linuxErrno(err)
	}
	s.ln = ln
	return nil
}

func (l *socketLayer) Accept(fd int) (int, error) {
	s, err := l.sock(fd)
	if err != nil {
		return -1, err
	}
	if s.ln == nil {
		return -1, eINVAL
	}
	if s.nonblock {
		s.ln.SetDeadline(time.Unix(1, 0)) // past: Accept takes what is queued, or fails at once
	}
	c, err := s.ln.AcceptTCP()
	if s.nonblock {
		s.ln.SetDeadline(time.Time{})
	}
	if err != nil {
		return -1, linuxErrno(err)
	}
	nfd := 3
	for l.socks[nfd] != nil {
		nfd++
	}
	ns := *s // the child inherits the listener's options
	ns.fd, ns.ln, ns.conn, ns.nonblock = nfd, nil, c, false
	ns.cancel = nil
	l.socks[nfd] = &ns
	l.applyConnected(&ns)
	return nfd, nil
}

// applyConnected sets on a new connection the options that act on an open
// connection.
func (l *socketLayer) applyConnected(s *ssock) {
	c := s.conn
	if s.keepalive {
		l.keepalive(s)
	}
	if s.cork {
		c.SetCork(true)
	}
	if s.quickack {
		c.SetQuickAck(true)
	}
	if s.linger {
		c.SetLinger(0)
	}
}

// keepalive applies SO_KEEPALIVE and the TCP_KEEP* values to s's
// connection.
func (l *socketLayer) keepalive(s *ssock) {
	idle := s.keepIdle
	if idle == 0 {
		idle = l.t.keepIdle
	}
	s.conn.SetKeepAliveConfig(net.KeepAliveConfig{Enable: s.keepalive, Idle: idle,
		Interval: s.cfg.KeepAliveInterval, Count: s.cfg.KeepAliveCount})
}

func (l *socketLayer) Connect(fd int, a netip.AddrPort) error {
	s, err := l.sock(fd)
	if err != nil {
		return err
	}
	switch {
	case s.ln != nil:
		return eINVAL
	case s.connecting:
		return eALREADY
	case s.conn != nil && s.inProgress:
		s.inProgress = false // the first connect after the handshake says it is done
		return nil
	case s.conn != nil:
		return eISCONN
	case s.connErr != nil:
		err := s.connErr
		s.connErr, s.inProgress = nil, false
		return err
	}
	if a, err = s.addr(a); err != nil {
		return err
	}
	var laddr netip.AddrPort
	if s.isBound {
		laddr = s.bound
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	dial := func() error {
		c, err := l.t.stack.DialAddrPortConfig(ctx, laddr, a, s.cfg)
		s.connecting = false
		if err != nil {
			return linuxErrno(err)
		}
		s.conn = c
		l.applyConnected(s)
		return nil
	}
	s.connecting = true
	if s.nonblock {
		s.inProgress = true
		l.t.sim.Go(func() {
			if err := dial(); err != nil {
				s.connErr = err
			}
		})
		return eINPROGRESS
	}
	return dial()
}

// waitConnect waits for a non-blocking connect to finish, for calls that
// block until then.
func (l *socketLayer) waitConnect(s *ssock) {
	if s.connecting {
		l.t.sim.Wait(func() bool { return !s.connecting }, time.Time{})
	}
}

func (l *socketLayer) Recv(fd, n, flags int) (int, error) {
	s, err := l.sock(fd)
	if err != nil {
		return -1, err
	}
	nonblock := s.nonblock || flags&0x40 != 0 // MSG_DONTWAIT
	if s.connecting {
		if nonblock {
			return -1, eAGAIN
		}
		l.waitConnect(s)
	}
	if s.conn == nil {
		if err := s.connErr; err != nil {
			s.connErr = nil
			return -1, err
		}
		return -1, eNOTCONN
	}
	if n == 0 {
		return 0, nil
	}
	buf := make([]byte, n)
	got := 0
	for {
		r := s.conn.Ready()
		if s.shutRd && r.Unread == 0 {
			// Linux's SHUT_RD: what was received stays readable, and
			// then reads see the end instead of waiting.
			return got, nil
		}
		if (nonblock || got > 0) && !r.Readable {
			if got > 0 {
				return got, nil
			}
			return -1, eAGAIN
		}
		k, err := s.conn.Read(buf[got:])
		got += k
		if err == io.EOF {
			return got, nil
		}
		if err != nil {
			if got > 0 {
				return got, nil
			}
			return -1, linuxErrno(err)
		}
		if flags&0x100 == 0 || got == n { // MSG_WAITALL reads until n
			return got, nil
		}
	}
}

func (l *socketLayer) Send(fd, n, flags int) (int, error) {
	s, err := l.sock(fd)
	if err != nil {
		return -1, err
	}
	nonblock := s.nonblock || flags&0x40 != 0
	if s.connecting {
		if nonblock {
			return -1, eAGAIN
		}
		l.waitConnect(s)
	}
	if s.conn == nil {
		if err := s.connErr; err != nil {
			s.connErr = nil
			return -1, err
		}
		return -1, ePIPE
	}
	if s.shutWr {
		return -1, ePIPE
	}
	c := s.conn
	more := flags&0x8000 != 0 // MSG_MORE
	if more && !s.cork {
		c.SetCork(true)
		s.more = true
	}
	if nonblock {
		r := c.Ready()
		if r.Err != nil {
			return -1, linuxErrno(c.TakeError())
		}
		n = min(n, r.SendSpace)
		if n == 0 {
			return -1, eAGAIN
		}
	}
	k, err := c.Write(make([]byte, n))
	if !more && s.more && !s.cork {
		c.SetCork(false) // the end of a MSG_MORE run: send what was held
		s.more = false
	}
	if err != nil {
		if k > 0 {
			return k, nil
		}
		return -1, linuxErrno(err)
	}
	return k, nil
}

func (l *socketLayer) Close(fd int) error {
	s, err := l.sock(fd)
	if err != nil {
		return err
	}
	delete(l.socks, fd)
	switch {
	case s.ln != nil:
		s.ln.Close()
	case s.conn != nil:
		s.conn.Close()
	case s.connecting:
		s.cancel() // close in SYN_SENT: the attempt ends, silently
	}
	return nil
}

func (l *socketLayer) Shutdown(fd, how int) error {
	s, err := l.sock(fd)
	if err != nil {
		return err
	}
	if how < 0 || how > 2 {
		return eINVAL
	}
	if s.conn == nil {
		return eNOTCONN
	}
	if how != 1 {
		s.shutRd = true
	}
	if how != 0 && !s.shutWr {
		s.shutWr = true
		s.conn.CloseWrite()
	}
	return nil
}

func (l *socketLayer) Fcntl(fd, cmd, arg int) (int, error) {
	s, err := l.sock(fd)
	if err != nil {
		return -1, err
	}
	switch cmd {
	case 3: // F_GETFL
		fl := 2 // O_RDWR
		if s.nonblock {
			fl |= 0x800
		}
		return fl, nil
	case 4: // F_SETFL
		s.nonblock = arg&0x800 != 0
		return 0, nil
	case 1, 2: // F_GETFD, F_SETFD
		return 0, nil
	}
	return -1, eINVAL
}

func (l *socketLayer) Ioctl(fd, req int) (int, error) {
	s, err := l.sock(fd)
	if err != nil {
		return -1, err
	}
	if s.conn == nil {
		return -1, eINVAL
	}
	r := s.conn.Ready()
	switch req {
	case 0x541B: // SIOCINQ
		return r.Unread, nil
	case 0x5411: // SIOCOUTQ
		return r.Queued, nil
	}
	return -1, syscall.Errno(25) // ENOTTY
}

// Linux's poll bits.
const (
	pollIn     = 0x1
	pollOut    = 0x4
	pollErr    = 0x8
	pollHup    = 0x10
	pollNval   = 0x20
	pollRdNorm = 0x40
	pollWrNorm = 0x100
	pollRdHup  = 0x2000
)

// mask is what tcp_poll would report for s.
func (l *socketLayer) mask(s *ssock) int16 {
	var m int16
	switch {
	case s.ln != nil:
		if s.ln.Pending() > 0 {
			m |= pollIn | pollRdNorm
		}
		return m
	case s.connecting:
		return 0
	case s.conn == nil:
		if s.connErr != nil {
			return pollIn | pollRdNorm | pollRdHup | pollOut | pollWrNorm | pollErr | pollHup
		}
		return pollOut | pollWrNorm | pollHup // a fresh socket: CLOSE, not shut down
	}
	r := s.conn.Ready()
	rdShut := r.PeerClosed || s.shutRd || r.Closed
	wrShut := s.shutWr || r.Closed
	if rdShut && wrShut {
		m |= pollHup
	}
	if rdShut {
		m |= pollIn | pollRdNorm | pollRdHup
	}
	if r.Unread > 0 {
		m |= pollIn | pollRdNorm
	}
	if wrShut || r.SendSpace > 0 {
		m |= pollOut | pollWrNorm
	}
	if r.Err != nil {
		m |= pollErr
	}
	return m
}

func (l *socketLayer) Poll(fds []PollFD, timeout time.Duration) (int, error) {
	scan := func() int {
		n := 0
		for i := range fds {
			f := &fds[i]
			s, ok := l.socks[f.FD]
			if !ok {
				f.Revents = pollNval
			} else {
				f.Revents = l.mask(s) & (f.Events | pollErr | pollHup)
			}
			if f.Revents != 0 {
				n++
			}
		}
		return n
	}
	if n := scan(); n > 0 || timeout == 0 {
		return n, nil
	}
	var deadline time.Time
	if timeout > 0 {
		deadline = l.t.sim.Now().Add(timeout)
	}
	l.t.sim.Wait(func() bool { return scan() > 0 }, deadline)
	return scan(), nil
}

// Socket option levels and names (Linux's numbers).
const (
	solSocket = 1
	solTCP    = 6
	solIP     = 0
)

func (l *socketLayer) SetsockoptInt(fd, level, name, val int) error {
	s, err := l.sock(fd)
	if err != nil {
		return err
	}
	c := s.conn
	on := val != 0
	switch {
	case level == solSocket && name == 2: // SO_REUSEADDR
		s.reuse = on
	case level == solSocket && name == 9: // SO_KEEPALIVE
		s.keepalive = on
		if c != nil {
			l.keepalive(s)
		}
	case level == solSocket && (name == 7 || name == 8): // SO_SNDBUF, SO_RCVBUF
		// Linux doubles the value for its bookkeeping and reports that.
		v := max(2*val, 4608)
		if name == 7 {
			s.sndbuf, s.cfg.SendBuf = v, v
			if c != nil {
				c.SetWriteBuffer(v)
			}
		} else {
			s.rcvbuf, s.cfg.RecvBuf = v, v
			if c != nil {
				c.SetReadBuffer(v)
			}
		}
	case level == solTCP && name == 1: // TCP_NODELAY
		s.cfg.NoDelay = on
		if c != nil {
			c.SetNoDelay(on)
			if on && (s.cork || s.more) {
				// Linux: setting TCP_NODELAY pushes what is queued, cork
				// or not.
				c.SetCork(false)
				c.SetCork(true)
			}
		}
	case level == solTCP && name == 2: // TCP_MAXSEG
		if val < 88 || val > 65495 {
			return eINVAL
		}
		s.mssUser = val
		if c != nil {
			return linuxErrno(c.SetMSS(val))
		}
		s.cfg.MSS = uint16(val)
	case level == solTCP && name == 3: // TCP_CORK
		s.cork = on
		if c != nil {
			c.SetCork(on || s.more)
		}
	case level == solTCP && (name == 4 || name == 5 || name == 6 || name == 7): // KEEPIDLE, KEEPINTVL, KEEPCNT, SYNCNT
		if val < 1 {
			return eINVAL
		}
		kc := net.KeepAliveConfig{Enable: s.keepalive, Idle: -1, Interval: -1, Count: -1}
		switch name {
		case 4:
			s.keepIdle = time.Duration(val) * time.Second
			kc.Idle = s.keepIdle
		case 5:
			s.cfg.KeepAliveInterval = time.Duration(val) * time.Second
			kc.Interval = s.cfg.KeepAliveInterval
		case 6:
			s.cfg.KeepAliveCount = val
			kc.Count = val
		case 7:
			s.cfg.SynRetries = val
		}
		if c != nil && s.keepalive && name != 7 {
			c.SetKeepAliveConfig(kc)
		}
	case level == solTCP && name == 12: // TCP_QUICKACK
		s.quickack = on
		if c != nil {
			c.SetQuickAck(on)
		}
	case level == solTCP && name == 18: // TCP_USER_TIMEOUT
		if val < 0 {
			return eINVAL
		}
		s.userTO = time.Duration(val) * time.Millisecond
		if c != nil {
			return linuxErrno(c.SetUserTimeout(s.userTO))
		}
		if val > 0 {
			s.cfg.DataRetryTimeout = s.userTO
		} else {
			s.cfg.DataRetryTimeout = l.t.tcp.DataRetryTimeout
		}
	case level == solIP && name == 10: // IP_MTU_DISCOVER
		if val != 1 && val != 2 { // WANT, DO: what synack does
			return eNOPROTOOPT
		}
	default:
		return eNOPROTOOPT
	}
	return nil
}

func (l *socketLayer) GetsockoptInt(fd, level, name int) (int, error) {
	s, err := l.sock(fd)
	if err != nil {
		return -1, err
	}
	c := s.conn
	b := func(v bool) int {
		if v {
			return 1
		}
		return 0
	}
	switch {
	case level == solSocket && name == 2:
		return b(s.reuse), nil
	case level == solSocket && name == 3: // SO_TYPE
		return 1, nil
	case level == solSocket && name == 4: // SO_ERROR
		if err := s.connErr; err != nil {
			s.connErr = nil
			return int(err.(syscall.Errno)), nil
		}
		if c != nil {
			if err := linuxErrno(c.TakeError()); err != nil {
				if en, ok := err.(syscall.Errno); ok {
					return int(en), nil
				}
			}
		}
		return 0, nil
	case level == solSocket && name == 7:
		return s.sndbuf, nil
	case level == solSocket && name == 8:
		return s.rcvbuf, nil
	case level == solSocket && name == 9:
		return b(s.keepalive), nil
	case level == solTCP && name == 1:
		return b(s.cfg.NoDelay), nil
	case level == solTCP && name == 2:
		if c != nil {
			return c.MSS(), nil
		}
		if s.mssUser != 0 {
			return s.mssUser, nil
		}
		return 536, nil
	case level == solTCP && name == 3:
		return b(s.cork), nil
	case level == solTCP && name == 12:
		return b(s.quickack), nil
	case level == solTCP && name == 18:
		return int(s.userTO / time.Millisecond), nil
	}
	return -1, eNOPROTOOPT
}

func (l *socketLayer) SetsockoptBytes(fd, level, name int, val []byte) error {
	s, err := l.sock(fd)
	if err != nil {
		return err
	}
	switch {
	case level == solTCP && name == 13: // TCP_CONGESTION
		n := string(val)
		for i := range len(n) {
			if n[i] == 0 {
				n = n[:i]
				break
			}
		}
		if _, ok := tcp.CongestionControl(n); !ok {
			return eNOENT
		}
		s.ccName, s.cfg.CongestionControl = n, n
		if s.conn != nil {
			return linuxErrno(s.conn.SetCongestion(n))
		}
		return nil
	case level == solSocket && name == 13 && len(val) == 8: // SO_LINGER {onoff, linger}
		onoff := binary.LittleEndian.Uint32(val)
		secs := binary.LittleEndian.Uint32(val[4:])
		s.linger = onoff != 0 && secs == 0
		if s.conn != nil {
			if s.linger {
				s.conn.SetLinger(0)
			} else {
				s.conn.SetLinger(-1)
			}
		}
		return nil
	case level == solIP && name == 1 && len(val) >= 1: // IP_TOS
		return eOPNOTSUPP
	}
	if len(val) == 4 {
		return l.SetsockoptInt(fd, level, name, int(int32(binary.LittleEndian.Uint32(val))))
	}
	return eNOPROTOOPT
}

func (l *socketLayer) GetsockoptBytes(fd, level, name, size int) ([]byte, error) {
	s, err := l.sock(fd)
	if err != nil {
		return nil, err
	}
	if level == solTCP && name == 13 {
		n := s.ccName
		if s.conn != nil {
			n = s.conn.Congestion()
		} else if n == "" {
			n = "cubic"
			if s.cfg.CongestionControl != "" {
				n = s.cfg.CongestionControl
			}
		}
		b := append([]byte(n), 0)
		return b[:min(len(b), size)], nil
	}
	v, err := l.GetsockoptInt(fd, level, name)
	if err != nil {
		return nil, err
	}
	return binary.LittleEndian.AppendUint32(nil, uint32(v)), nil
}

func (l *socketLayer) TCPInfo(fd int) (map[string]int64, error) {
	s, err := l.sock(fd)
	if err != nil {
		return nil, err
	}
	if s.conn == nil {
		st := int64(7) // CLOSE
		if s.ln != nil {
			st = 10
		} else if s.connecting {
			st = 2
		}
		return map[string]int64{"state": st}, nil
	}
	in := s.conn.Info()
	if in.State == 6 {
		// Linux moves TIME-WAIT to a small socket of its own; the
		// descriptor's socket reads as CLOSE.
		in.State = 7
	}
	us := func(d time.Duration) int64 { return int64(d / time.Microsecond) }
	return map[string]int64{
		"state": int64(in.State), "ca_state": int64(in.CAState), "retransmits": int64(in.Retransmits),
		"probes": int64(in.Probes), "backoff": int64(in.Backoff), "options": int64(in.Options),
		"snd_wscale": int64(in.SndWScale), "rcv_wscale": int64(in.RcvWScale),
		"rto": us(in.RTO), "ato": us(in.ATO), "snd_mss": int64(in.SndMSS), "rcv_mss": int64(in.RcvMSS),
		"unacked": int64(in.Unacked), "sacked": int64(in.Sacked), "lost": int64(in.Lost),
		"retrans": int64(in.Retrans), "pmtu": int64(in.PMTU), "rtt": us(in.RTT), "rttvar": us(in.RTTVar),
		"snd_ssthresh": int64(in.SndSsthresh), "snd_cwnd": int64(in.SndCwnd), "advmss": int64(in.AdvMSS),
		"reordering": int64(in.Reordering), "total_retrans": int64(in.TotalRetrans),
		"bytes_acked": int64(in.BytesAcked), "bytes_received": int64(in.BytesRecv),
		"bytes_sent": int64(in.BytesSent), "segs_out": int64(in.SegsOut), "segs_in": int64(in.SegsIn),
		"delivered": int64(in.Delivered), "snd_wnd": int64(in.SndWnd), "rcv_wnd": int64(in.RcvWnd),
		"total_rto": int64(in.TotalRTO),
	}, nil
}
