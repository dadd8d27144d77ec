// Package script runs scripts in the packetdrill dialect against a TCP
// stack: synack's, on a virtual clock, or the Linux kernel's, through a
// TUN device in a network namespace of its own, in real time.
package script
