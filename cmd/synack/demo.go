package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/synack-go/synack"
	"github.com/synack-go/synack/link/pipe"
	"github.com/synack-go/synack/trace"
)

// runDemo runs the course's whole story on two in-memory stacks: a server
// that binds and listens, a client that connects from a random ephemeral
// port, a few lines each way, the client's half-close, and the four-way
// close. Every segment is printed once (as its sender emits it) in
// tcpdump's format, with both sides' state changes between them.
func runDemo(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	delay := fs.Duration("delay", time.Millisecond, "one-way delay of the in-memory link")
	if err := fs.Parse(args); err != nil {
		return err
	}
	text := trace.NewText(w, trace.TextOptions{Stack: true})
	var rec trace.Recorder // for the ladder diagram at the end
	tracer := trace.Func(func(e *trace.Event) {
		rec.Trace(e)
		if e.Kind == trace.SegmentIn || e.Kind == trace.Congestion {
			return // each segment is printed once, when it is sent
		}
		text.Trace(e)
	})
	a, b := pipe.New(pipe.Config{Delay: *delay, Seed: 1})
	client, err := synack.NewStack(a, synack.Options{
		Name: "client", Tracer: tracer,
		Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.1/24")},
	})
	if err != nil {
		return err
	}
	defer client.Close()
	server, err := synack.NewStack(b, synack.Options{
		Name: "server", Tracer: tracer,
		Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.2/24")},
	})
	if err != nil {
		return err
	}
	defer server.Close()

	ln, err := server.Listen("tcp", "10.0.0.2:80")
	if err != nil {
		return err
	}
	defer ln.Close()
	served := make(chan error, 1)
	go func() { served <- serveUpper(ln) }()

	conn, err := client.Dial("tcp", "10.0.0.2:80")
	if err != nil {
		return err
	}
	c := conn.(*synack.Conn)
	fmt.Fprintf(w, "# connected %v -> %v\n", c.LocalAddr(), c.RemoteAddr())
	r := bufio.NewReader(c)
	for _, line := range []string{"hello, synack", "every segment is traced"} {
		fmt.Fprintf(w, "# client writes %q\n", line)
		if _, err := io.WriteString(c, line+"\n"); err != nil {
			return err
		}
		reply, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "# client reads %q\n", strings.TrimSuffix(reply, "\n"))
	}
	fmt.Fprintln(w, "# client half-closes (CloseWrite): its FIN; it can still read")
	if err := c.CloseWrite(); err != nil {
		return err
	}
	rest, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "# client reads %q, then EOF at the server's FIN\n", strings.TrimSpace(string(rest)))
	if err := c.Close(); err != nil {
		return err
	}
	if err := <-served; err != nil {
		return err
	}
	time.Sleep(20 * *delay) // let the last ACK arrive and be traced
	st := c.Stats()
	fmt.Fprintf(w, "# client ends in %v; sent %d segments, received %d\n\n", st.State, st.SegsOut, st.SegsIn)
	if err := trace.WriteLadder(w, rec.Events(), trace.LadderOptions{}); err != nil {
		return err
	}
	fmt.Fprintln(w, "\n# both stacks close; the client's TIME_WAIT ends with them")
	return nil
}

// serveUpper accepts one connection, answers each line in upper case, and
// says goodbye when the client half-closes.
func serveUpper(ln net.Listener) error {
	conn, err := ln.Accept()
	if err != nil {
		return err
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	for {
		line, err := r.ReadString('\n')
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if _, err := io.WriteString(conn, strings.ToUpper(line)); err != nil {
			return err
		}
	}
	_, err = io.WriteString(conn, "goodbye\n")
	return err
}
