// Package wgpair joins two tun.Devices with a WireGuard tunnel: two
// wireguard-go devices with fresh keys, each allowing the other's tunnel
// addresses, over a conn.Bind each (UDP on the loopback interface unless
// the caller gives others, such as conn/bindtest's in-memory channels).
// The tests and the benchmarks of this module use it; it knows nothing of
// what the devices are.
package wgpair

import (
	"bufio"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun"

	"github.com/synack-go/synack/wireguard/wgconf"
)

// Side is one end of the tunnel.
type Side struct {
	// TUN is the device's packet side: a netstack's tun.Device, or any.
	TUN tun.Device
	// Addrs are this side's tunnel addresses: the other side routes them
	// here (its AllowedIPs).
	Addrs []netip.Addr
	// Bind carries the encrypted packets; nil means conn.NewDefaultBind(),
	// UDP on a free port, the peer reached on 127.0.0.1.
	Bind conn.Bind
}

// Pair is two wireguard-go devices, each the other's only peer.
type Pair struct {
	Devices [2]*device.Device
	Keys    [2]wgconf.Key // the private keys
}

// New brings up a device on each side and points each at the other. A nil
// logger is silent. On failure it closes what it made, the TUNs included
// (wireguard-go's devices own their TUNs).
func New(a, b Side, logger *device.Logger) (_ *Pair, err error) {
	if logger == nil {
		logger = device.NewLogger(device.LogLevelSilent, "")
	}
	sides := [2]Side{a, b}
	p := &Pair{}
	defer func() {
		if err != nil {
			p.Close()
			for i, s := range sides {
				if p.Devices[i] == nil {
					s.TUN.Close()
				}
			}
		}
	}()
	for i := range sides {
		if p.Keys[i], err = wgconf.GenerateKey(); err != nil {
			return nil, err
		}
	}
	var ports [2]string
	for i, s := range sides {
		bind := s.Bind
		if bind == nil {
			bind = conn.NewDefaultBind()
		}
		other := sides[1-i]
		var cfg strings.Builder
		fmt.Fprintf(&cfg, "private_key=%s\nlisten_port=0\nreplace_peers=true\n", p.Keys[i].Hex())
		fmt.Fprintf(&cfg, "public_key=%s\nreplace_allowed_ips=true\n", p.Keys[1-i].PublicKey().Hex())
		for _, ad := range other.Addrs {
			fmt.Fprintf(&cfg, "allowed_ip=%s\n", netip.PrefixFrom(ad, ad.BitLen()))
		}
		d := device.NewDevice(s.TUN, bind, logger)
		p.Devices[i] = d
		if err := d.IpcSet(cfg.String()); err != nil {
			return nil, fmt.Errorf("wgpair: configuring device %d: %w", i, err)
		}
		if err := d.Up(); err != nil {
			return nil, fmt.Errorf("wgpair: bringing device %d up: %w", i, err)
		}
		if ports[i], err = listenPort(d); err != nil {
			return nil, err
		}
	}
	for i, d := range p.Devices {
		cfg := fmt.Sprintf("public_key=%s\nendpoint=127.0.0.1:%s\n", p.Keys[1-i].PublicKey().Hex(), ports[1-i])
		if err := d.IpcSet(cfg); err != nil {
			return nil, fmt.Errorf("wgpair: setting device %d's endpoint: %w", i, err)
		}
	}
	return p, nil
}

// listenPort reads the port a device's bind opened.
func listenPort(d *device.Device) (string, error) {
	get, err := d.IpcGet()
	if err != nil {
		return "", err
	}
	sc := bufio.NewScanner(strings.NewReader(get))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "listen_port="); ok {
			return v, nil
		}
	}
	return "", errors.New("wgpair: the device reports no listen_port")
}

// Close closes both devices and, with them, their TUNs and binds.
func (p *Pair) Close() {
	for _, d := range p.Devices {
		if d != nil {
			d.Close()
		}
	}
}
