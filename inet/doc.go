// Package inet is synack's network layer: what lies between the link and
// the transport protocols. It validates IPv4 and IPv6 packets and says which
// protocol gets each one, reassembles IP fragments (RFC 791, RFC 815, RFC
// 8200 §4.5) and fragments outgoing datagrams larger than the MTU, keeps
// the flow table keyed by protocol and both endpoints (exact flow, bound
// address, wildcard, forwarder), builds the ICMP errors the stack sends
// (port unreachable, rate-limited) and says what an arriving ICMP error
// means and which flow it is about.
//
// Like package tcp it is sans-IO: it starts no goroutine, reads no clock
// (time is the now the caller passes, a duration since the stack started),
// takes no lock and does no I/O. Every type here is owned by one caller at a
// time; the stack above guards each with the lock that fits its use.
//
// # The name
//
// "inet" is BSD's name (netinet/) and Linux's (inet_*, net/ipv4) for this
// layer: IP, ICMP, fragments and the demultiplexing of transport flows. It
// avoids gVisor's package names (network, stack, transport), the standard
// library's net, and ip, which would shadow the natural name of a packet
// variable in every caller.
package inet
