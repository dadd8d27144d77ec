package netstack

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"time"
)

// Dial connects to address on network through the tunnel; see
// DialContext.
func (n *Net) Dial(network, address string) (net.Conn, error) {
	return n.DialContext(context.Background(), network, address)
}

// DialContext connects to address on network through the tunnel, as
// net.Dialer.DialContext does, so that it fits http.Transport.DialContext.
// network is "tcp", "udp" or "ping", each optionally with "4" or "6";
// address is "host:port" ("host" alone for ping), host a name (resolved
// with LookupContextHost) or an address. The addresses are tried in turn,
// each with an equal share of what is left of ctx's deadline (2 s at
// least), and the first connection returned: a *synack.Conn, a *UDPConn
// or a *PingConn. Errors are *net.OpError values; the first address's
// error is returned when every one fails.
func (n *Net) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if ctx == nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("nil context")}
	}
	proto, family := network, byte(0)
	if l := len(network); l > 0 && (network[l-1] == '4' || network[l-1] == '6') {
		proto, family = network[:l-1], network[l-1]
	}
	switch proto {
	case "tcp", "udp", "ping":
	default:
		return nil, &net.OpError{Op: "dial", Net: network, Err: net.UnknownNetworkError(network)}
	}
	host, port := address, 0
	if proto != "ping" {
		h, p, err := net.SplitHostPort(address)
		if err != nil {
			return nil, &net.OpError{Op: "dial", Net: network, Err: err}
		}
		pn, err := strconv.ParseUint(p, 10, 16)
		if err != nil {
			return nil, &net.OpError{Op: "dial", Net: network, Err: &net.AddrError{Err: "invalid port", Addr: address}}
		}
		host, port = h, int(pn)
	}
	names, err := n.LookupContextHost(ctx, host)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	var addrs []netip.AddrPort
	for _, s := range names {
		a, err := netip.ParseAddr(s)
		if err != nil || (family == '4' && !a.Is4()) || (family == '6' && !a.Is6()) {
			continue
		}
		addrs = append(addrs, netip.AddrPortFrom(a.Unmap(), uint16(port)))
	}
	if len(addrs) == 0 {
		return nil, &net.OpError{Op: "dial", Net: network, Err: &net.AddrError{Err: "no suitable address found", Addr: host}}
	}
	var firstErr error
	for i, a := range addrs {
		c, err := n.dialOne(ctx, proto, a, len(addrs)-i)
		if err == nil {
			return c, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, firstErr
}

// minDialShare is the least time one of several addresses gets, as
// package net gives it.
const minDialShare = 2 * time.Second

// dialOne dials a on proto with its share of ctx's deadline: what is left
// divided among the remaining addresses.
func (n *Net) dialOne(ctx context.Context, proto string, a netip.AddrPort, remaining int) (net.Conn, error) {
	if d, ok := ctx.Deadline(); ok && remaining > 1 {
		share := time.Until(d) / time.Duration(remaining)
		if share < minDialShare {
			share = min(minDialShare, time.Until(d))
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, share)
		defer cancel()
	}
	switch proto {
	case "tcp":
		c, err := n.DialContextTCPAddrPort(ctx, a)
		if err != nil {
			return nil, err
		}
		return c, nil
	case "udp":
		c, err := n.DialUDPAddrPort(netip.AddrPort{}, a)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	c, err := n.DialPingAddr(netip.Addr{}, a.Addr())
	if err != nil {
		return nil, err
	}
	return c, nil
}
