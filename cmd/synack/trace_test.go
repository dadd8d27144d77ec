package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/synack-go/synack/internal/netns"
	"github.com/synack-go/synack/link/pcap"
	"github.com/synack-go/synack/trace"
)

// sniffer is a capture tool running in a namespace.
type sniffer struct {
	name string
	path string
	cmd  *exec.Cmd
}

// startSniffer starts a capture program in ns, writing to path, and waits
// until it says it is capturing.
func startSniffer(t *testing.T, ns *netns.NS, name, ready, path string, args ...string) *sniffer {
	t.Helper()
	cmd := ns.Command(name, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &sniffer{name: name, path: path, cmd: cmd}
	t.Cleanup(func() { s.stop(t) })
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		close(lines)
	}()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("%s exited before capturing", name)
			}
			if strings.Contains(line, ready) {
				return s
			}
		case <-timeout:
			t.Fatalf("%s did not start capturing", name)
		}
	}
}

// waitCapturing pokes port 7778 in ns (refused: a SYN and a RST) until the
// capture file holds a packet: a tool that says it is capturing may not be
// yet.
func (s *sniffer) waitCapturing(t *testing.T, ns *netns.NS) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		ns.Do(func() error {
			if c, err := net.DialTimeout("tcp4", "127.0.0.1:7778", time.Second); err == nil {
				c.Close()
			}
			return nil
		})
		if f, err := os.Open(s.path); err == nil {
			r, err := pcap.NewReader(f)
			if err == nil {
				_, err = r.Next()
			}
			f.Close()
			if err == nil {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s captured nothing", s.name)
}

// stop interrupts the capture program (which then finishes its file) and
// waits for it.
func (s *sniffer) stop(t *testing.T) {
	if s.cmd.Process == nil || s.cmd.ProcessState != nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-done
		t.Errorf("%s did not stop on SIGINT", s.name)
	}
}

// kernelConversation runs one TCP connection between two kernel sockets in
// ns, to addr: the client sends a line, the server answers, the client
// closes, and the server closes once the capture shows that the kernel has
// acknowledged the client's FIN on its own (delayed or not), so that the
// server's FIN is a segment of its own and the client passes through
// FIN_WAIT2. It returns the client's address.
func kernelConversation(ns *netns.NS, capture *sniffer, network, addr string) (string, error) {
	var ln net.Listener
	if err := ns.Do(func() (err error) { ln, err = net.Listen(network, addr); return err }); err != nil {
		return "", err
	}
	defer ln.Close()
	served := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		defer c.Close()
		buf := make([]byte, 64)
		n, err := c.Read(buf)
		if err == nil {
			_, err = c.Write([]byte(strings.ToUpper(string(buf[:n]))))
		}
		if err == nil {
			_, err = io.ReadAll(c) // until the client's FIN
		}
		if err == nil {
			err = capture.waitStates(c.RemoteAddr().String(), kernelClientStates[:4], nil) // to FIN_WAIT2
		}
		served <- err
	}()
	var c net.Conn
	if err := ns.Do(func() (err error) { c, err = net.Dial(network, ln.Addr().String()); return err }); err != nil {
		return "", err
	}
	client := c.LocalAddr().String()
	_, err := c.Write([]byte("hello, kernel\n"))
	if err == nil {
		_, err = c.Read(make([]byte, 64))
	}
	err = errors.Join(err, c.Close(), <-served)
	return client, err
}

// The states synack trace must infer for the two ends of a kernel
// conversation.
var (
	kernelClientStates = []string{"SYN_SENT", "ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT"}
	kernelServerStates = []string{"LISTEN", "SYN_RECV", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED"}
)

// waitStates waits, for at most 20 s, until the capture shows the
// connection of the client at address client with the client's end through
// clientStates and the server's through serverStates (each the first
// states inferred; nil: any). It polls the file the tool writes.
func (s *sniffer) waitStates(client string, clientStates, serverStates []string) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		cs, ss := s.states(client)
		if hasPrefix(cs, clientStates) && hasPrefix(ss, serverStates) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s never showed the client %s through %v and the server through %v: it shows %v and %v", s.path, client, clientStates, serverStates, cs, ss)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// states returns the states synack trace infers, from the capture so far,
// for both ends of the connection of the client at address client.
func (s *sniffer) states(client string) (clientStates, serverStates []string) {
	events, _, err := readCapture(s.path, io.Discard)
	if err != nil {
		return nil, nil
	}
	for _, c := range trace.Conns(events) {
		if c.Left.String() == client || c.Right.String() == client {
			server := c.Right
			if c.Right.String() == client {
				server = c.Left
			}
			m := stateChanges(events)
			return m[client+" "+server.String()], m[server.String()+" "+client]
		}
	}
	return nil, nil
}

// hasPrefix reports whether got begins with want.
func hasPrefix(got, want []string) bool {
	return len(got) >= len(want) && slices.Equal(got[:len(want)], want)
}

// TestTraceKernelCapture captures a connection between two Linux kernel
// sockets on loopback, inside a network namespace of its own, with tcpdump
// (Ethernet framing on lo, Linux cooked v2 on "any") and tshark (pcapng),
// and checks that `synack trace` infers both ends' states right through the
// four-way close, for IPv4 and IPv6.
func TestTraceKernelCapture(t *testing.T) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("tcpdump not in PATH; install it (apt-get install tcpdump) to trace a kernel's connection")
	}
	ns := netns.New(t)
	dir := t.TempDir()
	const filter = "tcp port 7777 or tcp port 7778"
	// A snapshot length of 2048 (the conversation's packets are smaller)
	// rather than 256 KiB: the kernel's capture ring is cut in slots of the
	// snapshot length ("any" has no MTU to size them by), and eight slots of
	// 256 KiB in the default 2 MiB buffer overflow on a burst of a few
	// packets ("packets dropped by kernel").
	const snap = "2048"
	sniffers := []*sniffer{
		startSniffer(t, ns, "tcpdump", "listening on", filepath.Join(dir, "lo.pcap"), "-i", "lo", "-s", snap, "-U", "--immediate-mode", "-n", "-w", filepath.Join(dir, "lo.pcap"), filter),
		startSniffer(t, ns, "tcpdump", "listening on", filepath.Join(dir, "any.pcap"), "-i", "any", "-s", snap, "-U", "--immediate-mode", "-n", "-w", filepath.Join(dir, "any.pcap"), filter),
	}
	if _, err := exec.LookPath("tshark"); err == nil {
		path := filepath.Join(dir, "lo.pcapng")
		sniffers = append(sniffers, startSniffer(t, ns, "tshark", "Capturing on", path, "-i", "lo", "-s", snap, "-n", "-w", path, "-f", filter))
	} else {
		t.Log("tshark not in PATH: no pcapng capture")
	}
	for _, s := range sniffers {
		s.waitCapturing(t, ns)
	}
	client4, err := kernelConversation(ns, sniffers[0], "tcp4", "127.0.0.1:7777")
	if err != nil {
		t.Fatal(err)
	}
	clients := []string{client4}
	client6, err := kernelConversation(ns, sniffers[0], "tcp6", "[::1]:7777")
	v6 := err == nil
	switch {
	case v6:
		clients = append(clients, client6)
	case client6 != "":
		t.Fatal(err) // the connection was made: a failure, not a missing address
	default:
		t.Logf("no IPv6 loopback in the namespace: IPv4 only (%v)", err)
	}
	// Stop each capture once it holds every conversation to its last ACK.
	for _, s := range sniffers {
		for _, c := range clients {
			if err := s.waitStates(c, kernelClientStates, kernelServerStates); err != nil {
				t.Fatal(err)
			}
		}
		s.stop(t)
	}
	client, server := kernelClientStates, kernelServerStates
	for _, s := range sniffers {
		t.Run(filepath.Base(s.path), func(t *testing.T) {
			var errw bytes.Buffer
			events, summary, err := readCapture(s.path, &errw)
			if err != nil {
				t.Fatal(err)
			}
			t.Log(summary)
			conns, err := chooseConns(trace.Conns(events), "7777")
			if err != nil {
				t.Fatal(err)
			}
			if want := map[bool]int{false: 1, true: 2}[v6]; len(conns) != want {
				t.Fatalf("%d connections, want %d: %v", len(conns), want, conns)
			}
			states := stateChanges(events)
			for _, c := range conns {
				if c.Right.Port() != 7777 {
					t.Errorf("%v: the server is not on the right", c)
				}
				got := [2]string{fmt.Sprint(states[c.Left.String()+" "+c.Right.String()]), fmt.Sprint(states[c.Right.String()+" "+c.Left.String()])}
				if got != [2]string{fmt.Sprint(client), fmt.Sprint(server)} {
					t.Errorf("%v: client states %s, server states %s\nwant %v and %v", c, got[0], got[1], client, server)
				}
			}
			// The command draws it: text, SVG and HTML.
			var out bytes.Buffer
			svg, page := filepath.Join(t.TempDir(), "k.svg"), filepath.Join(t.TempDir(), "k.html")
			if err := runTrace([]string{s.path, "--conn", "7777", "--text", "--svg", svg, "--html", page}, &out, &errw); err != nil {
				t.Fatalf("%v\n%s", err, errw.Bytes())
			}
			t.Logf("synack trace:\n%s", out.Bytes())
			for _, want := range []string{"state ESTABLISHED -> FIN_WAIT1 (sent FIN)", "\nTIME_WAIT ", "FIN,ACK seq 15 ack 15"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("synack trace lacks %q", want)
				}
			}
			if filepath.Base(s.path) == "lo.pcap" {
				textMatchesTcpdump(t, s.path, out.String())
			}
			for _, f := range []string{svg, page} {
				if st, err := os.Stat(f); err != nil || st.Size() < 1000 {
					t.Errorf("%s not written: %v", f, err)
				}
			}
		})
	}
}

// textMatchesTcpdump checks that the segment lines `synack trace --text`
// printed are tcpdump's own for the file, time stamps aside.
func textMatchesTcpdump(t *testing.T, path, traced string) {
	t.Helper()
	out, err := exec.Command("tcpdump", "-n", "-t", "-r", path, "tcp port 7777").Output()
	if err != nil {
		t.Fatalf("tcpdump -r: %v", err)
	}
	var ours []string
	for line := range strings.Lines(traced) {
		if _, rest, ok := strings.Cut(line, " "); ok && (strings.HasPrefix(rest, "IP ") || strings.HasPrefix(rest, "IP6 ")) {
			ours = append(ours, strings.TrimSuffix(rest, "\n"))
		}
	}
	theirs := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if strings.Join(ours, "\n") != strings.Join(theirs, "\n") {
		t.Errorf("synack trace --text:\n%s\ntcpdump:\n%s", strings.Join(ours, "\n"), strings.Join(theirs, "\n"))
	}
}

// TestTraceCommand draws the demo's own capture with `synack trace`, and
// checks its errors: a file that is no capture, a capture cut short, a
// --conn that matches nothing.
func TestTraceCommand(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rst.pcap")
	var file bytes.Buffer
	demoEvents(t, "rst-closed-port", &file)
	if err := os.WriteFile(path, file.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errw bytes.Buffer
	if err := runTrace([]string{path, "--text", "--conn", "10.0.0.2:81"}, &out, &errw); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		": 2 packets, 2 TCP segments, 1 connections\n",
		"state CLOSED (nobody listening)",
		"Flags [R.], seq 0, ack ", // tcpdump's numbering: the first ACK-bearing segment is absolute
		"--- RST,ACK seq 0 ack 1 -|",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	for _, conn := range []string{"81", ":81", "10.0.0.2:81"} {
		if err := runTrace([]string{path, "--conn", conn}, io.Discard, io.Discard); err != nil {
			t.Errorf("--conn %s: %v", conn, err)
		}
	}
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{path, "--conn", "80"}, "no connection matches"},
		{[]string{path, "--conn", "nonsense"}, "want ip:port-ip:port"},
		{[]string{filepath.Join(dir, "missing.pcap")}, "no such file"},
		{[]string{"/dev/null"}, "file header cut short"},
		{nil, "want one capture file"},
	} {
		err := runTrace(tc.args, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("synack trace %v: %v, want an error with %q", tc.args, err, tc.err)
		}
	}
	cut := filepath.Join(dir, "cut.pcap")
	if err := os.WriteFile(cut, file.Bytes()[:file.Len()-3], 0o644); err != nil {
		t.Fatal(err)
	}
	errw.Reset()
	if err := runTrace([]string{cut}, io.Discard, &errw); err != nil || !strings.Contains(errw.String(), "using the 1 packets before it") {
		t.Errorf("a capture cut short: %v, warning %q", err, errw.String())
	}
}
