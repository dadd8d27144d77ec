package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"

	"github.com/synack-go/synack/wireguard/netstack"
	"github.com/synack-go/synack/wireguard/wgconf"
)

// shutdownGrace is how long a stopping server lets requests finish.
const shutdownGrace = 5 * time.Second

// run is synack-wg with args: it returns when ctx ends, when a --get
// without a server is done, or on an error. Each value on hup applies the
// configuration file again.
func run(ctx context.Context, args []string, hup <-chan os.Signal, stdout, stderr io.Writer) error {
	o, err := parseArgs(args, stdout)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(o.config)
	if err != nil {
		return err
	}
	var addrs []netip.Addr
	for _, p := range cfg.Interface.Addresses {
		addrs = append(addrs, p.Addr())
	}
	if len(addrs) == 0 {
		return fmt.Errorf("%s: [Interface] has no Address", o.config)
	}
	mtu := cfg.Interface.MTU
	if mtu == 0 {
		mtu = wgconf.DefaultMTU
	}
	tdev, tnet, err := netstack.CreateNetTUN(addrs, cfg.Interface.DNS, mtu)
	if err != nil {
		return err
	}
	logs := newConnLog(stderr)
	dev := device.NewDevice(tdev, conn.NewDefaultBind(), wgLogger(stderr, o.verbose))
	defer dev.Close()
	if err := apply(dev, cfg); err != nil {
		return err
	}
	if err := dev.Up(); err != nil {
		return fmt.Errorf("bringing the device up: %w", err)
	}
	logs.logf("wireguard up: public key %s, udp port %s, tunnel %v, mtu %d, %d %s",
		cfg.Interface.PrivateKey.PublicKey(), listenPort(dev), addrs, mtu, len(cfg.Peers), plural(len(cfg.Peers), "peer"))

	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	served := make(chan error, 1)
	if o.httpDir != "" || o.echo {
		ln, err := tnet.ListenTCP(&net.TCPAddr{Port: o.port})
		if err != nil {
			return fmt.Errorf("listening on port %d: %w", o.port, err)
		}
		mode := "echo"
		if o.httpDir != "" {
			mode = "http " + o.httpDir
		}
		logs.logf("serving %s on %v port %d", mode, addrs, o.port)
		tl := logs.listener(ln)
		wg.Go(func() {
			if o.httpDir != "" {
				served <- serveHTTP(ctx, tl, o.httpDir, stderr)
			} else {
				served <- serveEcho(ctx, tl)
			}
		})
	}
	fetched := make(chan error, 1)
	if o.get != "" {
		wg.Go(func() { fetched <- fetch(ctx, tnet, o.get, o.out, stdout, logs) })
	} else {
		fetched = nil
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-served:
			return err
		case err := <-fetched:
			if err != nil || (o.httpDir == "" && !o.echo) {
				return err
			}
			fetched = nil
		case <-hup:
			cfg, err := loadConfig(o.config)
			if err == nil {
				err = apply(dev, cfg)
			}
			if err != nil {
				logs.logf("reloading %s: %v (the old configuration stays)", o.config, err)
				continue
			}
			logs.logf("reloaded %s: public key %s, %d %s", o.config,
				cfg.Interface.PrivateKey.PublicKey(), len(cfg.Peers), plural(len(cfg.Peers), "peer"))
		}
	}
}

// loadConfig reads and parses the configuration file.
func loadConfig(path string) (*wgconf.Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cfg, err := wgconf.Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// apply sets the device's keys, port and peers from cfg, replacing the
// peers it had. Changing the private key makes wireguard-go drop its
// sessions, so the next packet starts a handshake with the new key.
func apply(dev *device.Device, cfg *wgconf.Config) error {
	uapi, err := cfg.UAPI(nil)
	if err != nil {
		return err
	}
	if err := dev.IpcSet(uapi); err != nil {
		return fmt.Errorf("configuring wireguard: %w", err)
	}
	return nil
}

// listenPort reads the UDP port the device listens on.
func listenPort(dev *device.Device) string {
	get, err := dev.IpcGet()
	if err != nil {
		return "?"
	}
	sc := bufio.NewScanner(strings.NewReader(get))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "listen_port="); ok {
			return v
		}
	}
	return "?"
}

// wgLogger sends wireguard-go's errors, and with verbose its other
// messages, to w.
func wgLogger(w io.Writer, verbose bool) *device.Logger {
	l := log.New(w, "", log.Ltime|log.Lmicroseconds)
	logger := &device.Logger{
		Verbosef: device.DiscardLogf,
		Errorf:   func(format string, args ...any) { l.Printf("wireguard error: "+format, args...) },
	}
	if verbose {
		logger.Verbosef = func(format string, args ...any) { l.Printf("wireguard: "+format, args...) }
	}
	return logger
}

// serveHTTP serves dir on ln until ctx ends, then lets requests finish
// for shutdownGrace.
func serveHTTP(ctx context.Context, ln net.Listener, dir string, stderr io.Writer) error {
	srv := &http.Server{
		Handler:           http.FileServer(http.Dir(dir)),
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          log.New(stderr, "http: ", log.LstdFlags),
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	return nil
}

// serveEcho echoes every connection ln accepts (RFC 862) until ctx ends.
func serveEcho(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		wg.Go(func() {
			defer c.Close()
			io.Copy(c, c)
		})
	}
}

// fetch GETs url through the tunnel into the file out ("-": stdout) and
// logs its size, time, rate and SHA-256.
func fetch(ctx context.Context, tnet *netstack.Net, url, out string, stdout io.Writer, logs *connLog) error {
	client := &http.Client{Transport: &http.Transport{
		DialContext:       tnet.DialContext,
		DisableKeepAlives: true,
		Proxy:             nil, // the tunnel is the way, never a proxy
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	w := stdout
	if out != "-" {
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("get %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("get %s: %s", url, resp.Status)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), resp.Body)
	elapsed := time.Since(start)
	if err == nil && resp.ContentLength >= 0 && n != resp.ContentLength {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return fmt.Errorf("get %s: after %d bytes: %w", url, n, err)
	}
	if f, ok := w.(*os.File); ok && out != "-" {
		if err := f.Close(); err != nil {
			return err
		}
	}
	logs.logf("get %s: %d bytes in %.3f s (%.1f Mbit/s) sha256 %x", url, n, elapsed.Seconds(),
		float64(n)*8/elapsed.Seconds()/1e6, h.Sum(nil))
	return nil
}

// plural returns word, with an s unless n is 1.
func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
