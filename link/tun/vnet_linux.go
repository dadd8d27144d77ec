//go:build linux

package tun

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/synack-go/synack/link"
)

// maxPacket is the largest packet with offloads: IPv4's total length limit,
// and what the kernel's TUN device hands over at most (its gso_max_size is
// 64 KiB, headers included).
const maxPacket = 65535

// offloadLadder is what negotiate asks the kernel for, most first: a kernel
// answers EINVAL for a flag it does not know (tun.c's set_offload), so each
// refusal drops the newest offloads. USO arrived in Linux 6.2.
var offloadLadder = [...]uint{
	tunFCsum | tunFTSO4 | tunFTSO6 | tunFUSO4 | tunFUSO6,
	tunFCsum | tunFTSO4 | tunFTSO6,
	tunFCsum,
}

// negotiate sets the virtio-net header's size on the device and asks for
// the offloads of cfg, falling back to fewer when the kernel refuses. It
// returns what was granted; with nothing granted the headers stay (the
// descriptor was opened with them) and carry nothing.
func negotiate(fd, mtu int, cfg Config) (link.Offloads, error) {
	off := link.Offloads{Headroom: link.VirtioNetHdrLen, MaxPacket: mtu}
	if err := unix.IoctlSetPointerInt(fd, unix.TUNSETVNETHDRSZ, link.VirtioNetHdrLen); err != nil {
		return off, fmt.Errorf("TUNSETVNETHDRSZ: %w", err)
	}
	set := cfg.setOffload
	if set == nil {
		set = func(fd int, flags uint) error { return unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, int(flags)) }
	}
	granted := uint(0)
	if cfg.Offload {
		for _, ask := range offloadLadder {
			err := set(fd, ask)
			if err == nil {
				granted = ask
				break
			}
			if !errors.Is(err, unix.EINVAL) {
				return off, fmt.Errorf("TUNSETOFFLOAD: %w", err)
			}
		}
	}
	if granted == 0 {
		// None: and none left over from an earlier user of a persistent
		// device either.
		if err := set(fd, 0); err != nil {
			return off, fmt.Errorf("TUNSETOFFLOAD: %w", err)
		}
		return off, nil
	}
	off.TxChecksum = granted&tunFCsum != 0
	off.TSO4 = granted&tunFTSO4 != 0
	off.TSO6 = granted&tunFTSO6 != 0
	off.USO = granted&(tunFUSO4|tunFUSO6) == tunFUSO4|tunFUSO6
	off.RxCoalesce = off.TSO4 || off.TSO6
	if off.RxCoalesce {
		off.MaxPacket = maxPacket
	}
	return off, nil
}

// plainReader turns what a device with virtio-net headers reads into plain
// packets for ReadBatch (link.Splitter). It is the slow path, for users of
// ReadBatch on an offloading device (a wrapper that hides the offloads);
// the stack reads with ReadPackets.
type plainReader struct {
	buf []byte // one packet as read: header, then packet
	link.Splitter
}

func newPlainReader(d *Device) *plainReader {
	return &plainReader{buf: make([]byte, link.VirtioNetHdrLen+maxPacket)}
}

// load cuts the n bytes just read into buf into segments and returns how
// many; none, keeping nothing, for a packet it cannot make sense of.
func (p *plainReader) load(n int) int {
	if p.Load(p.buf[:n]) != nil {
		return 0
	}
	return p.Segments()
}
