package synack

import (
	"context"
	"fmt"
	"net/netip"
	"syscall"
	"time"

	"github.com/synack-go/synack/tcp"
)

// Socket options: Linux's per-connection settings (tcp(7), socket(7)) as
// Conn methods, and the tunables a connection takes before its handshake
// (DialAddrPortConfig, ListenAddrPortConfig), as options set before connect(2) and
// inherited from a listening socket.

// DialAddrPortConfig is DialAddrPort for a connection with tunables of its own: cfg
// replaces Options.TCP for it, as socket options set before connect(2) do
// (TCP_MAXSEG: cfg.MSS, SO_RCVBUF and SO_SNDBUF: the buffers,
// TCP_USER_TIMEOUT: cfg.DataRetryTimeout, TCP_SYNCNT: cfg.SynRetries,
// TCP_CONGESTION: cfg.NewCC, TCP_NODELAY: cfg.NoDelay ...). The stack
// fills in what the link decides: an MSS of zero, or one above the link's,
// becomes the link's; nil Buffers become the stack's pool. Keepalive
// follows Options.KeepAlive as for every connection. Errors are
// DialAddrPort's, and tcp.CheckCongestionControl's for a
// cfg.CongestionControl it does not know.
func (s *Stack) DialAddrPortConfig(ctx context.Context, laddr, raddr netip.AddrPort, cfg tcp.Config) (*Conn, error) {
	if err := checkConfigCC(&cfg); err != nil {
		return nil, opError("dial", laddr, raddr, err)
	}
	return s.dialFrom(ctx, laddr, raddr, s.connConfig(raddr.Addr().Unmap(), cfg))
}

// ListenAddrPortConfig is ListenAddrPort for a listener whose connections have
// tunables of their own, cfg, as a Linux listening socket hands its options
// to the connections it accepts; see DialAddrPortConfig for what the stack
// fills in.
func (s *Stack) ListenAddrPortConfig(network string, laddr netip.AddrPort, backlog int, cfg tcp.Config) (*Listener, error) {
	if err := checkConfigCC(&cfg); err != nil {
		return nil, opError("listen", netip.AddrPort{}, laddr, err)
	}
	l, err := s.ListenAddrPort(network, laddr, backlog)
	if err != nil {
		return nil, err
	}
	l.cfg4 = s.connConfig(netip.IPv4Unspecified(), cfg)
	l.cfg6 = s.connConfig(netip.IPv6Unspecified(), cfg)
	return l, nil
}

// checkConfigCC refuses a congestion control cfg names and package tcp
// does not know, which would otherwise fall back to the default unseen.
func checkConfigCC(cfg *tcp.Config) error {
	if cfg.CongestionControl == "" {
		return nil
	}
	return tcp.CheckCongestionControl(cfg.CongestionControl)
}

// connConfig completes a connection's own tunables for a peer's family.
func (s *Stack) connConfig(remote netip.Addr, cfg tcp.Config) *tcp.Config {
	base := s.config(remote)
	if cfg.Buffers == nil {
		cfg.Buffers = base.Buffers
	}
	if cfg.MSS == 0 || cfg.MSS > base.MSS {
		cfg.MSS = base.MSS
	}
	cfg.KeepAliveIdle = 0 // set per connection from Options.KeepAlive
	return &cfg
}

// configure gives a connection the listener's tunables, if it has any,
// before the connection opens.
func (l *Listener) configure(c *Conn) {
	if cfg := l.ownConfig(c.key.remote.Addr()); cfg != nil {
		c.tcb.Reconfigure(cfg)
	}
}

// ownConfig returns the listener's own tunables for a peer's family, or
// nil when it uses the stack's.
func (l *Listener) ownConfig(remote netip.Addr) *tcp.Config {
	if remote.Is4() {
		return l.cfg4
	}
	return l.cfg6
}

// config returns the tunables of the connections the listener makes with
// a peer of remote's family.
func (l *Listener) config(remote netip.Addr) *tcp.Config {
	if cfg := l.ownConfig(remote); cfg != nil {
		return cfg
	}
	return l.s.config(remote)
}

// Info returns the connection's state as Linux's TCP_INFO reports it (see
// tcp.Info): state, congestion state and window in segments, RTT, counts.
func (c *Conn) Info() tcp.Info {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tcb.Info()
}

// SetMSS clamps the segment size, as Linux's TCP_MAXSEG: on a connection
// not yet synchronized it lowers the MSS advertised and used; afterwards
// the send MSS. It returns an error wrapping syscall.EINVAL for a size
// outside 88..65495 bytes.
func (c *Conn) SetMSS(bytes int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.tcb.SetMSS(bytes) {
		return c.opErr("set", syscall.EINVAL)
	}
	return nil
}

// MSS returns the send segment size, as Linux's TCP_MAXSEG reports it:
// the negotiated one, or before that the clamp set with SetMSS, or 536.
func (c *Conn) MSS() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tcb.MSS()
}

// SetUserTimeout sets how long sent data may stay unacknowledged before the
// connection fails with syscall.ETIMEDOUT (RFC 5482, Linux's
// TCP_USER_TIMEOUT); zero restores the default (tcp.Config's
// DataRetryTimeout). It returns an error wrapping syscall.EINVAL for a
// negative duration.
func (c *Conn) SetUserTimeout(d time.Duration) error {
	if d < 0 {
		return c.opErr("set", syscall.EINVAL)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tcb.SetUserTimeout(d)
	return nil
}

// SetQuickAck turns delayed ACKs off (true) or back on, as Linux's
// TCP_QUICKACK; an ACK being delayed goes at once. Unlike Linux's, the
// setting lasts until changed. Off also ends, for good, the quick-ACK mode
// a connection is in at its start and after idle (its first segments are
// acknowledged at once), as TCP_QUICKACK 0 does in Linux.
func (c *Conn) SetQuickAck(on bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tcb.SetQuickAck(on)
	c.pollNow()
	return nil
}

// SetCork holds back partial segments while on, as Linux's TCP_CORK, so
// that several Writes leave in full-sized segments; turning it off sends
// what was held. Unlike Linux's, the cork has no 200 ms ceiling. Write
// with MSG_MORE is a cork for that one write.
func (c *Conn) SetCork(on bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tcb.SetCork(on)
	if !on {
		c.pollNow()
	}
	return nil
}

// SetCongestion chooses the congestion control algorithm by its Linux
// name (TCP_CONGESTION: "reno", "cubic", "bbr", as cc.New knows them). After the
// handshake the new algorithm starts from the initial window. For a name
// it does not know it returns an error wrapping syscall.ENOENT, as Linux
// does, and the *tcp.UnknownCCError of tcp.CheckCongestionControl.
func (c *Conn) SetCongestion(name string) error {
	if err := tcp.CheckCongestionControl(name); err != nil {
		return c.opErr("set", fmt.Errorf("%w: %w", syscall.ENOENT, err))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tcb.SetCongestion(name)
	return nil
}

// Congestion returns the name of the congestion control in use.
func (c *Conn) Congestion() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tcb.Congestion()
}

// Readiness is what a connection's calls would do now, without blocking:
// poll(2)'s view of it.
type Readiness struct {
	// Readable: Read would return at once (data, end of stream or an error).
	Readable bool
	// Writable: Write would take a byte at once, or fail at once.
	Writable bool
	// SendSpace is how many bytes Write would take without blocking.
	SendSpace int
	// Unread is how many received bytes wait to be read (SIOCINQ);
	// Queued how many written bytes are not yet acknowledged (SIOCOUTQ).
	Unread, Queued int
	// PeerClosed: the peer's FIN has arrived (POLLRDHUP).
	PeerClosed bool
	// Closed: the connection has ended (reset, timed out, or both FINs
	// done) or was closed by the user (POLLHUP).
	Closed bool
	// Err is the connection's error that Read, Write or TakeError has not
	// yet reported (POLLERR), or nil.
	Err error
}

// Ready reports what Read and Write would do now, without blocking: for
// poll(2)-style readiness, and for non-blocking use (write SendSpace bytes
// at most, read only when Readable).
func (c *Conn) Ready() Readiness {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.tcb
	unread, queued := t.Buffered()
	r := Readiness{
		Unread:     unread,
		Queued:     queued,
		Readable:   t.Readable() || c.closed,
		Writable:   t.Writable() || c.closed,
		SendSpace:  t.SendSpace(),
		PeerClosed: t.PeerClosed(),
		Closed:     c.closed || t.State() == tcp.StateClosed,
	}
	if err := t.Err(); err != nil && !c.errSeen {
		r.Err = err
	}
	return r
}

// TakeError returns the connection's error once, as Linux's SO_ERROR does,
// and nil if there is none or it was already reported (by Read, Write or
// an earlier TakeError). Afterwards Read returns io.EOF and Write
// syscall.EPIPE.
func (c *Conn) TakeError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.tcb.Err()
	if err == nil || c.errSeen {
		return nil
	}
	c.errSeen = true
	return err
}

// Pending returns how many established connections wait for Accept (what
// poll(2) reports as readable on a listening socket).
func (l *Listener) Pending() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.queue)
}
