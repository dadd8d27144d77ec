package script

import (
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Config is how a script runs: addresses, ports, tolerances. Its values
// come from packetdrill's defaults, then the script's option lines, then
// the command line (Overrides), which win.
type Config struct {
	// IPVersion is "ipv4", "ipv6" or "ipv4-mapped-ipv6".
	IPVersion string
	// LocalIP is the address of the stack under test, RemoteIP the
	// script's side. Defaults: 192.168.0.1 and 192.0.2.1 (IPv6:
	// fd3d:fa7b:d17d::1 and 2001:db8::1).
	LocalIP, RemoteIP netip.Addr
	// BindPort is where bind puts a socket (and inbound SYNs go);
	// ConnectPort is where connect goes. Both 8080.
	BindPort, ConnectPort uint16
	// MTU of the link; 1500.
	MTU int
	// Tolerance is the least timing slack (--tolerance_usecs, 4 ms);
	// TolerancePercent the share of an event's gap allowed instead when
	// larger (--tolerance_percent, 12.5).
	Tolerance        time.Duration
	TolerancePercent float64
	// TSTick, when not zero, makes outbound TS val checked, in ticks of
	// this length (--tcp_ts_tick_usecs).
	TSTick time.Duration
	// TSEcrScaled lets an inbound ecr that no outbound val matched be
	// interpolated from the first offset (--tcp_ts_ecr_scaled).
	TSEcrScaled bool
	// StrictSegments turns off the merging of consecutive outbound
	// packets for one > line (--strict_segments).
	StrictSegments bool
	// Ignored lists the option lines accepted but without effect here.
	Ignored []string
}

// Overrides are the command line's option values, which win over the
// script's option lines: name → value, as --name=value.
type Overrides map[string]string

// knownOptions are option names that are accepted and ignored: they matter
// only to packetdrill's own set-up (remote mode, shared objects, ...).
var ignoredOptions = map[string]bool{
	"wire_client": true, "wire_server": true, "wire_server_ip": true, "wire_server_port": true,
	"wire_client_dev": true, "wire_server_dev": true, "so_filename": true, "so_flags": true,
	"gateway_ip": true, "netmask_ip": true, "dry_run": true, "verbose": true, "non_fatal": true,
	"init_scripts": true, "speculative_connect": true, "send_omit_free": true, "persistent_tun_dev": true,
	"mss_for_cookie": true, "ip_version_any": true, "remote_port": true, "tun_dev": true,
	"no_ip_checksum": true, "fm_filename": true, "fm_flags": true, "is_anyip": true,
	"udp_encaps": true, "mtu_override": true, "tcp_ts_tick_usec": true,
}

// NewConfig builds the configuration of a run of s: defaults, the script's
// option lines, then ov.
func NewConfig(s *Script, ov Overrides) (*Config, error) {
	c := &Config{
		IPVersion: "ipv4", BindPort: 8080, ConnectPort: 8080, MTU: 1500,
		Tolerance: 4 * time.Millisecond, TolerancePercent: 12.5,
	}
	var local, remote string
	set := func(name, value string, has bool, where string) error {
		bad := func(err error) error {
			return fmt.Errorf("%s: --%s=%s: %v", where, name, value, err)
		}
		num := func() (int64, error) {
			if !has {
				return 0, fmt.Errorf("%s: --%s needs a value", where, name)
			}
			v, err := strconv.ParseInt(value, 0, 64)
			if err != nil {
				return 0, bad(fmt.Errorf("not an integer"))
			}
			return v, nil
		}
		switch name {
		case "ip_version":
			switch value {
			case "ipv4", "ipv6", "ipv4-mapped-ipv6":
				c.IPVersion = value
			default:
				return bad(fmt.Errorf("want ipv4, ipv6 or ipv4-mapped-ipv6"))
			}
		case "local_ip":
			local = value
		case "remote_ip":
			remote = value
		case "bind_port", "connect_port":
			v, err := num()
			if err != nil {
				return err
			}
			if v < 1 || v > 65535 {
				return bad(fmt.Errorf("not a port"))
			}
			if name == "bind_port" {
				c.BindPort = uint16(v)
			} else {
				c.ConnectPort = uint16(v)
			}
		case "mtu":
			v, err := num()
			if err != nil {
				return err
			}
			if v < 576 || v > 65535 {
				return bad(fmt.Errorf("MTU out of range [576, 65535]"))
			}
			c.MTU = int(v)
		case "tolerance_usecs":
			v, err := num()
			if err != nil {
				return err
			}
			c.Tolerance = time.Duration(v) * time.Microsecond
		case "tolerance_percent":
			v, err := strconv.ParseFloat(value, 64)
			if err != nil || v < 0 {
				return bad(fmt.Errorf("not a percentage"))
			}
			c.TolerancePercent = v
		case "tcp_ts_tick_usecs":
			v, err := num()
			if err != nil {
				return err
			}
			c.TSTick = time.Duration(v) * time.Microsecond
		case "tcp_ts_ecr_scaled":
			c.TSEcrScaled = !has || value != "0"
		case "strict_segments":
			c.StrictSegments = !has || value != "0"
		case "define", "D":
			// Applied while lexing.
		default:
			if ignoredOptions[name] {
				c.Ignored = append(c.Ignored, where+": --"+name)
				return nil
			}
			return fmt.Errorf("%s: unknown option --%s", where, name)
		}
		return nil
	}
	for _, o := range s.Options {
		if err := set(o.Name, o.Value, o.Set, fmt.Sprintf("%s:%d", s.File, o.Line)); err != nil {
			return nil, err
		}
	}
	for name, v := range ov {
		if err := set(name, v, true, "command line"); err != nil {
			return nil, err
		}
	}
	v6 := c.IPVersion == "ipv6"
	switch {
	case local != "":
		a, err := netip.ParseAddr(local)
		if err != nil {
			return nil, fmt.Errorf("--local_ip=%s: %v", local, err)
		}
		c.LocalIP = a.Unmap()
	case v6:
		c.LocalIP = netip.MustParseAddr("fd3d:fa7b:d17d::1")
	default:
		c.LocalIP = netip.MustParseAddr("192.168.0.1")
	}
	switch {
	case remote != "":
		a, err := netip.ParseAddr(remote)
		if err != nil {
			return nil, fmt.Errorf("--remote_ip=%s: %v", remote, err)
		}
		c.RemoteIP = a.Unmap()
	case v6:
		c.RemoteIP = netip.MustParseAddr("2001:db8::1")
	default:
		c.RemoteIP = netip.MustParseAddr("192.0.2.1")
	}
	if c.LocalIP.Is4() != c.RemoteIP.Is4() || c.LocalIP.Is4() == v6 {
		return nil, fmt.Errorf("--local_ip and --remote_ip must both be of the family --ip_version=%s says", c.IPVersion)
	}
	return c, nil
}

// family returns the socket family the script's ... stands for.
func (c *Config) family() int64 {
	if c.IPVersion == "ipv4" {
		return symbols["AF_INET"]
	}
	return symbols["AF_INET6"]
}

// sockAddr is the address a socket call's ... stands for: the IPv4
// address as ::ffff:a.b.c.d in ipv4-mapped-ipv6 mode.
func (c *Config) sockAddr(a netip.Addr, port uint16) netip.AddrPort {
	if c.IPVersion == "ipv4-mapped-ipv6" {
		a = netip.AddrFrom16(a.As16())
	}
	return netip.AddrPortFrom(a, port)
}

// tolerance is the slack for an event expected gap after the previous one.
func (c *Config) tolerance(gap time.Duration) time.Duration {
	t := time.Duration(float64(gap) * c.TolerancePercent / 100)
	return max(t, c.Tolerance)
}

// ParseOverrides reads "name=value" strings (the command line's --name=value
// without the dashes) into Overrides.
func ParseOverrides(args []string) (Overrides, error) {
	ov := Overrides{}
	for _, a := range args {
		a = strings.TrimLeft(a, "-")
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			v = "1"
		}
		ov[k] = v
	}
	return ov, nil
}

// logf writes to w when it is not nil.
func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format, args...)
	}
}
