package main

import (
	"fmt"
	"net/netip"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

// nicID is the one NIC of each stack.
const nicID = 1

// Buffer ranges as tailscale's netstack sets them (wgengine/netstack):
// gVisor's 1 MiB defaults, growing with receive-buffer moderation up to
// 8 MiB (receive) and 6 MiB (send).
const (
	rcvBufMax = 8 << 20
	sndBufMax = 6 << 20
)

// newStack makes a gVisor stack with one NIC on ep holding addr, tuned as
// its users tune it: SACK on, larger buffers with moderation, Nagle off
// (gonet's default), RACK loss detection (gVisor's default), and the
// congestion control cc ("" keeps gVisor's default, Reno).
func newStack(ep stack.LinkEndpoint, addr netip.Prefix, cc string) (*stack.Stack, error) {
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol},
	})
	if err := setTCPOptions(s, cc); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.CreateNIC(nicID, ep); err != nil {
		s.Close()
		return nil, fmt.Errorf("gvisor CreateNIC: %v", err)
	}
	pa := tcpip.ProtocolAddress{
		Protocol:          ipv4.ProtocolNumber,
		AddressWithPrefix: tcpip.AddressWithPrefix{Address: tcpip.AddrFrom4(addr.Addr().As4()), PrefixLen: addr.Bits()},
	}
	if err := s.AddProtocolAddress(nicID, pa, stack.AddressProperties{}); err != nil {
		s.Close()
		return nil, fmt.Errorf("gvisor AddProtocolAddress: %v", err)
	}
	s.SetRouteTable([]tcpip.Route{{Destination: header.IPv4EmptySubnet, NIC: nicID}})
	return s, nil
}

// setTCPOptions tunes s's TCP as its users do: SACK, buffer ranges with
// moderation, and the congestion control cc ("" keeps gVisor's default).
func setTCPOptions(s *stack.Stack, cc string) error {
	sack := tcpip.TCPSACKEnabled(true)
	moderate := tcpip.TCPModerateReceiveBufferOption(true)
	rcv := tcpip.TCPReceiveBufferSizeRangeOption{Min: tcp.MinBufferSize, Default: tcp.DefaultReceiveBufferSize, Max: rcvBufMax}
	snd := tcpip.TCPSendBufferSizeRangeOption{Min: tcp.MinBufferSize, Default: tcp.DefaultSendBufferSize, Max: sndBufMax}
	opts := []tcpip.SettableTransportProtocolOption{&sack, &moderate, &rcv, &snd}
	if cc != "" {
		c := tcpip.CongestionControlOption(cc)
		opts = append(opts, &c)
	}
	for _, o := range opts {
		if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, o); err != nil {
			return fmt.Errorf("gvisor option %T: %v", o, err)
		}
	}
	return nil
}

// fullAddr is addr:port on the stack's NIC.
func fullAddr(addr netip.Addr, port uint16) tcpip.FullAddress {
	return tcpip.FullAddress{NIC: nicID, Addr: tcpip.AddrFrom4(addr.As4()), Port: port}
}
