package synack

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/synack-go/synack/inet"
	"github.com/synack-go/synack/tcp"
	"github.com/synack-go/synack/wire"
)

// TCPForwardOptions configures ForwardTCP. The zero value forwards SYNs to
// the stack's own addresses, with 1024 handshakes pending at most.
type TCPForwardOptions struct {
	// AnyAddress forwards SYNs to every destination address (the
	// transparent proxy: a TUN device routes all traffic to the stack),
	// not only to Options.Addrs. The connections then send from the
	// address their client dialled.
	AnyAddress bool
	// MaxPending bounds the SYNs waiting for the handler's decision.
	// Beyond it, SYNs are answered with a SYN cookie (RFC 4987 §3.6) and
	// the handler is asked only when the cookie comes back: the client
	// then already saw its handshake succeed, and a refusal can only be a
	// RST. 0 means 1024.
	MaxPending int
}

const (
	defaultMaxPending = 1024
	// pendingHold is how long a request waits for its handler's decision,
	// and how long one the handler ignored absorbs the client's
	// retransmitted SYNs: about a client's whole SYN retry time (Linux's
	// tcp_syn_retries = 6 is 127 s).
	pendingHold = 130 * time.Second
)

// TCPForwarder receives the TCP handshakes no listener owns; see
// ForwardTCP.
type TCPForwarder struct {
	s      *Stack
	opts   TCPForwardOptions
	handle func(*TCPRequest)
	closed atomic.Bool

	mu        sync.Mutex // guards pending, undecided and each request's decided
	pending   map[connKey]*TCPRequest
	undecided int // requests in pending the handler has not decided: MaxPending bounds them
}

// TCPRequest is one forwarded SYN, waiting for the handler's decision:
// exactly one of Accept, Refuse, Unreachable and Ignore answers it (later
// calls do nothing; Accept returns an error). The decision is the
// client's answer, so that it sees what a direct connection would have
// given it: a handler typically dials the destination first and maps the
// outcome.
type TCPRequest struct {
	f       *TCPForwarder
	local   netip.AddrPort // the destination the client dialled
	remote  netip.AddrPort // the client
	syn     wire.TCPSegment
	iss     tcp.Seq // the ISS a SYN reusing a TIME_WAIT 4-tuple must use (RFC 6191); 0: any
	pkt     []byte  // the SYN's packet as received (its data cut), for an ICMP error's quote
	ipHdr   int     // the length of pkt's IP headers
	expire  time.Duration
	conn    *Conn // made by a SYN cookie's ACK: already established
	decided bool  // guarded by the forwarder's mu
}

// TCPForwardStats counts a TCP forwarder's requests and their fates
// (Stats.Forwarded).
type TCPForwardStats struct {
	Requests    uint64 // SYNs handed to the handler (a retransmitted SYN is absorbed, not counted)
	Accepted    uint64 // Accept calls that returned a connection
	AcceptFails uint64 // Accept calls that failed: the client gave up, the SYN-ACK retries ran out, ctx ended
	Refused     uint64 // answered with a RST
	Unreachable uint64 // answered with an ICMP destination unreachable (if the rate limit allowed)
	Ignored     uint64 // answered with nothing
	Expired     uint64 // not decided in time (about 130 s): forgotten
	Cookies     uint64 // SYNs answered with a SYN cookie: MaxPending requests were waiting
}

type tcpForwardCounters struct {
	requests, accepted, acceptFails, refused, unreachable, ignored, expired, cookies atomic.Uint64
}

func (s *Stack) tcpForwardStats() TCPForwardStats {
	c := &s.tcpFwd
	return TCPForwardStats{
		Requests: c.requests.Load(), Accepted: c.accepted.Load(), AcceptFails: c.acceptFails.Load(),
		Refused: c.refused.Load(), Unreachable: c.unreachable.Load(), Ignored: c.ignored.Load(),
		Expired: c.expired.Load(), Cookies: c.cookies.Load(),
	}
}

// Unreachable is why a forwarder's request is refused with an ICMP
// destination unreachable error (TCPRequest.Unreachable): the client's
// connect then fails as it would have against a router that said so.
type Unreachable = inet.Unreachable

// The Unreachable reasons, in terms both families have.
const (
	UnreachNet        = inet.UnreachNet        // ENETUNREACH: no route to the network
	UnreachHost       = inet.UnreachHost       // EHOSTUNREACH: the host does not answer
	UnreachPort       = inet.UnreachPort       // ECONNREFUSED, as a RST would
	UnreachProhibited = inet.UnreachProhibited // EHOSTUNREACH (IPv4) or EACCES (IPv6) on Linux: a policy forbids it
)

// ForwardTCP makes the stack hand each SYN that no listener owns to
// handle, on a goroutine of its own, before any SYN-ACK is sent: to the
// stack's own addresses, or to any address with opts.AnyAddress. The
// handler decides with one of the request's methods, typically after
// dialling the destination itself, so that the client sees what a direct
// connection would have given it: Accept (the handshake completes and the
// handler gets a *Conn whose LocalAddr is the original destination),
// Refuse (a RST: ECONNREFUSED), Unreachable (an ICMP error: EHOSTUNREACH,
// ENETUNREACH, ...) or Ignore (silence: the client times out). The
// client's retransmitted SYNs are absorbed while it decides.
//
// One forwarder serves a stack; a second ForwardTCP replaces the first for
// new SYNs. It fails with net.ErrClosed after Stack.Close.
func (s *Stack) ForwardTCP(opts TCPForwardOptions, handle func(*TCPRequest)) (*TCPForwarder, error) {
	if handle == nil {
		return nil, errors.New("synack: ForwardTCP with a nil handler")
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = defaultMaxPending
	}
	f := &TCPForwarder{s: s, opts: opts, handle: handle, pending: make(map[connKey]*TCPRequest)}
	if err := s.setForwarder(wire.ProtoTCP, endpoint{tf: f}, opts.AnyAddress); err != nil {
		return nil, err
	}
	return f, nil
}

// Close stops forwarding new SYNs; requests already handed out can still
// be decided. A second Close returns net.ErrClosed.
func (f *TCPForwarder) Close() error {
	if f.closed.Swap(true) {
		return net.ErrClosed
	}
	f.s.clearForwarder(wire.ProtoTCP, endpoint{tf: f})
	return nil
}

// input handles a segment of no connection that the forwarder takes (the
// read loop's side, from inputTCP): a SYN becomes a request, or is
// absorbed by the request its 4-tuple has, or past MaxPending gets a SYN
// cookie; the ACK of a valid cookie becomes an established connection and
// a request; anything else gets a RST, as at a closed port. iss, when not
// zero, is the ISS for a SYN that ends a TIME_WAIT (RFC 6191).
func (f *TCPForwarder) input(key flowKey, pkt []byte, ip *wire.IPPacket, seg *wire.TCPSegment, tx *txBatch, iss tcp.Seq) {
	s := f.s
	switch {
	case seg.Flags&wire.RST != 0:
		s.ctr.noConn.Add(1)
		s.traceDrop(key.local, key.remote, "no-socket")
		return
	case seg.Flags&wire.ACK != 0:
		if seg.Flags&wire.SYN == 0 && f.acceptCookie(key, seg) {
			return
		}
		s.ctr.noConn.Add(1)
		s.replyRST(key, seg, tx)
		return
	case seg.Flags&wire.SYN == 0:
		s.ctr.tcpDrops[tcp.DropInvalid].Add(1)
		s.traceDrop(key.local, key.remote, tcp.DropInvalid.String())
		return
	}
	now := s.now()
	pk := key.packed()
	f.mu.Lock()
	if r := f.pending[pk]; r != nil {
		if r.expire > now {
			f.mu.Unlock()
			s.traceDrop(key.local, key.remote, "syn-pending") // being decided, or ignored
			return
		}
		f.dropLocked(pk, r)
	}
	if f.undecided >= f.opts.MaxPending || len(f.pending) >= maxPendingEntries*f.opts.MaxPending {
		f.sweepLocked(now)
	}
	full := f.undecided >= f.opts.MaxPending || len(f.pending) >= maxPendingEntries*f.opts.MaxPending ||
		f.closed.Load()
	f.mu.Unlock()
	switch {
	case s.refuseNew(key, seg, tx, false):
		return
	case full:
		s.cookies.SynAck(s.config(key.remote.Addr()), key.local, key.remote, seg, now, s.tsOffset, &tx.scratch)
		s.ctr.cookiesSent.Add(1)
		s.tcpFwd.cookies.Add(1)
		tx.to(key.local.Addr(), key.remote.Addr())
		tx.Emit(&tx.scratch)
		return
	}
	r := &TCPRequest{f: f, local: key.local, remote: key.remote, syn: *seg, iss: iss, expire: now + pendingHold}
	r.syn.Payload = nil // data on a SYN (TFO) is not kept; the client sends it again
	// The SYN's packet, to quote in an ICMP error: its headers and at most
	// 64 bytes of data. ip.Payload lies in pkt's array, after the IP
	// headers.
	r.ipHdr = cap(pkt) - cap(ip.Payload)
	r.pkt = append([]byte(nil), pkt[:r.ipHdr+len(ip.Payload)-len(seg.Payload)+min(len(seg.Payload), 64)]...)
	f.mu.Lock()
	f.pending[pk] = r
	f.undecided++
	f.mu.Unlock()
	s.tcpFwd.requests.Add(1)
	s.goUser(func() { f.handle(r) })
}

// maxPendingEntries bounds the forwarder's entries, undecided requests and
// ignored ones absorbing their client's SYNs, at this many times
// MaxPending.
const maxPendingEntries = 4

// sweepLocked forgets the requests whose time is up (f.mu held).
func (f *TCPForwarder) sweepLocked(now time.Duration) {
	for k, r := range f.pending {
		if r.expire <= now {
			f.dropLocked(k, r)
		}
	}
}

// dropLocked forgets a request whose time is up, counting it if it was
// never decided (f.mu held).
func (f *TCPForwarder) dropLocked(k connKey, r *TCPRequest) {
	delete(f.pending, k)
	if !r.decided {
		r.decided = true
		f.undecided--
		f.s.tcpFwd.expired.Add(1)
	}
}

// acceptCookie opens an established connection from the ACK that
// completes a cookie handshake, and hands the handler a request that
// holds it. It reports whether the ACK carried a valid cookie.
func (f *TCPForwarder) acceptCookie(key flowKey, ack *wire.TCPSegment) bool {
	s := f.s
	now := s.now()
	opts, ok := s.cookies.Check(key.local, key.remote, ack, now)
	if !ok {
		return false
	}
	if s.mem.UnderPressure() || s.connCount() >= s.maxConns {
		return true // dropped: the client's retransmission may find room
	}
	c := newConn(s, key)
	c.mu.Lock()
	if !s.register(c) {
		c.mu.Unlock()
		return true
	}
	s.ctr.cookiesValid.Add(1)
	c.tcb.OpenFromCookie(ack, &opts, now)
	c.pollNow()
	c.mu.Unlock()
	r := &TCPRequest{f: f, local: key.local, remote: key.remote, conn: c}
	s.tcpFwd.requests.Add(1)
	s.goUser(func() { f.handle(r) })
	return true
}

// LocalAddr returns the destination the client dialled.
func (r *TCPRequest) LocalAddr() netip.AddrPort { return r.local }

// RemoteAddr returns the client's address.
func (r *TCPRequest) RemoteAddr() netip.AddrPort { return r.remote }

// decide marks r decided and reports whether it was not already. A
// decided request stops counting against MaxPending; unless keep, its
// entry goes, and a SYN the client sends again is a new request.
func (r *TCPRequest) decide(keep bool) bool {
	f := r.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.decided {
		return false
	}
	r.decided = true
	if r.conn == nil { // a cookie's request is never pending
		pk := flowKey{r.local, r.remote}.packed()
		if f.pending[pk] == r {
			f.undecided--
			if !keep {
				delete(f.pending, pk)
			}
		}
	}
	return true
}

// Accept sends the SYN-ACK, from LocalAddr, and returns the connection
// once the handshake completes: a *Conn whose LocalAddr is the original
// destination, like any accepted connection. It fails with ETIMEDOUT when
// the SYN-ACK's retransmissions run out, ECONNRESET when the client resets,
// ctx.Err() when ctx ends first (the attempt is then abandoned with a RST),
// EADDRINUSE when another connection took the 4-tuple meanwhile, an error
// wrapping net.ErrClosed after Stack.Close, or an error saying the request
// was decided already.
func (r *TCPRequest) Accept(ctx context.Context) (*Conn, error) {
	s := r.f.s
	if !r.decide(true) {
		return nil, opError("accept", r.local, r.remote, errDecided)
	}
	if c := r.conn; c != nil { // a cookie's: established already
		s.tcpFwd.accepted.Add(1)
		return c, nil
	}
	c := newConn(s, flowKey{r.local, r.remote})
	c.mu.Lock()
	defer c.mu.Unlock()
	if !s.register(c) {
		r.f.forgetEntry(r)
		s.tcpFwd.acceptFails.Add(1)
		if s.closed.Load() {
			return nil, opError("accept", r.local, r.remote, net.ErrClosed)
		}
		return nil, opError("accept", r.local, r.remote, errAddrInUse)
	}
	// The connection owns the 4-tuple now: the client's retransmitted
	// SYNs reach it, not the forwarder.
	r.f.forgetEntry(r)
	s.ctr.passive.Add(1)
	now := s.now()
	iss := r.iss
	if iss == 0 {
		iss = s.isn.ISN(c.key.local, c.key.remote, now)
	}
	c.tcb.Listen(iss)
	c.tcb.Input(&r.syn, now)
	c.pollNow()
	if err := c.awaitEstablished(ctx, "accept"); err != nil {
		s.tcpFwd.acceptFails.Add(1)
		return nil, err
	}
	s.tcpFwd.accepted.Add(1)
	return c, nil
}

// Refuse answers the SYN with a RST, from LocalAddr: the client's connect
// fails with ECONNREFUSED. A request a cookie opened is reset. The
// request is forgotten: a SYN the client sends again (the RST was lost) is
// a new request.
func (r *TCPRequest) Refuse() {
	if !r.decide(false) {
		return
	}
	s := r.f.s
	s.tcpFwd.refused.Add(1)
	if c := r.conn; c != nil {
		c.abort()
		return
	}
	tx := s.batches.get()
	if tcp.ReplyRST(&r.syn, &tx.scratch) {
		tx.to(r.local.Addr(), r.remote.Addr())
		tx.Emit(&tx.scratch)
	}
	s.batches.put(tx)
}

// Unreachable answers the SYN with an ICMP destination unreachable error
// for why, from LocalAddr, quoting the client's SYN: its connect fails
// with ENETUNREACH, EHOSTUNREACH or EACCES as it would have against a
// router that said so (soft errors, net and host unreachable, end it when
// its SYN retries run out on some systems, at once on Linux). The errors
// share the stack's ICMP rate limit (1000 a second). A request a cookie
// opened is reset instead: the client saw its handshake succeed. The
// request is forgotten: a SYN the client sends again (one that takes net
// and host unreachable as soft errors, RFC 1122 §4.2.3.9, retries) is a
// new request, as a router answers each packet.
func (r *TCPRequest) Unreachable(why Unreachable) {
	if !r.decide(false) {
		return
	}
	s := r.f.s
	s.tcpFwd.unreachable.Add(1)
	if c := r.conn; c != nil {
		c.abort()
		return
	}
	ip := wire.IPPacket{Src: r.remote.Addr(), Dst: r.local.Addr(), Protocol: wire.ProtoTCP, Payload: r.pkt[r.ipHdr:]}
	tx := s.batches.get()
	s.icmpUnreachable(r.pkt, &ip, why, tx)
	s.batches.put(tx)
}

// Ignore sends nothing: the client retries and times out, as against a
// destination that drops its packets. Its retransmitted SYNs are absorbed
// for about two minutes, not handed to the handler again. A request a
// cookie opened is reset instead.
func (r *TCPRequest) Ignore() {
	if !r.decide(true) {
		return
	}
	s := r.f.s
	s.tcpFwd.ignored.Add(1)
	if c := r.conn; c != nil {
		c.abort()
		return
	}
	// The entry stays until r.expire, absorbing the client's SYNs.
}

// forgetEntry removes r's entry, kept while Accept made its connection.
func (f *TCPForwarder) forgetEntry(r *TCPRequest) {
	pk := flowKey{r.local, r.remote}.packed()
	f.mu.Lock()
	if f.pending[pk] == r {
		delete(f.pending, pk)
	}
	f.mu.Unlock()
}
