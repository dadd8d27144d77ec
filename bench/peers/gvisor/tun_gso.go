package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// gVisor on a TUN device with the kernel's offloads, as tailscale sets it
// up on Linux (wgengine/netstack over wireguard-go's tun): gVisor's own
// GSO path (HostGSOSupported) hands out TCP packets of up to 64 KiB with a
// partial checksum, which go to the kernel behind a virtio-net header; the
// kernel's large packets come back whole, their checksums trusted. gVisor's
// fdbased endpoint offers host GSO only on packet sockets with an Ethernet
// header, so the endpoint here is tailscale's shape: a channel endpoint
// with GSO on and a goroutine each way.

// virtio-net header values (<linux/virtio_net.h>) and the TUN offloads.
const (
	vnetHdrLen      = 10
	vnetNeedsCsum   = 1
	vnetGSOTCPv4    = 1
	vnetGSOTCPv6    = 4
	tunFCsum        = 0x01
	tunFTSO4        = 0x02
	tunFTSO6        = 0x04
	gsoMaxPacket    = 65535 // tailscale's GSOMaxSize: 64 KiB, not channel's 32 KiB
	tunReadBufBytes = vnetHdrLen + 65535
)

// openTUN opens the TUN device name with IFF_NO_PI and extra flags
// (IFF_VNET_HDR, IFF_MULTI_QUEUE), blocking, and returns its descriptor.
func openTUN(name string, extra uint16) (int, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	ifr, err := unix.NewIfreq(name)
	if err == nil {
		ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI | extra)
		err = unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr)
	}
	if err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("TUNSETIFF %s: %w", name, err)
	}
	return fd, nil
}

// gsoEndpoint is a channel endpoint with host GSO and a 64 KiB GSO size.
type gsoEndpoint struct {
	*channel.Endpoint
}

// GSOMaxSize implements stack.GSOEndpoint: 64 KiB.
func (*gsoEndpoint) GSOMaxSize() uint32 { return gsoMaxPacket }

// gsoTUN moves packets between a gsoEndpoint and a TUN descriptor with
// virtio-net headers.
type gsoTUN struct {
	fd     int
	f      *os.File
	ep     *gsoEndpoint
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// newGSOTUN sets up the offloads on fd (opened with IFF_VNET_HDR) and
// starts the two goroutines.
func newGSOTUN(fd int, mtu int) (*gsoTUN, error) {
	hdr := vnetHdrLen
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TUNSETVNETHDRSZ, uintptr(unsafe.Pointer(&hdr))); errno != 0 {
		return nil, fmt.Errorf("TUNSETVNETHDRSZ: %w", errno)
	}
	if err := unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, tunFCsum|tunFTSO4|tunFTSO6); err != nil {
		return nil, fmt.Errorf("TUNSETOFFLOAD: %w", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil { // in Go's poller: Close ends a read
		return nil, err
	}
	ch := channel.New(queueLen, uint32(mtu), "")
	ch.SupportedGSOKind = stack.HostGSOSupported
	ch.LinkEPCapabilities = stack.CapabilityRXChecksumOffload
	ctx, cancel := context.WithCancel(context.Background())
	t := &gsoTUN{fd: fd, f: os.NewFile(uintptr(fd), "tun"), ep: &gsoEndpoint{ch}, cancel: cancel}
	t.wg.Add(2)
	go t.out(ctx)
	go t.in()
	return t, nil
}

// out writes what the stack sends to the device, each packet behind its
// virtio-net header, built from gVisor's GSO metadata as fdbased builds it
// (but without an Ethernet header in front).
func (t *gsoTUN) out(ctx context.Context) {
	defer t.wg.Done()
	var hdr [vnetHdrLen]byte
	iov := make([][]byte, 0, 8)
	for {
		pkt := t.ep.ReadContext(ctx)
		if pkt == nil {
			return
		}
		clear(hdr[:])
		if g := pkt.GSOOptions; g.Type != stack.GSONone {
			binary.NativeEndian.PutUint16(hdr[2:], uint16(pkt.HeaderSize()))
			if g.NeedsCsum {
				hdr[0] = vnetNeedsCsum
				binary.NativeEndian.PutUint16(hdr[6:], g.L3HdrLen)
				binary.NativeEndian.PutUint16(hdr[8:], g.CsumOffset)
			}
			if uint16(pkt.Data().Size()) > g.MSS {
				hdr[1] = vnetGSOTCPv4
				if g.Type == stack.GSOTCPv6 {
					hdr[1] = vnetGSOTCPv6
				}
				binary.NativeEndian.PutUint16(hdr[4:], g.MSS)
			}
		}
		iov = append(iov[:0], hdr[:])
		iov = append(iov, pkt.AsSlices()...)
		unix.Writev(t.fd, iov) // a refused packet is lost, as on a wire
		pkt.DecRef()
	}
}

// in reads the device, one packet per read, and hands each to the stack,
// the kernel's large TCP packets whole. The kernel's checksums are trusted
// (CapabilityRXChecksumOffload, as fdbased's RXChecksumOffload): its own
// packets carry partial ones.
func (t *gsoTUN) in() {
	defer t.wg.Done()
	buf := make([]byte, tunReadBufBytes)
	for {
		n, err := t.f.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrClosed) || errors.Is(err, unix.EBADFD) {
				return
			}
			continue
		}
		if n <= vnetHdrLen || buf[vnetHdrLen]>>4 != 4 {
			continue
		}
		pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{
			Payload: buffer.MakeWithData(append([]byte(nil), buf[vnetHdrLen:n]...)),
		})
		t.ep.InjectInbound(ipv4.ProtocolNumber, pkt)
		pkt.DecRef()
	}
}

// Close stops both goroutines and closes the descriptor.
func (t *gsoTUN) Close() error {
	t.cancel()
	err := t.f.Close()
	t.wg.Wait()
	t.ep.Close()
	return err
}
