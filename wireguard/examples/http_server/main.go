// Command http_server is wireguard-go's netstack HTTP server example on
// synack: a WireGuard peer on UDP port 58120 whose tunnel address
// 192.168.4.29 serves "Hello from userspace TCP!" on port 80. Run
// http_client beside it. The only line that differs from a program
// written for wireguard-go's own netstack is the netstack import.
package main

import (
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"

	"github.com/synack-go/synack/wireguard/netstack"
)

func main() {
	tun, tnet, err := netstack.CreateNetTUN(
		[]netip.Addr{netip.MustParseAddr("192.168.4.29")},
		[]netip.Addr{netip.MustParseAddr("192.168.4.1")},
		1420,
	)
	if err != nil {
		log.Panic(err)
	}
	dev := device.NewDevice(tun, conn.NewDefaultBind(), device.NewLogger(device.LogLevelError, ""))
	// This side's private key; the client's public key, and the tunnel
	// address it may use.
	err = dev.IpcSet(`private_key=98e2f3ea57f0aeca107c33e278f680894322cb6cd8f3921f57f407596d848e4e
listen_port=58120
public_key=0383e0e2627c66d31ade092ec8a4e0c85586258dd2bfbaec24652ab707ee5208
allowed_ip=192.168.4.28/32
persistent_keepalive_interval=25
`)
	if err != nil {
		log.Panic(err)
	}
	if err := dev.Up(); err != nil {
		log.Panic(err)
	}
	listener, err := tnet.ListenTCP(&net.TCPAddr{Port: 80})
	if err != nil {
		log.Panic(err)
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		log.Printf("> %s - %s - %s", r.RemoteAddr, r.URL, r.UserAgent())
		io.WriteString(w, "Hello from userspace TCP!")
	})
	log.Printf("serving http://192.168.4.29/ through WireGuard on UDP port 58120")
	log.Panic(http.Serve(listener, nil))
}
