package script

import (
	"net/netip"
	"time"
)

// Target is a TCP stack a script runs against: synack's on a virtual clock
// (NewSynackTarget) or the Linux kernel's in real time (NewKernelTarget).
//
// The interpreter calls Target from one goroutine, except Sockets methods
// that it runs through Go, which may block and run concurrently with the
// rest.
type Target interface {
	Sockets

	// Start prepares the stack for a run with cfg and the script's setup
	// (its sysctls). It returns the sysctls the target ignores, so that
	// the runner can list them. The run's clock starts at 0 when Start
	// returns.
	Start(cfg *Config, setup *Setup) (ignored []string, err error)

	// Now is the time since Start, or since the last ZeroClock, on the
	// target's clock.
	Now() time.Duration

	// ZeroClock makes now the run's time 0: the runner calls it after the
	// init command, right before the first event.
	ZeroClock()

	// Wait lets time pass until the clock reads until, or less if the
	// stack sends a packet or a call started with Go returns first. It
	// returns at once if such a thing happened since the last Wait.
	Wait(until time.Duration)

	// Inject hands the stack one IP packet as if it came from the link.
	Inject(pkt []byte) error

	// Sent returns the packets the stack has sent since the last call,
	// oldest first, each with the time it was sent.
	Sent() []SentPacket

	// Go runs fn in the background: a system call that may block.
	Go(fn func())

	// Stop ends the run and releases everything the target made.
	Stop() error
}

// SentPacket is an IP packet the stack sent, and when.
type SentPacket struct {
	At  time.Duration
	Pkt []byte
}

// Sockets are the system calls of a script, with Linux's semantics and
// numbers. File descriptors are the target's own. Errors are
// syscall.Errno values (Linux numbers) or nil.
type Sockets interface {
	Socket(domain, typ, proto int) (int, error)
	Bind(fd int, addr netip.AddrPort) error
	Listen(fd, backlog int) error
	Accept(fd int) (int, error)
	Connect(fd int, addr netip.AddrPort) error
	// Recv reads up to n bytes (discarded) with MSG_* flags.
	Recv(fd, n, flags int) (int, error)
	// Send writes n zero bytes with MSG_* flags.
	Send(fd, n, flags int) (int, error)
	Close(fd int) error
	Shutdown(fd, how int) error
	Fcntl(fd, cmd, arg int) (int, error)
	// Ioctl runs a request whose argument is an int the kernel fills in
	// (SIOCINQ, SIOCOUTQ) and returns it.
	Ioctl(fd, req int) (int, error)
	// Poll waits for events as poll(2) does; a negative timeout waits
	// forever.
	Poll(fds []PollFD, timeout time.Duration) (int, error)
	SetsockoptInt(fd, level, name, val int) error
	GetsockoptInt(fd, level, name int) (int, error)
	// SetsockoptBytes and GetsockoptBytes pass other values: strings
	// (TCP_CONGESTION) and structs (SO_LINGER) in Linux's layout.
	SetsockoptBytes(fd, level, name int, val []byte) error
	GetsockoptBytes(fd, level, name, size int) ([]byte, error)
	// TCPInfo returns the fields of Linux's struct tcp_info by name,
	// without the tcpi_ prefix ("snd_cwnd").
	TCPInfo(fd int) (map[string]int64, error)
}

// PollFD is one entry of poll(2)'s array.
type PollFD struct {
	FD      int
	Events  int16
	Revents int16
}
