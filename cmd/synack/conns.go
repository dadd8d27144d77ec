package main

import (
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/synack-go/synack"
)

// connLog writes one line per finished connection. It is safe for
// concurrent use.
type connLog struct {
	w     io.Writer
	info  bool       // each finished connection's line is followed by its tcp_info (serve --stats)
	mu    sync.Mutex // serializes lines
	total atomic.Uint64
}

func newConnLog(w io.Writer) *connLog { return &connLog{w: w} }

// logf writes one timestamped line.
func (l *connLog) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.printf(format, args...)
}

func (l *connLog) printf(format string, args ...any) {
	fmt.Fprintf(l.w, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, args...)...)
}

// listener wraps ln so that every accepted connection is tracked.
func (l *connLog) listener(ln net.Listener) net.Listener { return &trackedListener{ln, l} }

type trackedListener struct {
	net.Listener
	log *connLog
}

func (tl *trackedListener) Accept() (net.Conn, error) {
	c, err := tl.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return tl.log.track(c.(*synack.Conn)), nil
}

// trackedConn is a connection that counts what the application moved and
// logs a line when it is closed.
type trackedConn struct {
	*synack.Conn
	log     *connLog
	start   time.Time
	in, out atomic.Uint64
	once    sync.Once
}

func (l *connLog) track(c *synack.Conn) *trackedConn {
	return &trackedConn{Conn: c, log: l, start: time.Now()}
}

func (c *trackedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.in.Add(uint64(n))
	return n, err
}

func (c *trackedConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.out.Add(uint64(n))
	return n, err
}

// Close closes the connection and logs its line: peer, bytes each way,
// duration and retransmissions so far (the FIN exchange may add some).
func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		st := c.Conn.Stats()
		l := c.log
		l.total.Add(1)
		l.mu.Lock()
		l.printf("conn %v in=%d out=%d time=%v retrans=%d",
			c.RemoteAddr(), c.in.Load(), c.out.Load(),
			time.Since(c.start).Round(time.Microsecond), st.Retransmits)
		if l.info {
			fmt.Fprintf(l.w, "\t%s\n", tcpInfo(st))
		}
		l.mu.Unlock()
	})
	return err
}
