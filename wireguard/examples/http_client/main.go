// Command http_client is wireguard-go's netstack HTTP client example on
// synack: a WireGuard peer with the tunnel address 192.168.4.28 that
// reaches http_server's peer at 127.0.0.1:58120 and fetches
// http://192.168.4.29/ through the tunnel. The only line that differs
// from a program written for wireguard-go's own netstack is the netstack
// import.
package main

import (
	"io"
	"log"
	"net/http"
	"net/netip"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"

	"github.com/synack-go/synack/wireguard/netstack"
)

func main() {
	tun, tnet, err := netstack.CreateNetTUN(
		[]netip.Addr{netip.MustParseAddr("192.168.4.28")},
		[]netip.Addr{netip.MustParseAddr("192.168.4.1")},
		1420,
	)
	if err != nil {
		log.Panic(err)
	}
	dev := device.NewDevice(tun, conn.NewDefaultBind(), device.NewLogger(device.LogLevelError, ""))
	// This side's private key; the server's public key and where it
	// listens; everything goes through the tunnel.
	err = dev.IpcSet(`private_key=68605de0add3bd3a0b328527253f23bb47bd4f3817b2f3a04e9357959c1ef64d
public_key=97966f90d345386d34e87ea030aa82b2a958b17a8c3e1999559ff02b259e0008
allowed_ip=0.0.0.0/0
endpoint=127.0.0.1:58120
`)
	if err != nil {
		log.Panic(err)
	}
	if err := dev.Up(); err != nil {
		log.Panic(err)
	}

	client := http.Client{Transport: &http.Transport{DialContext: tnet.DialContext}}
	resp, err := client.Get("http://192.168.4.29/")
	if err != nil {
		log.Panic(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		log.Panic(err)
	}
	log.Println(string(body))
}
