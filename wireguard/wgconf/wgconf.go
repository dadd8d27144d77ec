// Package wgconf reads WireGuard configurations in wg-quick(8)'s format
// and turns them into wireguard-go's UAPI commands (the text
// device.IpcSet takes).
//
//	[Interface]
//	PrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=
//	Address = 10.9.0.2/24, fd09::2/64
//	ListenPort = 51820
//	DNS = 10.9.0.1
//	MTU = 1420
//
//	[Peer]
//	PublicKey = xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=
//	PresharedKey = ...
//	AllowedIPs = 10.9.0.0/24, fd09::/64
//	Endpoint = 192.0.2.1:51820
//	PersistentKeepalive = 25
//
// wg-quick's own keys that configure the host (PreUp, PostUp, PreDown,
// PostDown, Table, SaveConfig) and FwMark mean nothing in userspace and
// are ignored; a DNS entry that is not an address is a search domain for
// wg-quick and is ignored too. Any other key is an error, so a typo does
// not go unnoticed.
package wgconf

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Config is a parsed configuration: one interface and its peers.
type Config struct {
	Interface Interface
	Peers     []Peer
}

// Interface is the [Interface] section.
type Interface struct {
	PrivateKey Key
	// Addresses are the tunnel addresses with their prefixes.
	Addresses []netip.Prefix
	// ListenPort is the UDP port to listen on; 0 picks one.
	ListenPort uint16
	// DNS are the name servers to ask through the tunnel.
	DNS []netip.Addr
	// MTU is the tunnel's MTU; 0 means wg-quick's default, 1420.
	MTU int
}

// Peer is one [Peer] section.
type Peer struct {
	PublicKey    Key
	PresharedKey Key // zero: none
	AllowedIPs   []netip.Prefix
	// Endpoint is "host:port"; empty when the peer is not dialled (it
	// will be learnt from its first authenticated packet).
	Endpoint string
	// PersistentKeepalive is the keepalive interval in seconds; 0 is off.
	PersistentKeepalive int
}

// DefaultMTU is wg-quick's MTU when none is given.
const DefaultMTU = 1420

// ignored are wg-quick's keys that configure the host, not the tunnel.
var ignored = map[string]bool{
	"preup": true, "postup": true, "predown": true, "postdown": true,
	"table": true, "saveconfig": true, "fwmark": true,
}

// Parse reads a configuration. Its errors name the line.
func Parse(r io.Reader) (*Config, error) {
	c := &Config{}
	sc := bufio.NewScanner(r)
	section := ""
	line := 0
	sawInterface := false
	fail := func(format string, args ...any) (*Config, error) {
		return nil, fmt.Errorf("line %d: %s", line, fmt.Sprintf(format, args...))
	}
	for sc.Scan() {
		line++
		text := sc.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		if strings.HasPrefix(text, "[") && strings.HasSuffix(text, "]") {
			section = strings.ToLower(strings.TrimSpace(text[1 : len(text)-1]))
			switch section {
			case "interface":
				if sawInterface {
					return fail("a second [Interface]")
				}
				sawInterface = true
			case "peer":
				c.Peers = append(c.Peers, Peer{})
			default:
				return fail("unknown section [%s]", text[1:len(text)-1])
			}
			continue
		}
		key, value, ok := strings.Cut(text, "=")
		if !ok {
			return fail("want Key = Value, got %q", text)
		}
		key, value = strings.ToLower(strings.TrimSpace(key)), strings.TrimSpace(value)
		if ignored[key] {
			continue
		}
		var err error
		switch section {
		case "interface":
			err = c.Interface.set(key, value)
		case "peer":
			err = c.Peers[len(c.Peers)-1].set(key, value)
		default:
			return fail("%s outside a section", key)
		}
		if err != nil {
			return fail("%v", err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if !sawInterface {
		return nil, errors.New("no [Interface] section")
	}
	if c.Interface.PrivateKey.IsZero() {
		return nil, errors.New("[Interface] has no PrivateKey")
	}
	for i, p := range c.Peers {
		if p.PublicKey.IsZero() {
			return nil, fmt.Errorf("peer %d has no PublicKey", i+1)
		}
	}
	return c, nil
}

// list splits a comma-separated value.
func list(v string) []string {
	var out []string
	for f := range strings.SplitSeq(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func (in *Interface) set(key, value string) error {
	switch key {
	case "privatekey":
		k, err := ParseKey(value)
		if err != nil {
			return fmt.Errorf("PrivateKey: %v", err)
		}
		in.PrivateKey = k
	case "address":
		for _, f := range list(value) {
			p, err := parsePrefix(f)
			if err != nil {
				return fmt.Errorf("bad Address: %v", err)
			}
			in.Addresses = append(in.Addresses, p)
		}
	case "listenport":
		p, err := strconv.ParseUint(value, 10, 16)
		if err != nil {
			return fmt.Errorf("ListenPort: %q is not a port", value)
		}
		in.ListenPort = uint16(p)
	case "dns":
		for _, f := range list(value) {
			if a, err := netip.ParseAddr(f); err == nil {
				in.DNS = append(in.DNS, a.Unmap())
			}
		}
	case "mtu":
		m, err := strconv.Atoi(value)
		if err != nil || m < 576 || m > 65535 {
			return fmt.Errorf("MTU: %q is not an MTU (576 to 65535)", value)
		}
		in.MTU = m
	default:
		return fmt.Errorf("unknown key %q in [Interface]", key)
	}
	return nil
}

func (p *Peer) set(key, value string) error {
	switch key {
	case "publickey":
		k, err := ParseKey(value)
		if err != nil {
			return fmt.Errorf("PublicKey: %v", err)
		}
		p.PublicKey = k
	case "presharedkey":
		k, err := ParseKey(value)
		if err != nil {
			return fmt.Errorf("PresharedKey: %v", err)
		}
		p.PresharedKey = k
	case "allowedips":
		for _, f := range list(value) {
			pr, err := parsePrefix(f)
			if err != nil {
				return fmt.Errorf("AllowedIPs: %v", err)
			}
			p.AllowedIPs = append(p.AllowedIPs, pr.Masked())
		}
	case "endpoint":
		if _, port, err := net.SplitHostPort(value); err != nil || port == "" {
			return fmt.Errorf("bad Endpoint %q: want host:port", value)
		}
		p.Endpoint = value
	case "persistentkeepalive":
		if value == "off" {
			p.PersistentKeepalive = 0
			return nil
		}
		s, err := strconv.ParseUint(value, 10, 16)
		if err != nil {
			return fmt.Errorf("PersistentKeepalive: %q is not a number of seconds", value)
		}
		p.PersistentKeepalive = int(s)
	default:
		return fmt.Errorf("unknown key %q in [Peer]", key)
	}
	return nil
}

// parsePrefix reads "addr/bits", or a bare address as a single host.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, err
		}
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// UAPI returns the configuration as wireguard-go's UAPI set commands,
// replacing whatever peers the device had. Endpoints that are names are
// resolved with resolve (nil: net.DefaultResolver), as wg(8) resolves
// them once when it sets them.
func (c *Config) UAPI(resolve func(host string) ([]netip.Addr, error)) (string, error) {
	if resolve == nil {
		resolve = func(host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(context.Background(), "ip", host)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "private_key=%s\n", c.Interface.PrivateKey.Hex())
	fmt.Fprintf(&b, "listen_port=%d\n", c.Interface.ListenPort)
	b.WriteString("replace_peers=true\n")
	for _, p := range c.Peers {
		fmt.Fprintf(&b, "public_key=%s\n", p.PublicKey.Hex())
		if !p.PresharedKey.IsZero() {
			fmt.Fprintf(&b, "preshared_key=%s\n", p.PresharedKey.Hex())
		}
		if p.Endpoint != "" {
			ep, err := resolveEndpoint(p.Endpoint, resolve)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(&b, "endpoint=%s\n", ep)
		}
		fmt.Fprintf(&b, "persistent_keepalive_interval=%d\n", p.PersistentKeepalive)
		b.WriteString("replace_allowed_ips=true\n")
		for _, a := range p.AllowedIPs {
			fmt.Fprintf(&b, "allowed_ip=%s\n", a)
		}
	}
	return b.String(), nil
}

// resolveEndpoint turns "host:port" into "ip:port".
func resolveEndpoint(hostport string, resolve func(string) ([]netip.Addr, error)) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(hostport); err == nil {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
	}
	host, port, _ := net.SplitHostPort(hostport)
	pn, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("endpoint %s: bad port", hostport)
	}
	addrs, err := resolve(host)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("endpoint %s: %w", hostport, err)
	}
	if len(addrs) == 0 {
		return netip.AddrPort{}, fmt.Errorf("endpoint %s: no address", hostport)
	}
	return netip.AddrPortFrom(addrs[0].Unmap(), uint16(pn)), nil
}
