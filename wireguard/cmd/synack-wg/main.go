// Command synack-wg is a WireGuard peer with synack as its network: it
// reads a wg-quick style configuration, brings up wireguard-go on UDP with
// a synack stack behind it (no TUN device, no privileges), and serves
// files over HTTP or the echo service at its tunnel addresses, and/or
// fetches a URL through the tunnel.
//
//	synack-wg -c wg0.conf --http ./www
//	synack-wg -c wg0.conf --get http://10.9.0.1:8080/big.bin -o big.bin
//
// One line per connection goes to stderr, as `synack serve` writes them.
// SIGHUP reads the configuration again and applies it (new keys, peers,
// endpoints: a key rotation); SIGINT or SIGTERM stops.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: synack-wg -c FILE [--http DIR | --echo] [--port N] [--get URL [-o FILE]] [-v]

Brings up a WireGuard interface in userspace from the wg-quick style
configuration FILE ([Interface] PrivateKey, Address, ListenPort, DNS, MTU;
[Peer] PublicKey, PresharedKey, AllowedIPs, Endpoint, PersistentKeepalive),
with synack as its TCP/IP stack, then
  --http DIR   serves DIR's files over HTTP on every tunnel address,
  --echo       serves the echo service (RFC 862) instead,
  --get URL    fetches URL through the tunnel (names resolve with the
               configuration's DNS servers, through the tunnel) to -o FILE
               (default stdout), then exits unless it also serves.
One line per connection goes to stderr. SIGHUP applies FILE again (a key
rotation); SIGINT or SIGTERM stops.

flags:
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	err := run(ctx, os.Args[1:], hup, os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "synack-wg:", err)
		os.Exit(1)
	}
}

// options are the command line's.
type options struct {
	config  string
	httpDir string
	echo    bool
	port    int
	get     string
	out     string
	verbose bool
}

func parseArgs(args []string, stdout io.Writer) (*options, error) {
	var o options
	fs := flag.NewFlagSet("synack-wg", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprint(stdout, usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.config, "c", "", "the wg-quick style configuration `FILE`")
	fs.StringVar(&o.config, "config", "", "same as -c")
	fs.StringVar(&o.httpDir, "http", "", "serve the files of `DIR` over HTTP")
	fs.BoolVar(&o.echo, "echo", false, "serve the echo service")
	fs.IntVar(&o.port, "port", 0, "TCP port to serve on (default 80 for --http, 7 for --echo)")
	fs.StringVar(&o.get, "get", "", "fetch `URL` through the tunnel")
	fs.StringVar(&o.out, "o", "-", "write the fetched body to `FILE` (- is stdout)")
	fs.BoolVar(&o.verbose, "v", false, "log wireguard-go's verbose messages (handshakes, keepalives)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected argument %q (see -h)", fs.Arg(0))
	case o.config == "":
		return nil, errors.New("-c FILE is required (see -h)")
	case o.httpDir != "" && o.echo:
		return nil, errors.New("choose one of --http and --echo")
	case o.httpDir == "" && !o.echo && o.get == "":
		return nil, errors.New("nothing to do: give --http DIR, --echo or --get URL (see -h)")
	}
	if o.port == 0 {
		o.port = 80
		if o.echo {
			o.port = 7
		}
	}
	if o.port < 1 || o.port > 65535 {
		return nil, fmt.Errorf("bad --port %d", o.port)
	}
	if o.httpDir != "" {
		if fi, err := os.Stat(o.httpDir); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("--http %s is not a directory", o.httpDir)
		}
	}
	return &o, nil
}
