package synack

import (
	"net"
	"syscall"
	"time"
)

// SetLinger sets what Close does. sec < 0 (the default): Close sends a FIN
// after the queued data and the connection finishes in the background.
// sec == 0: Close aborts the connection with a RST and discards unsent
// data. sec > 0 behaves like the default (Close never blocks).
func (c *Conn) SetLinger(sec int) error {
	c.mu.Lock()
	c.linger = int8(min(max(sec, -1), 1)) // only the sign matters
	c.mu.Unlock()
	return nil
}

// SetNoDelay turns Nagle's algorithm (RFC 896) off (true, the default, as
// in package net) or on (false).
func (c *Conn) SetNoDelay(noDelay bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tcb.SetNoDelay(noDelay)
	c.pollNow() // data Nagle held back may go now
	return nil
}

// SetKeepAlive turns keepalive probes on or off. They are on by default,
// after Options.KeepAlive (15 s) of idleness; turning them on again uses
// the last period set.
func (c *Conn) SetKeepAlive(on bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !on {
		c.setKeepAliveLocked(0)
		return nil
	}
	if c.keepIdle <= 0 {
		c.keepIdle = defaultKeepAlive
	}
	c.setKeepAliveLocked(c.keepIdle)
	return nil
}

// SetKeepAlivePeriod sets the idle time before the first keepalive probe
// and turns keepalive on. It returns an error wrapping syscall.EINVAL for a
// period that is not positive.
func (c *Conn) SetKeepAlivePeriod(d time.Duration) error {
	if d <= 0 {
		return c.opErr("set", syscall.EINVAL)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keepIdle = d
	c.setKeepAliveLocked(d)
	return nil
}

func (c *Conn) setKeepAliveLocked(idle time.Duration) {
	cfg := c.s.config(c.key.remote.Addr())
	c.tcb.SetKeepAlive(idle, keepInterval(cfg, idle), cfg.KeepAliveCount, c.nowLocked())
	if !c.gone {
		c.s.timers.schedule(c, c.tcb.Deadline())
	}
}

// SetReadBuffer sets the receive buffer size in bytes. Like Linux's
// SO_RCVBUF after connect, it changes nothing once the handshake is done:
// the window scale is fixed then. It returns an error wrapping
// syscall.EINVAL for a size that is not positive.
func (c *Conn) SetReadBuffer(bytes int) error {
	if bytes <= 0 {
		return c.opErr("set", syscall.EINVAL)
	}
	c.mu.Lock()
	c.tcb.SetBuffers(0, bytes)
	c.mu.Unlock()
	return nil
}

// SetWriteBuffer sets the send buffer size in bytes (never below what is
// queued). It returns an error wrapping syscall.EINVAL for a size that is
// not positive.
func (c *Conn) SetWriteBuffer(bytes int) error {
	if bytes <= 0 {
		return c.opErr("set", syscall.EINVAL)
	}
	c.mu.Lock()
	c.tcb.SetBuffers(bytes, 0)
	signal(c.wr)
	c.mu.Unlock()
	return nil
}

// SetKeepAliveConfig configures keepalive probes as
// net.TCPConn.SetKeepAliveConfig does: Enable turns them on or off; Idle
// is the silence before the first probe, Interval the time between
// unanswered probes, Count how many unanswered probes end the connection
// with syscall.ETIMEDOUT (Linux's TCP_KEEPIDLE, TCP_KEEPINTVL,
// TCP_KEEPCNT). A zero field takes the default (Options.KeepAlive or 15 s
// for Idle, Idle for Interval, 9 for Count); a negative one keeps the
// current value.
func (c *Conn) SetKeepAliveConfig(cfg net.KeepAliveConfig) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !cfg.Enable {
		c.setKeepAliveLocked(0)
		return nil
	}
	curIdle, curIntvl, curCount := c.tcb.KeepAlive()
	idle, intvl, count := cfg.Idle, cfg.Interval, cfg.Count
	switch {
	case idle < 0 && curIdle > 0:
		idle = curIdle
	case idle <= 0:
		idle = c.keepIdle
		if idle <= 0 {
			idle = defaultKeepAlive
		}
	}
	switch {
	case intvl < 0:
		intvl = curIntvl
	case intvl == 0:
		intvl = idle
	}
	if count < 0 {
		count = curCount
	}
	c.keepIdle = idle
	c.tcb.SetKeepAlive(idle, intvl, count, c.nowLocked())
	if !c.gone {
		c.s.timers.schedule(c, c.tcb.Deadline())
	}
	return nil
}
