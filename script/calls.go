package script

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"
)

// callResult is what a system call returned, and when it began and
// returned.
type callResult struct {
	ret     int64
	err     error
	started time.Duration
	at      time.Duration
}

// pendingCall is a blocking call running in the background.
type pendingCall struct {
	ev    *Event
	start time.Duration
	end   time.Duration // when it must return
	tol   time.Duration
	done  chan callResult
	prep  *prepared
}

// prepared is a call ready to run: the operation, and what to do with its
// result.
type prepared struct {
	op func() (int64, error)
	// after runs when the call returned with ret (mapping new fds); it
	// returns a mismatch of out-parameters, or "".
	after func(ret int64) string
}

// call runs the system call of ev, which is due at start.
func (r *runner) call(ev *Event, start time.Duration) error {
	prep, err := r.prepare(ev)
	if err != nil {
		return err
	}
	done := make(chan callResult, 1)
	began := make(chan time.Duration, 1)
	t := r.t
	t.Go(func() {
		started := t.Now()
		began <- started
		ret, err := prep.op()
		done <- callResult{ret: ret, err: err, started: started, at: t.Now()}
	})
	if ev.Time.Block {
		end := ev.Time.End
		if ev.Time.Kind == TimeRelative {
			end = r.anchor + ev.Time.End
		}
		r.pending = &pendingCall{ev: ev, start: start, end: end, tol: r.cfg.tolerance(end - start), done: done, prep: prep}
		r.anchor = r.t.Now()
		return nil
	}
	// A call without ... must return at once: within the tolerance of
	// when it began. (In real time the goroutine that makes it may start
	// late on a busy machine; that delay is not the call's.)
	tol := r.cfg.Tolerance
	limit := r.t.Now() + tol
	begun := false
	for {
		select {
		case res := <-done:
			if res.at > res.started+tol {
				return r.errorf(ev.Line, "%s blocked until %s s; a call that may block is written START...END", ev.Call.Name, secs(res.at))
			}
			r.anchor = res.at
			return r.checkCall(ev, prep, res)
		default:
		}
		if !begun {
			select {
			case s := <-began:
				begun, limit = true, s+tol
			default:
				if r.t.Now() > limit+time.Second {
					return r.errorf(ev.Line, "%s(...) did not even begin within a second", ev.Call.Name)
				}
			}
		}
		if begun && r.t.Now() > limit {
			return r.errorf(ev.Line, "%s(...) blocked (it did not return within %s); a call that may block is written START...END", ev.Call.Name, tol)
		}
		next := limit + 1
		if !begun {
			next = r.t.Now() + tol
		}
		r.wait(next)
	}
}

// checkPending checks a blocking call that has returned, if any, and
// fails one that should have returned by now.
func (r *runner) checkPending() error {
	p := r.pending
	if p == nil {
		return nil
	}
	select {
	case res := <-p.done:
		r.pending = nil
		return r.endPending(p, res)
	default:
	}
	if r.t.Now() > p.end+p.tol {
		r.pending = nil
		return r.errorf(p.ev.Line, "%s(...) should have returned at %s s, but it still blocks at %s s", p.ev.Call.Name, secs(p.end), secs(r.t.Now()))
	}
	return nil
}

// wait lets time pass until at most until, waking early to check a
// blocking call's deadline; then it collects what the stack sent.
func (r *runner) wait(until time.Duration) {
	if p := r.pending; p != nil && p.end+p.tol+1 < until {
		until = p.end + p.tol + 1
	}
	r.t.Wait(until)
	r.collect()
}

// awaitPending waits for the blocking call to return, at most until its
// END and the tolerance.
func (r *runner) awaitPending() error {
	p := r.pending
	for {
		select {
		case res := <-p.done:
			r.pending = nil
			return r.endPending(p, res)
		default:
		}
		if r.t.Now() > p.end+p.tol {
			r.pending = nil
			return r.errorf(p.ev.Line, "%s(...) should have returned at %s s, but it still blocks at %s s", p.ev.Call.Name, secs(p.end), secs(r.t.Now()))
		}
		r.wait(p.end + p.tol + 1)
	}
}

func (r *runner) endPending(p *pendingCall, res callResult) error {
	if res.at < p.end-p.tol || res.at > p.end+p.tol {
		return r.errorf(p.ev.Line, "%s(...) returned at %s s, expected at %s s (tolerance %s)", p.ev.Call.Name, secs(res.at), secs(p.end), p.tol)
	}
	return r.checkCall(p.ev, p.prep, res)
}

// checkCall compares a call's result and errno with the line's.
func (r *runner) checkCall(ev *Event, prep *prepared, res callResult) error {
	c := ev.Call
	got := res.ret
	gotErrno := ""
	if res.err != nil {
		got = -1
		var en syscall.Errno
		if errors.As(res.err, &en) {
			gotErrno = errnoName(int64(en))
		} else {
			gotErrno = res.err.Error()
		}
	}
	gotText := fmt.Sprint(got)
	if gotErrno != "" {
		gotText += " " + gotErrno
	}
	newFD := (c.Name == "socket" || c.Name == "accept" || c.Name == "accept4") && got >= 0 && c.Result.Int >= 0
	if c.Result.Kind != ExprEllipsis && !newFD && (got != c.Result.Int || c.Errno != "" && gotErrno != c.Errno) {
		want := fmt.Sprint(c.Result.Int)
		if c.Errno != "" {
			want += " " + c.Errno
		}
		return r.errorf(ev.Line, "%s: expected %s, got %s", callText(c), want, gotText)
	}
	if prep.after != nil && res.err == nil {
		if why := prep.after(got); why != "" {
			return r.errorf(ev.Line, "%s: %s", callText(c), why)
		}
	}
	return nil
}

// callText prints a call line's call for messages.
func callText(c *Call) string {
	args := make([]string, len(c.Args))
	for i, a := range c.Args {
		args[i] = a.String()
	}
	return c.Name + "(" + strings.Join(args, ", ") + ")"
}

// argInt evaluates an integer argument: a number, a symbol, or an OR of
// them.
func (r *runner) argInt(ev *Event, e *Expr) (int64, error) {
	switch e.Kind {
	case ExprInt:
		return e.Int, nil
	case ExprSymbol:
		if v, ok := symbols[e.Sym]; ok {
			return v, nil
		}
		return 0, r.errorf(ev.Line, "unknown symbol %s", e.Sym)
	case ExprOr:
		var v int64
		for _, x := range e.Elems {
			n, err := r.argInt(ev, x)
			if err != nil {
				return 0, err
			}
			v |= n
		}
		return v, nil
	case ExprCall:
		if (e.Name == "htons" || e.Name == "htonl" || e.Name == "ntohs") && len(e.Elems) == 1 {
			return r.argInt(ev, e.Elems[0])
		}
	}
	return 0, r.errorf(ev.Line, "expected an integer, got %s", e)
}

// argPtrInt evaluates [N], a pointer to an int.
func (r *runner) argPtrInt(ev *Event, e *Expr) (int64, error) {
	if e.Kind == ExprList && len(e.Elems) == 1 {
		return r.argInt(ev, e.Elems[0])
	}
	if e.Kind == ExprEllipsis {
		return 0, nil
	}
	return 0, r.errorf(ev.Line, "expected [N], got %s", e)
}

// fd maps a script fd argument to the live one.
func (r *runner) fd(ev *Event, e *Expr) (int, *sock, error) {
	n, err := r.argInt(ev, e)
	if err != nil {
		return 0, nil, err
	}
	if s, ok := r.socks[int(n)]; ok {
		return s.liveFD, s, nil
	}
	// An fd the script never opened: one the target surely lacks, so the
	// call fails with EBADF as the script expects.
	return 1<<20 + int(n), nil, nil
}

// bufLen is the length of a data argument: the count argument, or the
// iovec lengths.
func (r *runner) iovLen(ev *Event, e *Expr) (int, error) {
	if e.Kind != ExprList {
		return 0, r.errorf(ev.Line, "expected an iovec array [{..., N}, ...], got %s", e)
	}
	total := 0
	for _, v := range e.Elems {
		if v.Kind != ExprStruct || len(v.Elems) != 2 {
			return 0, r.errorf(ev.Line, "expected an iovec {..., N}, got %s", v)
		}
		n, err := r.argInt(ev, fieldValue(v.Elems[1]))
		if err != nil {
			return 0, err
		}
		total += int(n)
	}
	return total, nil
}

// fieldValue returns the value of name=value, or e itself.
func fieldValue(e *Expr) *Expr {
	if e.Kind == ExprField {
		return e.Elems[0]
	}
	return e
}

// msgIovLen is the total iovec length of a struct msghdr argument.
func (r *runner) msgIovLen(ev *Event, e *Expr) (int, error) {
	if e.Kind != ExprStruct {
		return 0, r.errorf(ev.Line, "expected a struct msghdr {msg_iov(N)=[...], ...}, got %s", e)
	}
	for _, f := range e.Elems {
		if f.Kind == ExprField && f.Name == "msg_iov" {
			return r.iovLen(ev, f.Elems[0])
		}
	}
	return 0, r.errorf(ev.Line, "struct msghdr without msg_iov")
}

// wantArgs checks the argument count.
func (r *runner) wantArgs(ev *Event, min, max int) error {
	n := len(ev.Call.Args)
	if n < min || n > max {
		if min == max {
			return r.errorf(ev.Line, "%s takes %d arguments, got %d", ev.Call.Name, min, n)
		}
		return r.errorf(ev.Line, "%s takes %d to %d arguments, got %d", ev.Call.Name, min, max, n)
	}
	return nil
}

// prepare turns a call line into an operation on the target.
func (r *runner) prepare(ev *Event) (*prepared, error) {
	c := ev.Call
	a := c.Args
	t := r.t
	switch c.Name {
	case "socket":
		if err := r.wantArgs(ev, 3, 3); err != nil {
			return nil, err
		}
		dom := r.cfg.family()
		if a[0].Kind != ExprEllipsis {
			v, err := r.argInt(ev, a[0])
			if err != nil {
				return nil, err
			}
			dom = v
		}
		typ, err := r.argInt(ev, a[1])
		if err != nil {
			return nil, err
		}
		proto, err := r.argInt(ev, a[2])
		if err != nil {
			return nil, err
		}
		var live int
		return &prepared{
			op: func() (int64, error) {
				fd, err := t.Socket(int(dom), int(typ), int(proto))
				live = fd
				return int64(fd), err
			},
			after: func(ret int64) string { return r.newSock(ev, live, false) },
		}, nil
	case "bind", "connect":
		if err := r.wantArgs(ev, 3, 3); err != nil {
			return nil, err
		}
		fd, s, err := r.fd(ev, a[0])
		if err != nil {
			return nil, err
		}
		if c.Name == "bind" {
			addr := r.cfg.sockAddr(r.cfg.LocalIP, r.cfg.BindPort)
			if s != nil {
				s.bound = true
			}
			return &prepared{op: func() (int64, error) { return 0, t.Bind(fd, addr) }}, nil
		}
		addr := r.cfg.sockAddr(r.cfg.RemoteIP, r.cfg.ConnectPort)
		if s != nil && s.conn == nil {
			cn := newConn()
			cn.rport = r.cfg.ConnectPort
			if s.bound {
				cn.lport, cn.lportKnown = r.cfg.BindPort, true
			}
			s.conn = cn
			r.sut = s
		}
		return &prepared{op: func() (int64, error) { return 0, t.Connect(fd, addr) }}, nil
	case "listen":
		if err := r.wantArgs(ev, 2, 2); err != nil {
			return nil, err
		}
		fd, s, err := r.fd(ev, a[0])
		if err != nil {
			return nil, err
		}
		backlog, err := r.argInt(ev, a[1])
		if err != nil {
			return nil, err
		}
		return &prepared{
			op: func() (int64, error) { return 0, t.Listen(fd, int(backlog)) },
			after: func(int64) string {
				if s != nil {
					s.listening = true
					r.sut = s
				}
				return ""
			},
		}, nil
	case "accept", "accept4":
		if err := r.wantArgs(ev, 3, 4); err != nil {
			return nil, err
		}
		fd, s, err := r.fd(ev, a[0])
		if err != nil {
			return nil, err
		}
		var live int
		return &prepared{
			op: func() (int64, error) {
				n, err := t.Accept(fd)
				live = n
				return int64(n), err
			},
			after: func(ret int64) string {
				if why := r.newSock(ev, live, true); why != "" {
					return why
				}
				ns := r.socks[int(c.Result.Int)]
				if ns == nil {
					return ""
				}
				if s != nil && len(s.pending) > 0 {
					ns.conn = s.pending[0]
					s.pending = s.pending[1:]
				}
				r.sut = ns
				return ""
			},
		}, nil
	case "read", "recv", "recvfrom", "write", "send", "sendto":
		if err := r.wantArgs(ev, 3, 6); err != nil {
			return nil, err
		}
		fd, _, err := r.fd(ev, a[0])
		if err != nil {
			return nil, err
		}
		n, err := r.argInt(ev, a[2])
		if err != nil {
			return nil, err
		}
		flags := int64(0)
		if len(a) >= 4 {
			if flags, err = r.argInt(ev, a[3]); err != nil {
				return nil, err
			}
		}
		if strings.HasPrefix(c.Name, "re") {
			return &prepared{op: func() (int64, error) {
				k, err := t.Recv(fd, int(n), int(flags))
				return int64(k), err
			}}, nil
		}
		return &prepared{op: func() (int64, error) {
			k, err := t.Send(fd, int(n), int(flags))
			return int64(k), err
		}}, nil
	case "readv", "writev":
		if err := r.wantArgs(ev, 3, 3); err != nil {
			return nil, err
		}
		fd, _, err := r.fd(ev, a[0])
		if err != nil {
			return nil, err
		}
		n, err := r.iovLen(ev, a[1])
		if err != nil {
			return nil, err
		}
		if c.Name == "readv" {
			return &prepared{op: func() (int64, error) { k, err := t.Recv(fd, n, 0); return int64(k), err }}, nil
		}
		return &prepared{op: func() (int64, error) { k, err := t.Send(fd, n, 0); return int64(k), err }}, nil
	case "sendmsg", "recvmsg":
		if err := r.wantArgs(ev, 3, 3); err != nil {
			return nil, err
		}
		fd, _, err := r.fd(ev, a[0])
		if err != nil {
			return nil, err
		}
		n, err := r.msgIovLen(ev, a[1])
		if err != nil {
			return nil, err
		}
		flags, err := r.argInt(ev, a[2])
		if err != nil {
			return nil, err
		}
		if c.Name == "recvmsg" {
			return &prepared{op: func() (int64, error) { k, err := t.Recv(fd, n, int(flags)); return int64(k), err }}, nil
		}
		return &prepared{op: func() (int64, error) { k, err := t.Send(fd, n, int(flags)); return int64(k), err }}, nil
	case "close":
		if err := r.wantArgs(ev, 1, 1); err != nil {
			return nil, err
		}
		fd, _, err := r.fd(ev, a[0])
		if err != nil {
			return nil, err
		}
		return &prepared{op: func() (int64, error) { return 0, t.Close(fd) }}, nil
	case "shutdown":
		if err := r.wantArgs(ev, 2, 2); err != nil {
			return nil, err
		}
		fd, _, err := r.fd(ev, a[0])
		if err != nil {
			return nil, err
		}
		how, err := r.argInt(ev, a[1])
		if err != nil {
			return nil, err
		}
		return &prepared{op: func() (int64, error) { return 0, t.Shutdown(fd, int(how)) }}, nil
	case "fcntl":
		if err := r.wantArgs(ev, 2, 3); err != nil {
			return nil, err
		}
		fd, _, err := r.fd(ev, a[0])
		if err != nil {
			return nil, err
		}
		cmd, err := r.argInt(ev, a[1])
		if err != nil {
			return nil, err
		}
		arg := int64(0)
		if len(a) == 3 {
			if arg, err = r.argInt(ev, a[2]); err != nil {
				return nil, err
			}
		}
		return &prepared{op: func() (int64, error) { k, err := t.Fcntl(fd, int(cmd), int(arg)); return int64(k), err }}, nil
	case "ioctl":
		if err := r.wantArgs(ev, 3, 3); err != nil {
			return nil, err
		}
		fd, _, err := r.fd(ev, a[0])
		if err != nil {
			return nil, err
		}
		req, err := r.argInt(ev, a[1])
		if err != nil {
			return nil, err
		}
		want, err := r.argPtrInt(ev, a[2])
		if err != nil {
			return nil, err
		}
		var got int
		return &prepared{
			op: func() (int64, error) {
				v, err := t.Ioctl(fd, int(req))
				got = v
				return 0, err
			},
			after: func(int64) string {
				if a[2].Kind == ExprList && int64(got) != want {
					return fmt.Sprintf("expected [%d], got [%d]", want, got)
				}
				return ""
			},
		}, nil
	case "poll":
		return r.preparePoll(ev)
	case "setsockopt":
		return r.prepareSetsockopt(ev)
	case "getsockopt":
		return r.prepareGetsockopt(ev)
	}
	return nil, r.errorf(ev.Line, "system call %s is not supported", c.Name)
}

// newSock records the fd a socket or accept line named.
func (r *runner) newSock(ev *Event, live int, accepted bool) string {
	c := ev.Call
	if c.Result.Kind != ExprInt || c.Result.Int < 0 {
		return ""
	}
	s := &sock{scriptFD: int(c.Result.Int), liveFD: live}
	r.socks[s.scriptFD] = s
	if !accepted {
		r.sut = s
	}
	return ""
}

func (r *runner) preparePoll(ev *Event) (*prepared, error) {
	if err := r.wantArgs(ev, 3, 3); err != nil {
		return nil, err
	}
	a := ev.Call.Args
	if a[0].Kind != ExprList {
		return nil, r.errorf(ev.Line, "poll wants [{fd=N, events=..., revents=...}, ...], got %s", a[0])
	}
	var fds []PollFD
	var wantRev []int64
	var checkRev []bool
	for _, e := range a[0].Elems {
		if e.Kind != ExprStruct {
			return nil, r.errorf(ev.Line, "poll wants {fd=N, events=..., revents=...}, got %s", e)
		}
		var pf PollFD
		var rev int64
		check := false
		for _, f := range e.Elems {
			if f.Kind != ExprField {
				return nil, r.errorf(ev.Line, "poll: expected name=value in %s", e)
			}
			switch f.Name {
			case "fd":
				fd, _, err := r.fd(ev, f.Elems[0])
				if err != nil {
					return nil, err
				}
				pf.FD = fd
			case "events":
				v, err := r.argInt(ev, f.Elems[0])
				if err != nil {
					return nil, err
				}
				pf.Events = int16(v)
			case "revents":
				if f.Elems[0].Kind == ExprEllipsis {
					break
				}
				v, err := r.argInt(ev, f.Elems[0])
				if err != nil {
					return nil, err
				}
				rev, check = v, true
			default:
				return nil, r.errorf(ev.Line, "poll: unknown field %s", f.Name)
			}
		}
		fds = append(fds, pf)
		wantRev = append(wantRev, rev)
		checkRev = append(checkRev, check)
	}
	ms, err := r.argInt(ev, a[2])
	if err != nil {
		return nil, err
	}
	timeout := time.Duration(ms) * time.Millisecond
	t := r.t
	return &prepared{
		op: func() (int64, error) {
			n, err := t.Poll(fds, timeout)
			return int64(n), err
		},
		after: func(int64) string {
			for i := range fds {
				if checkRev[i] && int64(fds[i].Revents) != wantRev[i] {
					return fmt.Sprintf("revents of entry %d: expected %s, got %s", i+1, pollText(wantRev[i]), pollText(int64(fds[i].Revents)))
				}
			}
			return ""
		},
	}, nil
}

// pollText prints poll event bits by name.
func pollText(v int64) string {
	if v == 0 {
		return "0"
	}
	var names []string
	for _, n := range []string{"POLLIN", "POLLPRI", "POLLOUT", "POLLERR", "POLLHUP", "POLLNVAL", "POLLRDNORM", "POLLRDBAND", "POLLWRNORM", "POLLWRBAND", "POLLRDHUP"} {
		if b := symbols[n]; v&b != 0 {
			names = append(names, n)
			v &^= b
		}
	}
	if v != 0 {
		names = append(names, fmt.Sprintf("%#x", v))
	}
	return strings.Join(names, "|")
}

// sockoptValue turns a setsockopt value into bytes in Linux's layout,
// or reports an int (isInt).
func (r *runner) sockoptValue(ev *Event, e *Expr) (val []byte, n int64, isInt bool, err error) {
	switch e.Kind {
	case ExprList:
		if len(e.Elems) != 1 {
			return nil, 0, false, r.errorf(ev.Line, "expected [N], got %s", e)
		}
		v, err := r.argInt(ev, e.Elems[0])
		return nil, v, true, err
	case ExprString:
		return []byte(e.Str), 0, false, nil
	case ExprStruct:
		// {onoff=1, linger=0} and other structs of ints: 32-bit fields in
		// the written order.
		var b []byte
		for _, f := range e.Elems {
			v, err := r.argInt(ev, fieldValue(f))
			if err != nil {
				return nil, 0, false, err
			}
			b = binary.LittleEndian.AppendUint32(b, uint32(v))
		}
		return b, 0, false, nil
	case ExprInt, ExprSymbol, ExprOr:
		v, err := r.argInt(ev, e)
		return nil, v, true, err
	}
	return nil, 0, false, r.errorf(ev.Line, "unsupported option value %s", e)
}

func (r *runner) prepareSetsockopt(ev *Event) (*prepared, error) {
	if err := r.wantArgs(ev, 5, 5); err != nil {
		return nil, err
	}
	a := ev.Call.Args
	fd, _, err := r.fd(ev, a[0])
	if err != nil {
		return nil, err
	}
	level, err := r.argInt(ev, a[1])
	if err != nil {
		return nil, err
	}
	name, err := r.argInt(ev, a[2])
	if err != nil {
		return nil, err
	}
	val, n, isInt, err := r.sockoptValue(ev, a[3])
	if err != nil {
		return nil, err
	}
	length, err := r.argInt(ev, a[4])
	if err != nil {
		return nil, err
	}
	t := r.t
	if isInt && length == 4 {
		return &prepared{op: func() (int64, error) { return 0, t.SetsockoptInt(fd, int(level), int(name), int(n)) }}, nil
	}
	if isInt {
		// A one-byte option (IP_TOS with length 1).
		val = []byte{byte(n)}
	}
	if int(length) < len(val) {
		val = val[:length]
	}
	return &prepared{op: func() (int64, error) { return 0, t.SetsockoptBytes(fd, int(level), int(name), val) }}, nil
}

func (r *runner) prepareGetsockopt(ev *Event) (*prepared, error) {
	if err := r.wantArgs(ev, 5, 5); err != nil {
		return nil, err
	}
	a := ev.Call.Args
	fd, _, err := r.fd(ev, a[0])
	if err != nil {
		return nil, err
	}
	level, err := r.argInt(ev, a[1])
	if err != nil {
		return nil, err
	}
	name, err := r.argInt(ev, a[2])
	if err != nil {
		return nil, err
	}
	wantLen, err := r.argPtrInt(ev, a[4])
	if err != nil {
		return nil, err
	}
	t := r.t
	switch a[3].Kind {
	case ExprString:
		want := a[3].Str
		var got []byte
		return &prepared{
			op: func() (int64, error) {
				b, err := t.GetsockoptBytes(fd, int(level), int(name), int(wantLen))
				got = b
				return 0, err
			},
			after: func(int64) string {
				s := string(got)
				if i := strings.IndexByte(s, 0); i >= 0 {
					s = s[:i]
				}
				if s != want {
					return fmt.Sprintf("expected %q, got %q", want, s)
				}
				return ""
			},
		}, nil
	case ExprEllipsis:
		return &prepared{op: func() (int64, error) { _, err := t.GetsockoptInt(fd, int(level), int(name)); return 0, err }}, nil
	}
	want, err := r.argPtrInt(ev, a[3])
	if err != nil {
		return nil, err
	}
	var got int
	return &prepared{
		op: func() (int64, error) {
			v, err := t.GetsockoptInt(fd, int(level), int(name))
			got = v
			return 0, err
		},
		after: func(int64) string {
			if wantLen != 4 && a[4].Kind == ExprList {
				return fmt.Sprintf("an int option has length 4, the script says %d", wantLen)
			}
			if int64(got) != want {
				return fmt.Sprintf("expected [%d], got [%d]", want, got)
			}
			return ""
		},
	}, nil
}
