//go:build linux

package tun

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// SetUp brings the device up (IFF_UP), so that the kernel routes packets
// into it and accepts the packets WriteBatch gives it. It may be called from
// any goroutine: the request goes to the namespace the device was opened in.
// Errors wrap the kernel's errno; after Close it returns net.ErrClosed.
func (d *Device) SetUp() error {
	if err := d.nl.setUp(d.index); err != nil {
		return fmt.Errorf("tun: bringing %s up: %w", d.name, err)
	}
	return nil
}

// AddHostAddr gives the kernel's side of the link the address p.Addr(), as
// `ip addr add p dev NAME` would, and with it a route to p's subnet through
// the device. The stack owns other addresses of that subnet (10.77.0.2/24
// beside a host address of 10.77.0.1/24). An IPv6 address is added without
// duplicate address detection (IFA_F_NODAD, RFC 4862 §5.4): no other host
// shares a TUN link, and the address is usable at once instead of after a
// second of tentative state. Adding an address the device already has
// succeeds. It may be called from any goroutine; after Close it returns
// net.ErrClosed.
func (d *Device) AddHostAddr(p netip.Prefix) error {
	a := p.Addr().Unmap()
	if !p.IsValid() || a.IsUnspecified() || a.Zone() != "" || (a.Is4() && p.Bits() > 32) {
		return fmt.Errorf("tun: invalid host address %v", p)
	}
	if err := d.nl.addAddr(d.index, netip.PrefixFrom(a, p.Bits())); err != nil {
		return fmt.Errorf("tun: adding %v to %s: %w", p, d.name, err)
	}
	return nil
}

// rtnl is a route netlink socket (rtnetlink(7)). It acts in the network
// namespace it was opened in, whichever thread later uses it, which is how a
// Device opened inside a namespace is configured from anywhere. It is safe
// for concurrent use: one request at a time.
type rtnl struct {
	mu  sync.Mutex
	fd  int // -1 once closed
	seq uint32
	buf []byte // receive buffer
}

// rtnlTimeout bounds the wait for the kernel's answer; it always answers a
// request with NLM_F_ACK, so this only guards against a wedged kernel.
const rtnlTimeout = 5 // seconds

// openRtnl opens a route netlink socket in the calling thread's namespace.
func openRtnl() (*rtnl, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	tv := unix.Timeval{Sec: rtnlTimeout}
	if err = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err == nil {
		err = unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
	}
	if err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("netlink", err)
	}
	return &rtnl{fd: fd, buf: make([]byte, 1<<16)}, nil
}

func (r *rtnl) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fd >= 0 {
		unix.Close(r.fd)
		r.fd = -1
	}
}

// getLink returns the index and MTU of the interface called name.
func (r *rtnl) getLink(name string) (index, mtu int, err error) {
	m := newNlmsg(unix.RTM_GETLINK, 0, ifinfomsg(0, 0, 0))
	m.attr(unix.IFLA_IFNAME, append([]byte(name), 0))
	reply, err := r.do(m)
	if err != nil {
		return 0, 0, err
	}
	if len(reply) < unix.SizeofIfInfomsg {
		return 0, 0, errors.New("short RTM_NEWLINK reply")
	}
	index = int(int32(binary.NativeEndian.Uint32(reply[4:8])))
	for typ, val := range attrs(reply[unix.SizeofIfInfomsg:]) {
		if typ == unix.IFLA_MTU && len(val) >= 4 {
			mtu = int(binary.NativeEndian.Uint32(val))
		}
	}
	if mtu == 0 {
		return 0, 0, errors.New("RTM_NEWLINK reply without IFLA_MTU")
	}
	return index, mtu, nil
}

// setMTU sets interface index's MTU.
func (r *rtnl) setMTU(index, mtu int) error {
	m := newNlmsg(unix.RTM_NEWLINK, 0, ifinfomsg(index, 0, 0))
	m.attr(unix.IFLA_MTU, binary.NativeEndian.AppendUint32(nil, uint32(mtu)))
	_, err := r.do(m)
	return err
}

// setUp sets IFF_UP on interface index.
func (r *rtnl) setUp(index int) error {
	_, err := r.do(newNlmsg(unix.RTM_NEWLINK, 0, ifinfomsg(index, unix.IFF_UP, unix.IFF_UP)))
	return err
}

// addAddr adds p to interface index, replacing it if present.
func (r *rtnl) addAddr(index int, p netip.Prefix) error {
	family, flags := byte(unix.AF_INET), uint32(0)
	if p.Addr().Is6() {
		family, flags = unix.AF_INET6, unix.IFA_F_NODAD
	}
	body := make([]byte, unix.SizeofIfAddrmsg)
	body[0] = family
	body[1] = byte(p.Bits())
	body[2] = byte(flags) // ifa_flags holds the low 8 bits; IFA_FLAGS all 32
	body[3] = unix.RT_SCOPE_UNIVERSE
	binary.NativeEndian.PutUint32(body[4:], uint32(index))
	m := newNlmsg(unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_REPLACE, body)
	addr := p.Addr().AsSlice()
	m.attr(unix.IFA_LOCAL, addr)
	m.attr(unix.IFA_ADDRESS, addr)
	m.attr(unix.IFA_FLAGS, binary.NativeEndian.AppendUint32(nil, flags))
	_, err := r.do(m)
	return err
}

// do sends m with NLM_F_ACK and waits for the kernel's answer. It returns
// the body of the reply message a GET request gets (nil for others), or
// the errno the kernel's acknowledgement carries.
func (r *rtnl) do(m *nlmsg) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fd < 0 {
		return nil, net.ErrClosed
	}
	r.seq++
	seq := r.seq
	b := m.finish(seq)
	if err := unix.Sendto(r.fd, b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, os.NewSyscallError("sendto", err)
	}
	var reply []byte
	for {
		n, from, err := unix.Recvfrom(r.fd, r.buf, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, os.NewSyscallError("recvfrom", err)
		}
		if sa, ok := from.(*unix.SockaddrNetlink); !ok || sa.Pid != 0 {
			continue // only the kernel answers
		}
		for h, data := range messages(r.buf[:n]) {
			if h.seq != seq {
				continue
			}
			if h.typ != unix.NLMSG_ERROR {
				if reply == nil {
					reply = append([]byte(nil), data...)
				}
				continue
			}
			if len(data) < 4 {
				return nil, errors.New("short netlink acknowledgement")
			}
			if code := int32(binary.NativeEndian.Uint32(data)); code != 0 {
				return nil, unix.Errno(-code)
			}
			return reply, nil
		}
	}
}

// nlmsg is a netlink request being built: header, fixed body, attributes.
type nlmsg struct {
	b []byte
}

// newNlmsg starts a request of type typ with flags (besides NLM_F_REQUEST
// and NLM_F_ACK) and the fixed body.
func newNlmsg(typ uint16, flags uint16, body []byte) *nlmsg {
	b := make([]byte, unix.SizeofNlMsghdr, 128)
	binary.NativeEndian.PutUint16(b[4:], typ)
	binary.NativeEndian.PutUint16(b[6:], flags|unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	return &nlmsg{b: append(b, body...)}
}

// attr appends a route attribute, padded to 4 bytes (RTA_ALIGN).
func (m *nlmsg) attr(typ uint16, val []byte) {
	m.b = binary.NativeEndian.AppendUint16(m.b, uint16(unix.SizeofRtAttr+len(val)))
	m.b = binary.NativeEndian.AppendUint16(m.b, typ)
	m.b = append(m.b, val...)
	for len(m.b)%4 != 0 {
		m.b = append(m.b, 0)
	}
}

// finish fills in the header's length and sequence number.
func (m *nlmsg) finish(seq uint32) []byte {
	binary.NativeEndian.PutUint32(m.b[0:], uint32(len(m.b)))
	binary.NativeEndian.PutUint32(m.b[8:], seq)
	return m.b
}

// ifinfomsg encodes struct ifinfomsg (rtnetlink(7)) for interface index.
func ifinfomsg(index int, flags, change uint32) []byte {
	b := make([]byte, unix.SizeofIfInfomsg)
	b[0] = unix.AF_UNSPEC
	binary.NativeEndian.PutUint32(b[4:], uint32(index))
	binary.NativeEndian.PutUint32(b[8:], flags)
	binary.NativeEndian.PutUint32(b[12:], change)
	return b
}

// nlhdr is what do needs of a struct nlmsghdr.
type nlhdr struct {
	typ uint16
	seq uint32
}

// messages iterates over the netlink messages in b, yielding each one's
// header and body, and stopping at the first malformed one.
func messages(b []byte) func(yield func(nlhdr, []byte) bool) {
	return func(yield func(nlhdr, []byte) bool) {
		for len(b) >= unix.SizeofNlMsghdr {
			l := int(binary.NativeEndian.Uint32(b))
			if l < unix.SizeofNlMsghdr || l > len(b) {
				return
			}
			h := nlhdr{typ: binary.NativeEndian.Uint16(b[4:]), seq: binary.NativeEndian.Uint32(b[8:])}
			if !yield(h, b[unix.SizeofNlMsghdr:l]) {
				return
			}
			b = b[min((l+3)&^3, len(b)):]
		}
	}
}

// attrs iterates over the route attributes in b, stopping at the first
// malformed one.
func attrs(b []byte) func(yield func(uint16, []byte) bool) {
	return func(yield func(uint16, []byte) bool) {
		for len(b) >= unix.SizeofRtAttr {
			l := int(binary.NativeEndian.Uint16(b))
			typ := binary.NativeEndian.Uint16(b[2:])
			if l < unix.SizeofRtAttr || l > len(b) {
				return
			}
			if !yield(typ&^unix.NLA_F_NESTED, b[unix.SizeofRtAttr:l]) {
				return
			}
			b = b[min((l+3)&^3, len(b)):]
		}
	}
}
