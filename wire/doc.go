// Package wire reads and writes the packet formats synack speaks: IPv4 and
// IPv6 (with the fragment fields and the IPv6 Fragment header), TCP with its
// options, UDP and ICMP (v4 and v6), plus the Internet checksum.
//
// Each format has two shapes, after smoltcp's wire module:
//
//   - a view, a named byte slice such as [TCP], [IPv4] or [IPv6], whose
//     accessors read fields in place;
//   - a plain struct holding the checked meaning, such as [TCPSegment] or
//     [IPPacket], filled by Parse and written back by Emit into a buffer the
//     caller sized with Len.
//
// # No-panic promise
//
// Input from the network is never trusted. A view's Check reports
// [ErrTruncated] or [ErrMalformed] for bytes that do not hold the format;
// after Check returns nil, no accessor of that view panics, whatever the
// bytes are. Accessors of a view that was not checked may panic.
// [TCPSegment.Parse] and [ParseIP] run the checks themselves and return an
// error, never panic, for any input. Emit never panics when handed a buffer of
// at least Len() bytes, whatever the struct holds (for example an out-of-range
// [TCPOptions.NumSACK]).
//
// # Allocation and aliasing
//
// Nothing in this package allocates: parsing reads in place, and parsed
// payloads alias the input buffer (keep the buffer alive and unmodified as
// long as the parsed value is used). Emit writes only into the caller's
// buffer.
//
// The package has no state; all functions and methods are safe for
// concurrent use on distinct buffers.
package wire
