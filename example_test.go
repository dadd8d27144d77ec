package synack_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"

	"github.com/synack-go/synack"
	"github.com/synack-go/synack/link/pipe"
	"github.com/synack-go/synack/trace"
)

// twoStacks joins two stacks with an in-memory link: 10.0.0.1 and
// 10.0.0.2. opts changes the client's options.
func twoStacks(client synack.Options) (*synack.Stack, *synack.Stack) {
	a, b := pipe.New(pipe.Config{})
	client.Addrs = []netip.Prefix{netip.MustParsePrefix("10.0.0.1/24")}
	c, err := synack.NewStack(a, client)
	if err != nil {
		panic(err)
	}
	s, err := synack.NewStack(b, synack.Options{Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.2/24")}})
	if err != nil {
		panic(err)
	}
	return c, s
}

// Two stacks on an in-memory link: an echo server and a client that
// half-closes, reads the echo, and sees io.EOF at the server's FIN.
func Example_echo() {
	a, b := pipe.New(pipe.Config{}) // the link; pipe.Config can add loss and delay
	client, _ := synack.NewStack(a, synack.Options{Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.1/24")}})
	server, _ := synack.NewStack(b, synack.Options{Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.2/24")}})
	defer client.Close()
	defer server.Close()

	ln, _ := server.Listen("tcp", "10.0.0.2:7")
	go func() {
		c, _ := ln.Accept()
		io.Copy(c, c) // echo until the client's FIN
		c.Close()
	}()
	c, err := client.Dial("tcp", "10.0.0.2:7")
	if err != nil {
		fmt.Println(err)
		return
	}
	c.Write([]byte("hello, synack"))
	c.(*synack.Conn).CloseWrite()
	echo, err := io.ReadAll(c)
	fmt.Printf("%s %v\n", echo, err)
	c.Close()
	// Output: hello, synack <nil>
}

// Listen and Accept as with package net: each accepted connection is a
// *synack.Conn.
func ExampleStack_Listen() {
	client, server := twoStacks(synack.Options{})
	defer client.Close()
	defer server.Close()

	ln, err := server.Listen("tcp", ":80") // every address of the stack
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()
	go func() {
		c, _ := client.Dial("tcp", "10.0.0.2:80")
		fmt.Fprintln(c, "GET")
		c.Close()
	}()
	c, err := ln.Accept()
	if err != nil {
		fmt.Println(err)
		return
	}
	line, _ := bufio.NewReader(c).ReadString('\n')
	fmt.Printf("from %v: %q\n", c.RemoteAddr().(*net.TCPAddr).IP, line)
	c.Close()
	// Output: from 10.0.0.1: "GET\n"
}

// net/http over a synack Stack: the server serves on a synack Listener,
// and the client dials with Stack.DialContext.
func Example_http() {
	client, server := twoStacks(synack.Options{})
	defer client.Close()
	defer server.Close()

	ln, _ := server.Listen("tcp", "10.0.0.2:80")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s over synack", r.URL.Path)
	})}
	go srv.Serve(ln)
	defer srv.Close()

	hc := &http.Client{Transport: &http.Transport{DialContext: client.DialContext}}
	resp, err := hc.Get("http://10.0.0.2/world")
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.Status, string(body))
	// Output: 200 OK hello from /world over synack
}

// A tracer sees every segment the stack sends and receives and every
// state change, synchronously; trace.NewText prints them as tcpdump
// does, trace.Recorder keeps them for a ladder diagram (trace.WriteLadder,
// WriteSVG, WriteHTML) or graphs (trace.WritePlot). Here a function prints
// the client's handshake.
func Example_trace() {
	done := make(chan struct{})
	tr := trace.Func(func(e *trace.Event) {
		select {
		case <-done:
			return
		default:
		}
		switch e.Kind {
		case trace.SegmentOut, trace.SegmentIn:
			fmt.Printf("%v [%v]\n", e.Kind, e.Seg.Flags)
		case trace.StateChange:
			fmt.Printf("%v %s -> %s (%s)\n", e.Kind, e.From, e.To, e.Why)
			if e.To == "ESTABLISHED" {
				close(done)
			}
		}
	})
	client, server := twoStacks(synack.Options{Tracer: tr})
	defer client.Close()
	defer server.Close()
	ln, _ := server.Listen("tcp", "10.0.0.2:80")
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
	}()
	c, err := client.Dial("tcp", "10.0.0.2:80")
	if err != nil {
		fmt.Println(err)
		return
	}
	c.Close()
	// Output:
	// StateChange CLOSED -> SYN_SENT (connect)
	// SegmentOut [S]
	// SegmentIn [S.]
	// StateChange SYN_SENT -> ESTABLISHED (rcvd SYN-ACK)
}
