package netstack

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// A small stub resolver (RFC 1035 §7, RFC 1123 §6.1.3.1) that asks the
// servers given to CreateNetTUN through the tunnel: UDP first; TCP when
// the answer is truncated (RFC 7766 §5). It asks
// for A records when the stack has an IPv4 address and AAAA records when
// it has an IPv6 one, both at once, and takes the addresses of the
// answer section (a CNAME's target records come with it from a recursive
// server). No search domains, no hosts file, no cache: names are asked
// as given, as upstream's netstack does.

// dnsAttempts is how many times each server is asked before giving up,
// and dnsTimeout how long one exchange may take (resolv.conf's attempts
// and timeout, as Go's resolver defaults them).
const (
	dnsAttempts = 2
	dnsTimeout  = 5 * time.Second
	dnsPort     = 53
	// dnsUDPSize is the largest answer over UDP without EDNS (RFC 1035
	// §4.2.1); a longer one comes truncated and is asked again over TCP.
	dnsUDPSize = 512
)

var (
	errNoSuchHost       = errors.New("no such host")
	errLameReferral     = errors.New("lame referral")
	errServerFailure    = errors.New("server misbehaving")
	errBadResponse      = errors.New("invalid DNS response")
	errNoDNSServers     = errors.New("no DNS servers")
	errCannotMarshalDNS = errors.New("cannot marshal DNS message")
)

// LookupHost resolves host through the tunnel and returns its addresses
// (IPv6 ones first when the stack has an IPv6 address); see
// LookupContextHost.
func (n *Net) LookupHost(host string) ([]string, error) {
	return n.LookupContextHost(context.Background(), host)
}

// LookupContextHost resolves host through the tunnel, asking the DNS
// servers given to CreateNetTUN, and returns its addresses: IPv6 ones
// first when the stack has an IPv6 address, IPv4 ones first otherwise. An
// IP address is returned as it is. Errors are *net.DNSError values
// (IsNotFound for a name that does not exist or has no address of the
// families asked, IsTimeout when the servers did not answer in time).
func (n *Net) LookupContextHost(ctx context.Context, host string) ([]string, error) {
	if host == "" {
		return nil, &net.DNSError{Err: errNoSuchHost.Error(), Name: host, IsNotFound: true}
	}
	literal := host
	if i := strings.LastIndexByte(host, '%'); i >= 0 && strings.IndexByte(host, ':') >= 0 {
		literal = host[:i] // an IPv6 zone names an interface, of which we have one
	}
	if a, err := netip.ParseAddr(literal); err == nil {
		return []string{a.String()}, nil
	}
	if !isDomainName(host) {
		return nil, &net.DNSError{Err: errNoSuchHost.Error(), Name: host, IsNotFound: true}
	}
	fqdn := host
	if !strings.HasSuffix(fqdn, ".") {
		fqdn += "."
	}
	type lane struct {
		addrs []netip.Addr
		err   error
	}
	var types []dnsmessage.Type
	if n.hasV6 {
		types = append(types, dnsmessage.TypeAAAA)
	}
	if n.hasV4 {
		types = append(types, dnsmessage.TypeA)
	}
	if n.hasV6 && n.hasV4 {
		types[0], types[1] = types[1], types[0] // IPv4 stays second only in the result
	}
	results := make([]chan lane, len(types))
	for i, t := range types {
		results[i] = make(chan lane, 1)
		go func() {
			addrs, err := n.lookupType(ctx, host, fqdn, t)
			results[i] <- lane{addrs, err}
		}()
	}
	var v4, v6 []string
	var firstErr error
	for _, ch := range results {
		l := <-ch
		if l.err != nil && firstErr == nil {
			firstErr = l.err
		}
		for _, a := range l.addrs {
			if a.Is4() {
				v4 = append(v4, a.String())
			} else {
				v6 = append(v6, a.String())
			}
		}
	}
	addrs := append(v4, v6...)
	if n.hasV6 {
		addrs = append(v6, v4...)
	}
	if len(addrs) == 0 {
		if firstErr == nil {
			firstErr = &net.DNSError{Err: errNoSuchHost.Error(), Name: host, IsNotFound: true}
		}
		return nil, firstErr
	}
	return addrs, nil
}

// lookupType asks the servers in turn, dnsAttempts rounds, for the
// records of type t of fqdn, and returns the addresses of the first
// usable answer. A name error or an answer without such records ends the
// search (the name has no address of this family); a server that fails
// or does not answer passes the question to the next.
func (n *Net) lookupType(ctx context.Context, host, fqdn string, t dnsmessage.Type) ([]netip.Addr, error) {
	name, err := dnsmessage.NewName(fqdn)
	if err != nil {
		return nil, &net.DNSError{Err: errCannotMarshalDNS.Error(), Name: host}
	}
	q := dnsmessage.Question{Name: name, Type: t, Class: dnsmessage.ClassINET}
	lastErr := &net.DNSError{Err: errNoDNSServers.Error(), Name: host}
	for range dnsAttempts {
		for _, server := range n.dnsServers {
			if err := ctx.Err(); err != nil {
				return nil, dnsError(host, server, err)
			}
			msg, err := n.exchange(ctx, server, q)
			if err != nil {
				lastErr = dnsError(host, server, err)
				continue
			}
			addrs, err := answerAddrs(msg, t)
			switch {
			case errors.Is(err, errNoSuchHost):
				return nil, &net.DNSError{Err: err.Error(), Name: host, Server: server.String(), IsNotFound: true}
			case err != nil:
				lastErr = dnsError(host, server, err)
				continue
			}
			return addrs, nil
		}
	}
	return nil, lastErr
}

// dnsError describes a failed exchange as package net does.
func dnsError(host string, server netip.Addr, err error) *net.DNSError {
	e := &net.DNSError{Err: err.Error(), Name: host, Server: server.String()}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		e.Err, e.IsTimeout = "i/o timeout", true
	case errors.Is(err, context.Canceled):
		e.Err = "operation was canceled"
	case errors.As(err, &ne) && ne.Timeout():
		e.Err, e.IsTimeout = "i/o timeout", true
	case errors.Is(err, errServerFailure):
		e.IsTemporary = true
	}
	return e
}

// answerAddrs checks an answer's header and returns the addresses of the
// records of type t in its answer section.
func answerAddrs(msg []byte, t dnsmessage.Type) ([]netip.Addr, error) {
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil {
		return nil, errBadResponse
	}
	if err := p.SkipAllQuestions(); err != nil {
		return nil, errBadResponse
	}
	switch h.RCode {
	case dnsmessage.RCodeSuccess:
	case dnsmessage.RCodeNameError:
		return nil, errNoSuchHost
	default:
		return nil, errServerFailure
	}
	var addrs []netip.Addr
	answers := 0
	for {
		rh, err := p.AnswerHeader()
		if errors.Is(err, dnsmessage.ErrSectionDone) {
			break
		}
		if err != nil {
			return nil, errBadResponse
		}
		answers++
		switch {
		case rh.Type == dnsmessage.TypeA && t == dnsmessage.TypeA:
			r, err := p.AResource()
			if err != nil {
				return nil, errBadResponse
			}
			addrs = append(addrs, netip.AddrFrom4(r.A))
		case rh.Type == dnsmessage.TypeAAAA && t == dnsmessage.TypeAAAA:
			r, err := p.AAAAResource()
			if err != nil {
				return nil, errBadResponse
			}
			addrs = append(addrs, netip.AddrFrom16(r.AAAA))
		default:
			if err := p.SkipAnswer(); err != nil {
				return nil, errBadResponse
			}
		}
	}
	if answers == 0 && !h.Authoritative && !h.RecursionAvailable {
		// An empty, non-authoritative answer from a server that does not
		// recurse is a referral, not an answer (Go's resolver says the
		// same).
		return nil, errLameReferral
	}
	if len(addrs) == 0 {
		return nil, errNoSuchHost
	}
	return addrs, nil
}

// exchange sends the question q to server and returns the matching answer:
// over UDP, then over TCP if the answer was truncated.
func (n *Net) exchange(ctx context.Context, server netip.Addr, q dnsmessage.Question) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, dnsTimeout)
	defer cancel()
	var idb [2]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return nil, err
	}
	id := binary.BigEndian.Uint16(idb[:])
	b := dnsmessage.NewBuilder(make([]byte, 2, 2+dnsUDPSize), dnsmessage.Header{ID: id, RecursionDesired: true})
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, errCannotMarshalDNS
	}
	if err := b.Question(q); err != nil {
		return nil, errCannotMarshalDNS
	}
	query, err := b.Finish()
	if err != nil {
		return nil, errCannotMarshalDNS
	}
	binary.BigEndian.PutUint16(query, uint16(len(query)-2)) // the TCP length prefix
	to := netip.AddrPortFrom(server, dnsPort)

	msg, err := n.exchangeUDP(ctx, to, id, q, query[2:])
	if err != nil || !truncated(msg) {
		return msg, err
	}
	return n.exchangeTCP(ctx, to, id, q, query)
}

func truncated(msg []byte) bool {
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	return err == nil && h.Truncated
}

// exchangeUDP sends query in one datagram and waits for the answer that
// matches it, ignoring any other datagram (RFC 5452 §9.1: the ID, the
// source and the question must match).
func (n *Net) exchangeUDP(ctx context.Context, to netip.AddrPort, id uint16, q dnsmessage.Question, query []byte) ([]byte, error) {
	c, err := n.udp.dialUDP(to)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if d, ok := ctx.Deadline(); ok {
		c.SetDeadline(d)
	}
	if _, err := c.Write(query); err != nil {
		return nil, ctxErr(ctx, err)
	}
	buf := make([]byte, dnsUDPSize)
	for {
		m, err := c.Read(buf)
		if err != nil {
			return nil, ctxErr(ctx, err)
		}
		if matches(buf[:m], id, q) {
			return buf[:m], nil
		}
	}
}

// exchangeTCP sends query (with its two-byte length prefix) on a new TCP
// connection and reads one answer (RFC 1035 §4.2.2, RFC 7766).
func (n *Net) exchangeTCP(ctx context.Context, to netip.AddrPort, id uint16, q dnsmessage.Question, query []byte) ([]byte, error) {
	c, err := n.DialContextTCPAddrPort(ctx, to)
	if err != nil {
		return nil, ctxErr(ctx, err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if d, ok := ctx.Deadline(); ok {
		c.SetDeadline(d)
	}
	if _, err := c.Write(query); err != nil {
		return nil, ctxErr(ctx, err)
	}
	var lb [2]byte
	if _, err := io.ReadFull(c, lb[:]); err != nil {
		return nil, ctxErr(ctx, err)
	}
	msg := make([]byte, binary.BigEndian.Uint16(lb[:]))
	if _, err := io.ReadFull(c, msg); err != nil {
		return nil, ctxErr(ctx, err)
	}
	if !matches(msg, id, q) {
		return nil, errBadResponse
	}
	return msg, nil
}

// ctxErr prefers the context's reason when it ended the exchange.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// matches reports whether msg answers the question q sent with id.
func matches(msg []byte, id uint16, q dnsmessage.Question) bool {
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil || !h.Response || h.ID != id {
		return false
	}
	got, err := p.Question()
	if err != nil {
		return false
	}
	return got.Type == q.Type && got.Class == q.Class && strings.EqualFold(got.Name.String(), q.Name.String())
}

// isDomainName reports whether s is a syntactically valid host name (RFC
// 1035 §2.3.1 with RFC 1123 §2.1's leading digits, and underscores, which
// real names carry): labels of 1 to 63 letters, digits, hyphens and
// underscores, not starting or ending with a hyphen, 253 bytes at most
// without the final dot, and not all digits (that would be an address).
func isDomainName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	letters := false
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			switch {
			case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '_', c == '-':
				letters = true
			case '0' <= c && c <= '9':
			default:
				return false
			}
		}
	}
	return letters
}
