package netstack

import (
	"net/netip"
	"reflect"
	"testing"

	"golang.zx2c4.com/wireguard/tun"
)

// TestUpstreamParity lists the methods of golang.zx2c4.com/wireguard/
// tun/netstack's exported types (read from its source; this module does
// not import it, which would bring gVisor in) and checks that ours have
// them all, so that a program switches by its import alone.
func TestUpstreamParity(t *testing.T) {
	for _, tc := range []struct {
		typ     reflect.Type
		methods []string
	}{
		{reflect.TypeFor[*Net](), []string{
			"DialContextTCPAddrPort", "DialContextTCP", "DialTCPAddrPort", "DialTCP",
			"ListenTCPAddrPort", "ListenTCP", "DialUDPAddrPort", "ListenUDPAddrPort",
			"DialUDP", "ListenUDP", "DialPingAddr", "ListenPingAddr", "DialPing",
			"ListenPing", "LookupHost", "LookupContextHost", "DialContext", "Dial",
		}},
		{reflect.TypeFor[*PingConn](), []string{
			"LocalAddr", "RemoteAddr", "Close", "SetWriteDeadline", "WriteTo", "Write",
			"ReadFrom", "Read", "SetDeadline", "SetReadDeadline",
		}},
		{reflect.TypeFor[PingAddr](), []string{"String", "Network", "Addr"}},
		{reflect.TypeFor[*UDPConn](), []string{
			"Read", "Write", "ReadFrom", "WriteTo", "Close", "LocalAddr", "RemoteAddr",
			"SetDeadline", "SetReadDeadline", "SetWriteDeadline",
		}},
	} {
		for _, m := range tc.methods {
			if _, ok := tc.typ.MethodByName(m); !ok {
				t.Errorf("%v has no method %s", tc.typ, m)
			}
		}
	}
	var _ func(localAddresses, dnsServers []netip.Addr, mtu int) (tun.Device, *Net, error) = CreateNetTUN
	var _ func(netip.Addr) *PingAddr = PingAddrFromAddr
}
