// Package dnstest is a tiny authoritative DNS server for tests: it answers
// A and AAAA questions from a table, over TCP (RFC 7766 framing) and UDP,
// on whatever listener or packet connection it is given (a synack one, or
// a kernel socket in a test's network namespace).
package dnstest

import (
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"

	"golang.org/x/net/dns/dnsmessage"
)

// Server answers from Records: a name (without the final dot, any case)
// to its addresses. Names not in the table get NXDOMAIN. Truncate makes
// every UDP answer empty with the TC bit, so that clients must ask again
// over TCP. Queries counts the questions answered, by transport.
type Server struct {
	Records  map[string][]netip.Addr
	Truncate bool

	UDPQueries, TCPQueries atomic.Int64
}

// ServeTCP answers the connections ln accepts until it is closed.
func (s *Server) ServeTCP(ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			for {
				var lb [2]byte
				if _, err := io.ReadFull(c, lb[:]); err != nil {
					return
				}
				q := make([]byte, binary.BigEndian.Uint16(lb[:]))
				if _, err := io.ReadFull(c, q); err != nil {
					return
				}
				a := s.answer(q, false)
				if a == nil {
					return
				}
				s.TCPQueries.Add(1)
				out := binary.BigEndian.AppendUint16(nil, uint16(len(a)))
				if _, err := c.Write(append(out, a...)); err != nil {
					return
				}
			}
		}()
	}
}

// ServeUDP answers the datagrams pc receives until it is closed.
func (s *Server) ServeUDP(pc net.PacketConn) error {
	buf := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return err
		}
		if a := s.answer(buf[:n], s.Truncate); a != nil {
			s.UDPQueries.Add(1)
			pc.WriteTo(a, from)
		}
	}
}

// answer builds the response to the query q, or nil for a message that
// is not a query with one question.
func (s *Server) answer(q []byte, truncate bool) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(q)
	if err != nil || h.Response {
		return nil
	}
	qs, err := p.AllQuestions()
	if err != nil || len(qs) != 1 {
		return nil
	}
	question := qs[0]
	name := strings.ToLower(strings.TrimSuffix(question.Name.String(), "."))
	addrs, known := s.Records[name]
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired}
	switch {
	case truncate:
		rh.Truncated = true
		addrs = nil
	case !known:
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.StartQuestions()
	b.Question(question)
	b.StartAnswers()
	rr := dnsmessage.ResourceHeader{Name: question.Name, Class: dnsmessage.ClassINET, TTL: 60}
	for _, a := range addrs {
		switch {
		case a.Is4() && question.Type == dnsmessage.TypeA:
			b.AResource(rr, dnsmessage.AResource{A: a.As4()})
		case a.Is6() && question.Type == dnsmessage.TypeAAAA:
			b.AAAAResource(rr, dnsmessage.AAAAResource{AAAA: a.As16()})
		}
	}
	out, err := b.Finish()
	if err != nil {
		return nil
	}
	return out
}
