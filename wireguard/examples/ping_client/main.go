// Command ping_client is wireguard-go's netstack ping example on synack:
// with http_server running, it pings 192.168.4.29 through the tunnel
// (the server's stack answers) and prints the round-trip time. The only
// line that differs from a program written for wireguard-go's own
// netstack is the netstack import.
package main

import (
	"bytes"
	"log"
	"math/rand"
	"net/netip"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
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

	socket, err := tnet.Dial("ping4", "192.168.4.29")
	if err != nil {
		log.Panic(err)
	}
	request := icmp.Echo{Seq: rand.Intn(1 << 16), Data: []byte("gopher burrow")}
	msg, err := (&icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &request}).Marshal(nil)
	if err != nil {
		log.Panic(err)
	}
	socket.SetReadDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	if _, err := socket.Write(msg); err != nil {
		log.Panic(err)
	}
	n, err := socket.Read(msg)
	if err != nil {
		log.Panic(err)
	}
	reply, err := icmp.ParseMessage(1, msg[:n])
	if err != nil {
		log.Panic(err)
	}
	echo, ok := reply.Body.(*icmp.Echo)
	if !ok || echo.Seq != request.Seq || !bytes.Equal(echo.Data, request.Data) {
		log.Panicf("invalid ping reply: %v", reply)
	}
	log.Printf("Ping latency: %v", time.Since(start))
}
