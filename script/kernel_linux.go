//go:build linux

package script

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/synack-go/synack/internal/netns"
	"github.com/synack-go/synack/link/tun"
)

// kernelTarget runs a script against the Linux kernel's TCP, as packetdrill
// does: in a network namespace made for the run, the kernel owns the local
// address on a TUN device whose other end is the script. Sockets are real
// kernel sockets made in the namespace; time is real.
type kernelTarget struct {
	ns    *netns.NS
	dev   *tun.Device
	start time.Time
	cfg   *Config

	notify chan struct{} // a packet arrived or a call returned
	mu     sync.Mutex
	sent   []SentPacket
	fds    map[int]bool // every fd the run opened, closed by Stop
	// socketReq carries socket(2) calls to a goroutine whose thread stays
	// in the namespace: making a thread enter it for each call would cost
	// milliseconds on a busy machine, which a script's timing sees.
	socketReq chan socketCall
	cc        string // congestion control set on each new socket, when the namespace's default could not be
	done      chan struct{}
}

// NewKernelTarget returns a target that runs scripts against the Linux
// kernel. Start needs root (it makes a network namespace and a TUN
// device) and fails with a clear error otherwise; see KernelUnavailable.
func NewKernelTarget() Target {
	return &kernelTarget{notify: make(chan struct{}, 1), fds: make(map[int]bool), done: make(chan struct{})}
}

// KernelUnavailable says why the kernel target cannot run here, or "".
func KernelUnavailable() string {
	if err := netns.Available(); err != nil {
		return err.Error()
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		return "needs /dev/net/tun"
	}
	return ""
}

func (k *kernelTarget) Start(cfg *Config, setup *Setup) ([]string, error) {
	k.cfg = cfg
	ns, err := netns.Add("synack-script-")
	if err != nil {
		return nil, err
	}
	k.ns = ns
	var ignored []string
	err = ns.Do(func() error {
		for _, s := range settings(setup) {
			why := writeSysctl(s)
			if why != "" && s.Name == "net.ipv4.tcp_congestion_control" {
				// Only the host's namespace may make a restricted
				// algorithm (one not in tcp_allowed_congestion_control)
				// the default; root may still set it per socket.
				k.cc, why = s.Value, ""
			}
			if why != "" {
				ignored = append(ignored, why)
			}
		}
		dev, err := tun.Open("pkt0", tun.Config{MTU: cfg.MTU})
		if err != nil {
			return err
		}
		k.dev = dev
		if cfg.LocalIP.Is4() {
			// No IPv6 chatter (router solicitations, MLD) on the link.
			writeSysctl(Sysctl{Name: "net.ipv6.conf.pkt0.disable_ipv6", Value: "1"})
		} else {
			writeSysctl(Sysctl{Name: "net.ipv6.conf.pkt0.router_solicitations", Value: "0"})
			writeSysctl(Sysctl{Name: "net.ipv6.conf.pkt0.accept_dad", Value: "0"})
		}
		return nil
	})
	if err != nil {
		return ignored, err
	}
	bits := 16
	if cfg.LocalIP.Is6() {
		bits = 64
	}
	if err := k.dev.AddHostAddr(netip.PrefixFrom(cfg.LocalIP, bits)); err != nil {
		return ignored, err
	}
	if err := k.dev.SetUp(); err != nil {
		return ignored, err
	}
	fam := "-4"
	if cfg.LocalIP.Is6() {
		fam = "-6"
	}
	if err := ns.IP(fam, "route", "add", "default", "dev", "pkt0"); err != nil {
		return ignored, err
	}
	k.socketReq = make(chan socketCall)
	inNS := make(chan error, 1)
	go k.socketLoop(inNS)
	if err := <-inNS; err != nil {
		return ignored, err
	}
	k.start = time.Now()
	go k.readLoop()
	return ignored, nil
}

// socketCall is one socket(2) call for socketLoop.
type socketCall struct {
	domain, typ, proto int
	reply              chan socketResult
}

type socketResult struct {
	fd  int
	err error
}

// socketLoop makes sockets inside the namespace until Stop closes
// socketReq. Its thread enters the namespace for good: it never runs
// anything else, and it exits locked, so the runtime discards the thread.
func (k *kernelTarget) socketLoop(ready chan<- error) {
	runtime.LockOSThread()
	fd, err := unix.Open(k.ns.Path(), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err == nil {
		err = unix.Setns(fd, unix.CLONE_NEWNET)
		unix.Close(fd)
	}
	ready <- err
	if err != nil {
		return
	}
	for c := range k.socketReq {
		fd, err := unix.Socket(c.domain, c.typ, c.proto)
		c.reply <- socketResult{fd, err}
	}
}

// writeSysctl writes one setting in the calling thread's namespace; it
// returns why it was not applied, or "".
func writeSysctl(s Sysctl) string {
	path := "/proc/sys/" + strings.ReplaceAll(s.Name, ".", "/")
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Sprintf("%s=%s: no such sysctl in a network namespace (%s)", s.Name, s.Value, where(s))
		}
		return fmt.Sprintf("%s=%s: %v (%s)", s.Name, s.Value, err, where(s))
	}
	defer f.Close()
	if _, err := f.WriteString(s.Value + "\n"); err != nil {
		return fmt.Sprintf("%s=%s: %v (%s)", s.Name, s.Value, err, where(s))
	}
	return ""
}

// readLoop collects what the kernel sends on the TUN device.
func (k *kernelTarget) readLoop() {
	bufs := make([][]byte, 64)
	sizes := make([]int, 64)
	for i := range bufs {
		bufs[i] = make([]byte, 65536)
	}
	for {
		n, err := k.dev.ReadBatch(bufs, sizes)
		if err != nil {
			close(k.done)
			return
		}
		k.mu.Lock()
		at := time.Since(k.start)
		for i := range n {
			k.sent = append(k.sent, SentPacket{At: at, Pkt: append([]byte(nil), bufs[i][:sizes[i]]...)})
		}
		k.mu.Unlock()
		k.signal()
	}
}

func (k *kernelTarget) signal() {
	select {
	case k.notify <- struct{}{}:
	default:
	}
}

func (k *kernelTarget) Now() time.Duration { return time.Since(k.start) }

func (k *kernelTarget) ZeroClock() {
	now := time.Now()
	shift := now.Sub(k.start)
	k.mu.Lock()
	k.start = now
	for i := range k.sent {
		k.sent[i].At -= shift
	}
	k.mu.Unlock()
}

func (k *kernelTarget) Wait(until time.Duration) {
	d := until - k.Now()
	if d <= 0 {
		select {
		case <-k.notify:
		default:
		}
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-k.notify:
	case <-t.C:
	}
}

func (k *kernelTarget) Inject(pkt []byte) error { return k.dev.WriteBatch([][]byte{pkt}) }

func (k *kernelTarget) Sent() []SentPacket {
	k.mu.Lock()
	defer k.mu.Unlock()
	s := k.sent
	k.sent = nil
	return s
}

func (k *kernelTarget) Go(fn func()) {
	go func() {
		fn()
		k.signal()
	}()
}

// Command runs a script's shell command inside the namespace.
func (k *kernelTarget) Command(text string) *exec.Cmd {
	return k.ns.Command("sh", "-c", text)
}

func (k *kernelTarget) Stop() error {
	k.mu.Lock()
	fds := k.fds
	k.fds = map[int]bool{}
	k.mu.Unlock()
	// Shut down first: it wakes calls still blocked in the kernel, which
	// close alone does not.
	for fd := range fds {
		unix.Shutdown(fd, unix.SHUT_RDWR)
		unix.Close(fd)
	}
	var errs []error
	if k.socketReq != nil {
		close(k.socketReq)
	}
	if k.dev != nil {
		k.dev.Close()
		<-k.done
	}
	if k.ns != nil {
		errs = append(errs, k.ns.Delete())
	}
	return errors.Join(errs...)
}

func (k *kernelTarget) track(fd int) {
	k.mu.Lock()
	k.fds[fd] = true
	k.mu.Unlock()
}

// errno returns err as a syscall.Errno when it is one (nil stays nil).
func errno(err error) error {
	var en syscall.Errno
	if errors.As(err, &en) {
		return en
	}
	return err
}

func (k *kernelTarget) Socket(domain, typ, proto int) (int, error) {
	reply := make(chan socketResult, 1)
	k.socketReq <- socketCall{domain, typ, proto, reply}
	r := <-reply
	fd, err := r.fd, r.err
	if err != nil {
		return -1, errno(err)
	}
	k.track(fd)
	if k.cc != "" && typ&0xf == unix.SOCK_STREAM {
		if err := unix.SetsockoptString(fd, unix.IPPROTO_TCP, unix.TCP_CONGESTION, k.cc); err != nil {
			return -1, fmt.Errorf("setting congestion control %s: %w", k.cc, err)
		}
	}
	return fd, nil
}

func sockaddr(a netip.AddrPort) unix.Sockaddr {
	if a.Addr().Is4() {
		return &unix.SockaddrInet4{Port: int(a.Port()), Addr: a.Addr().As4()}
	}
	return &unix.SockaddrInet6{Port: int(a.Port()), Addr: a.Addr().As16()}
}

func (k *kernelTarget) Bind(fd int, a netip.AddrPort) error {
	return errno(unix.Bind(fd, sockaddr(a)))
}

func (k *kernelTarget) Listen(fd, backlog int) error { return errno(unix.Listen(fd, backlog)) }

func (k *kernelTarget) Accept(fd int) (int, error) {
	for {
		nfd, _, err := unix.Accept(fd)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return -1, errno(err)
		}
		k.track(nfd)
		return nfd, nil
	}
}

func (k *kernelTarget) Connect(fd int, a netip.AddrPort) error {
	err := unix.Connect(fd, sockaddr(a))
	return errno(err)
}

func (k *kernelTarget) Recv(fd, n, flags int) (int, error) {
	buf := make([]byte, n)
	for {
		m, _, err := unix.Recvfrom(fd, buf, flags)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return -1, errno(err)
		}
		return m, nil
	}
}

func (k *kernelTarget) Send(fd, n, flags int) (int, error) {
	buf := make([]byte, n)
	for {
		m, err := unix.SendmsgN(fd, buf, nil, nil, flags|unix.MSG_NOSIGNAL)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return -1, errno(err)
		}
		return m, nil
	}
}

func (k *kernelTarget) Close(fd int) error {
	k.mu.Lock()
	delete(k.fds, fd)
	k.mu.Unlock()
	return errno(unix.Close(fd))
}

func (k *kernelTarget) Shutdown(fd, how int) error { return errno(unix.Shutdown(fd, how)) }

func (k *kernelTarget) Fcntl(fd, cmd, arg int) (int, error) {
	v, err := unix.FcntlInt(uintptr(fd), cmd, arg)
	return v, errno(err)
}

func (k *kernelTarget) Ioctl(fd, req int) (int, error) {
	v, err := unix.IoctlGetInt(fd, uint(req))
	return v, errno(err)
}

func (k *kernelTarget) Poll(fds []PollFD, timeout time.Duration) (int, error) {
	pfds := make([]unix.PollFd, len(fds))
	for i, f := range fds {
		pfds[i] = unix.PollFd{Fd: int32(f.FD), Events: f.Events}
	}
	ms := -1
	if timeout >= 0 {
		ms = int(timeout / time.Millisecond)
	}
	for {
		n, err := unix.Poll(pfds, ms)
		if err == unix.EINTR {
			continue
		}
		for i := range fds {
			fds[i].Revents = pfds[i].Revents
		}
		return n, errno(err)
	}
}

func (k *kernelTarget) SetsockoptInt(fd, level, name, val int) error {
	return errno(unix.SetsockoptInt(fd, level, name, val))
}

func (k *kernelTarget) GetsockoptInt(fd, level, name int) (int, error) {
	v, err := unix.GetsockoptInt(fd, level, name)
	return v, errno(err)
}

func (k *kernelTarget) SetsockoptBytes(fd, level, name int, val []byte) error {
	return errno(unix.SetsockoptString(fd, level, name, string(val)))
}

func (k *kernelTarget) GetsockoptBytes(fd, level, name, size int) ([]byte, error) {
	b := make([]byte, max(size, 1))
	n := uint32(len(b))
	_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), uintptr(level), uintptr(name),
		uintptr(unsafe.Pointer(&b[0])), uintptr(unsafe.Pointer(&n)), 0)
	if e != 0 {
		return nil, e
	}
	return b[:n], nil
}

func (k *kernelTarget) TCPInfo(fd int) (map[string]int64, error) {
	b, err := k.GetsockoptBytes(fd, unix.IPPROTO_TCP, unix.TCP_INFO, 512)
	if err != nil {
		return nil, err
	}
	return decodeTCPInfo(b), nil
}
