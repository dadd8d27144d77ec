package synack

import (
	"errors"
	"net"
	"net/netip"
	"strconv"
)

// parseAddr parses address ("ip:port" with a literal IP, or ":port" when
// listening) for network "tcp", "tcp4" or "tcp6". An IPv4-mapped IPv6
// address becomes plain IPv4.
func parseAddr(network, address string, listen bool) (netip.AddrPort, error) {
	if err := checkNetwork(network); err != nil {
		return netip.AddrPort{}, err
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return netip.AddrPort{}, err
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return netip.AddrPort{}, errors.New("invalid port " + strconv.Quote(port))
	}
	var a netip.Addr
	if host == "" && listen {
		a = netip.IPv4Unspecified()
		if network == "tcp6" {
			a = netip.IPv6Unspecified()
		}
	} else {
		a, err = netip.ParseAddr(host)
		if err != nil || a.Zone() != "" {
			return netip.AddrPort{}, errors.New("not a literal IP address (synack resolves no names): " + strconv.Quote(host))
		}
		a = a.Unmap()
	}
	if err := checkFamily(network, a); err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(a, uint16(p)), nil
}

// checkNetwork accepts the networks synack speaks.
func checkNetwork(network string) error {
	switch network {
	case "tcp", "tcp4", "tcp6":
		return nil
	}
	return net.UnknownNetworkError(network)
}

// checkFamily reports an address that network ("tcp4" or "tcp6") excludes.
func checkFamily(network string, a netip.Addr) error {
	if err := checkNetwork(network); err != nil {
		return err
	}
	if !a.IsValid() || (network == "tcp4" && !a.Is4()) || (network == "tcp6" && !a.Is6()) {
		return &net.AddrError{Err: "address of the wrong family for " + network, Addr: a.String()}
	}
	return nil
}

// localFor picks the source address for a connection to remote: one whose
// prefix contains remote, else the first of the same family.
func (s *Stack) localFor(remote netip.Addr) (netip.Addr, bool) {
	var first netip.Addr
	for _, p := range s.addrs {
		if p.Addr().Is4() != remote.Is4() {
			continue
		}
		if p.Contains(remote) {
			return p.Addr(), true
		}
		if !first.IsValid() {
			first = p.Addr()
		}
	}
	return first, first.IsValid()
}
