package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// serveUsage is the help text of `synack serve`.
const serveUsage = `usage: synack serve --tun NAME --addr PREFIX --host-addr PREFIX
                    (--http DIR | --echo | --discard) [flags]
       synack serve --tun NAME --configured --addr PREFIX (--http DIR | ...) [flags]

Creates the TUN device NAME (or attaches to it), gives the kernel's side of
it the --host-addr addresses, brings it up, and serves on every --addr with
a synack stack: files from DIR over HTTP, or the echo or discard service.
One line per connection goes to stderr; SIGINT or SIGTERM stops it.

Example (as root):
  synack serve --tun syn0 --addr 10.77.0.2/24,fd77::2/64 \
      --host-addr 10.77.0.1/24,fd77::1/64 --http ./www &
  curl -o /dev/null http://10.77.0.2/big.bin

flags:
`

// runServe is `synack serve`: it serves until SIGINT or SIGTERM.
func runServe(args []string, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx, args, stdout, stderr)
}

// shutdownGrace is how long a stopping server lets open connections finish
// before the stack resets them.
const shutdownGrace = 5 * time.Second

// serve runs `synack serve` with args until ctx ends. It writes the --stats
// table to stdout, and its log (a "serving" line once it listens, then a
// line per connection) to stderr.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f tunFlags
	fs := newFlagSet("serve", serveUsage, stdout)
	f.register(fs.FlagSet)
	port := fs.Int("port", 80, "TCP port to listen on")
	dir := fs.String("http", "", "serve the files of `DIR` over HTTP")
	echo := fs.Bool("echo", false, "echo service: send back every byte received")
	discard := fs.Bool("discard", false, "discard service: read and drop every byte")
	stats := fs.Bool("stats", false, "print a table of connections (state, RTT, RTO, cwnd, bytes, retransmissions) and each one's tcp_info, as ss -ti, periodically to stdout; and each finished connection's tcp_info after its line on stderr")
	statsEvery := fs.Duration("stats-interval", 2*time.Second, "period of the --stats table")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError(fs, fmt.Sprintf("serve: unexpected argument %q", pos[0]))
	}
	mode := ""
	for _, m := range []struct {
		on   bool
		name string
	}{{*dir != "", "http"}, {*echo, "echo"}, {*discard, "discard"}} {
		if m.on {
			if mode != "" {
				return errors.New("serve: choose one of --http, --echo and --discard")
			}
			mode = m.name
		}
	}
	if mode == "" {
		return usageError(fs, "serve: one of --http DIR, --echo or --discard is required")
	}
	if *port <= 0 || *port > 65535 {
		return fmt.Errorf("serve: bad --port %d", *port)
	}
	if *statsEvery <= 0 {
		return errors.New("serve: --stats-interval must be positive")
	}
	if mode == "http" {
		if fi, err := os.Stat(*dir); err != nil || !fi.IsDir() {
			return fmt.Errorf("serve: --http %s is not a directory", *dir)
		}
	}

	st, err := openTunStack(&f, "serve", f.recorder())
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	defer st.Close()
	ln, err := st.Listen("tcp", fmt.Sprintf(":%d", *port))
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	logs := newConnLog(stderr)
	logs.info = *stats
	tl := logs.listener(ln)
	impaired := ""
	if f.impair != "" {
		impaired = ", impaired " + f.impair
	}
	logs.logf("serving %s on %v port %d (device %s, kernel side %v, %s%s)",
		mode, f.addrs.String(), *port, st.dev.Name(), f.hostAddrs.String(), st.linkNote(), impaired)

	if *stats {
		sctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go statsLoop(sctx, stdout, *statsEvery, st.Stack)
	}

	var served error
	if mode == "http" {
		served = serveHTTP(ctx, tl, *dir, stderr)
	} else {
		handle := echoConn
		if mode == "discard" {
			handle = discardConn
		}
		served = serveStream(ctx, tl, handle)
	}
	logs.logf("stopped after %d %s", logs.total.Load(), plural(logs.total.Load(), "connection"))
	return errors.Join(served, f.writePlot("synack serve"))
}

// serveHTTP serves dir's files on ln until ctx ends, then lets requests in
// progress finish for shutdownGrace.
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

// serveStream runs handle on every connection ln accepts until ctx ends,
// then waits up to shutdownGrace for the handlers.
func serveStream(ctx context.Context, ln net.Listener, handle func(net.Conn)) error {
	var wg sync.WaitGroup
	accepted := make(chan error, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				accepted <- err
				return
			}
			wg.Go(func() {
				defer c.Close()
				handle(c)
			})
		}
	}()
	var err error
	select {
	case err = <-accepted:
	case <-ctx.Done():
		ln.Close()
		<-accepted
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(shutdownGrace):
	}
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// echoConn is the echo service (RFC 862): every byte received goes back,
// and the peer's FIN is answered with ours once the echo is sent.
func echoConn(c net.Conn) {
	io.Copy(c, c)
}

// discardConn is the discard service (RFC 863): everything is read and
// dropped until the peer's FIN.
func discardConn(c net.Conn) {
	io.Copy(io.Discard, c)
}
