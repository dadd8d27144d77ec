package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/synack-go/synack"
	"github.com/synack-go/synack/internal/netns"
)

// openStack starts a synack stack on the test link inside a new namespace.
func openStack(t *testing.T) (*netns.NS, *tunStack) {
	t.Helper()
	ns := netns.New(t)
	var f tunFlags
	f.dev = devName
	for _, a := range []string{synAddr4 + "/24", synAddr6 + "/64"} {
		f.addrs.Set(a)
	}
	for _, a := range []string{hostAddr4 + "/24", hostAddr6 + "/64"} {
		f.hostAddrs.Set(a)
	}
	f.mtu = 1500
	var st *tunStack
	if err := ns.Do(func() (err error) {
		st, err = openTunStack(&f, "test", nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return ns, st
}

// synListen listens on the synack stack.
func synListen(t *testing.T, st *tunStack, addr string) net.Listener {
	t.Helper()
	ln, err := st.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// replyAfterEOF is the server side of a half-close: it reads to EOF, then
// writes how many bytes it got and closes.
func replyAfterEOF(c net.Conn) error {
	defer c.Close()
	n, err := io.Copy(io.Discard, c)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(c, "got %d bytes", n)
	return err
}

// halfCloseClient writes payload, shuts its sending side down, and reads
// the reply up to EOF.
func halfCloseClient(c interface {
	net.Conn
	CloseWrite() error
}, payload []byte) (string, error) {
	if _, err := c.Write(payload); err != nil {
		return "", err
	}
	if err := c.CloseWrite(); err != nil {
		return "", err
	}
	reply, err := io.ReadAll(c) // nil error means it ended at EOF
	return string(reply), err
}

// TestHalfCloseKernelClient: a kernel client writes, shutdown(SHUT_WR)s,
// and reads; the synack server reads to EOF, replies and closes; the
// client sees the reply, then EOF.
func TestHalfCloseKernelClient(t *testing.T) {
	t.Parallel()
	ns, st := openStack(t)
	ln := synListen(t, st, ":7000")
	payload := seeded(2, 300<<10)
	families(t, func(t *testing.T, syn, _ string) {
		served := make(chan error, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				served <- err
				return
			}
			served <- replyAfterEOF(c)
		}()
		c, err := kernelDial(ns, hostPort(syn, 7000))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		reply, err := halfCloseClient(c, payload)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("got %d bytes", len(payload)); reply != want {
			t.Fatalf("kernel read %q, want %q", reply, want)
		}
		if err := <-served; err != nil {
			t.Fatal(err)
		}
	})
}

// TestHalfCloseSynackClient is the mirror image: synack writes,
// CloseWrites and reads to EOF; the kernel's server reads to EOF, replies
// and closes.
func TestHalfCloseSynackClient(t *testing.T) {
	t.Parallel()
	ns, st := openStack(t)
	ln := kernelListen(t, ns, ":7001")
	payload := seeded(3, 300<<10)
	families(t, func(t *testing.T, _, host string) {
		served := make(chan error, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				served <- err
				return
			}
			served <- replyAfterEOF(c)
		}()
		c, err := st.Dial("tcp", hostPort(host, 7001))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		reply, err := halfCloseClient(c.(*synack.Conn), payload)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("got %d bytes", len(payload)); reply != want {
			t.Fatalf("synack read %q, want %q", reply, want)
		}
		if err := <-served; err != nil {
			t.Fatal(err)
		}
	})
}

// TestRefused: a connect to a closed port is refused with a RST both ways.
func TestRefused(t *testing.T) {
	t.Parallel()
	ns, st := openStack(t)
	families(t, func(t *testing.T, syn, host string) {
		if c, err := kernelDial(ns, hostPort(syn, 9)); !errors.Is(err, syscall.ECONNREFUSED) {
			if c != nil {
				c.Close()
			}
			t.Fatalf("kernel connect to a closed synack port: %v, want ECONNREFUSED", err)
		}
		if c, err := st.Dial("tcp", hostPort(host, 9)); !errors.Is(err, syscall.ECONNREFUSED) {
			if c != nil {
				c.Close()
			}
			t.Fatalf("synack dial to a closed kernel port: %v, want ECONNREFUSED", err)
		}
	})
}

// TestResetByLinger: SetLinger(0) and Close on one side reset the
// connection, and the other side's Read fails with ECONNRESET, both ways.
func TestResetByLinger(t *testing.T) {
	t.Parallel()
	ns, st := openStack(t)
	synLn := synListen(t, st, ":7002")
	kernLn := kernelListen(t, ns, ":7003")
	families(t, func(t *testing.T, syn, host string) {
		t.Run("synack resets", func(t *testing.T) {
			k, err := kernelDial(ns, hostPort(syn, 7002))
			if err != nil {
				t.Fatal(err)
			}
			defer k.Close()
			s, err := synLn.Accept()
			if err != nil {
				t.Fatal(err)
			}
			s.(*synack.Conn).SetLinger(0)
			s.Close()
			if _, err := k.Read(make([]byte, 10)); !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("kernel Read = %v, want ECONNRESET", err)
			}
		})
		t.Run("kernel resets", func(t *testing.T) {
			s, err := st.Dial("tcp", hostPort(host, 7003))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			k, err := kernLn.Accept()
			if err != nil {
				t.Fatal(err)
			}
			k.(*net.TCPConn).SetLinger(0)
			k.Close()
			if _, err := s.Read(make([]byte, 10)); !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("synack Read = %v, want ECONNRESET", err)
			}
		})
	})
}

// TestPing: the kernel's ping gets three echo replies from the synack
// address, IPv4 and IPv6.
func TestPing(t *testing.T) {
	t.Parallel()
	needTool(t, "ping", "iputils-ping")
	ns, _ := openStack(t)
	families(t, func(t *testing.T, syn, _ string) {
		// -w: wait up to 30 s for the three replies; without it ping
		// gives the last one only twice the slowest RTT so far.
		out, err := ns.Run("ping", "-c", "3", "-i", "0.2", "-w", "30", syn)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "3 received") {
			t.Fatalf("ping:\n%s", out)
		}
	})
}

// echoClients has clients kernel sockets in ns connect to addr at once,
// each send 64 KiB of its own and read it back, and reports whether every
// byte came back (failures are the test's errors).
func echoClients(t *testing.T, ns *netns.NS, addr string, clients int) bool {
	t.Helper()
	const size, dialers = 64 << 10, 50
	// The sockets are made inside the namespace by a few locked threads at
	// once; the transfers then run on ordinary goroutines.
	conns := make([]*net.TCPConn, clients)
	var wg sync.WaitGroup
	errs := make(chan error, clients+dialers)
	for d := range dialers {
		wg.Go(func() {
			errs <- ns.Do(func() error {
				for i := d; i < clients; i += dialers {
					c, err := net.DialTimeout("tcp", addr, time.Minute)
					if err != nil {
						return fmt.Errorf("client %d: %w", i, err)
					}
					conns[i] = c.(*net.TCPConn)
				}
				return nil
			})
		})
	}
	wg.Wait()
	for range dialers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range conns {
		wg.Go(func() {
			defer c.Close()
			payload := seeded(uint64(100+i), size)
			go func() {
				c.Write(payload)
				c.CloseWrite()
			}()
			got, err := io.ReadAll(c)
			if err != nil {
				errs <- fmt.Errorf("client %d: %w", i, err)
			} else if !bytes.Equal(got, payload) {
				errs <- fmt.Errorf("client %d: %d bytes came back, not the %d sent", i, len(got), size)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	return !t.Failed()
}

// TestManyEchoClients: 1,000 kernel clients at once each send 64 KiB
// through `synack serve --echo` and read it back; every byte returns
// intact, every connection is logged, and the synack side ends with no
// connection left but TIME_WAIT.
func TestManyEchoClients(t *testing.T) {
	t.Parallel()
	const clients = 1000
	ns := netns.New(t)
	srv := startServe(t, ns, "--echo", "--port", "7", "--buffer", "128k", "--stats", "--stats-interval", "500ms")
	if !echoClients(t, ns, hostPort(synAddr4, 7), clients) {
		return
	}
	srv.log.waitFor(t, "every connection line", srv.done, func(string) bool {
		return strings.Count(srv.log.String(), " conn ") == clients
	})
	// The --stats tables from now on, until one shows nothing but
	// TIME_WAIT. The clients closed first, so there is none: synack's side
	// went through LAST_ACK to CLOSED.
	line := srv.out.waitFrom(t, srv.out.len(), "a table with nothing but TIME_WAIT", srv.done, func(l string) bool {
		n, tw, ok := parseStatsHeader(l)
		return ok && n == tw
	})
	t.Log(line)
}

// parseStatsHeader reads a --stats header line, "-- 15:04:05: 12
// connections: 10 TIME_WAIT, 2 ESTABLISHED", returning the count and how
// many are in TIME_WAIT.
func parseStatsHeader(line string) (n, timeWait int, ok bool) {
	rest, found := strings.CutPrefix(strings.TrimSpace(line), "-- ")
	if !found {
		return 0, 0, false
	}
	f := strings.Fields(rest)
	if len(f) < 3 || !strings.HasPrefix(f[2], "connection") {
		return 0, 0, false
	}
	n, err := strconv.Atoi(f[1])
	if err != nil {
		return 0, 0, false
	}
	for i := 3; i+1 < len(f); i += 2 {
		if strings.TrimSuffix(f[i+1], ",") == "TIME_WAIT" {
			timeWait, _ = strconv.Atoi(f[i])
		}
	}
	return n, timeWait, true
}
