// Package udp holds the sans-IO parts of synack's UDP (RFC 768): a socket's
// receive queue of datagrams, bounded in bytes, and the idle timer of a
// forwarded flow with a NAT's timeouts. The sockets themselves (blocking
// reads, deadlines, errors as package net has them) are package synack's
// UDPConn; datagrams are read and written with package wire.
//
// Like package tcp, nothing here starts a goroutine, reads a clock or does
// I/O; the types are not safe for concurrent use unless they say so.
package udp
