package synack

import (
	"context"
	"errors"
	"net/netip"
	"syscall"
	"testing"

	"github.com/synack-go/synack/link/pipe"
	"github.com/synack-go/synack/tcp"
	"github.com/synack-go/synack/tcp/cc"
)

// NewStack refuses a congestion control it does not know, rather than
// running every connection on the default without a word.
func TestNewStackUnknownCongestionControl(t *testing.T) {
	sm := newSim(t)
	a, b := sm.Pipe(pipe.Config{})
	defer b.Close()
	opts := Options{Addrs: []netip.Prefix{clientAddr}, Clock: sm, Rand: sm.Rand()}
	opts.TCP.CongestionControl = "vegas"
	s, err := NewStack(a, opts)
	if err == nil {
		s.Close()
		t.Fatal("NewStack took congestion control \"vegas\"")
	}
	a.Close()
	var ue *tcp.UnknownCCError
	if !errors.As(err, &ue) || ue.Name != "vegas" {
		t.Fatalf("NewStack: %v, want a *tcp.UnknownCCError for \"vegas\"", err)
	}
	if !errors.Is(err, cc.ErrUnknown) {
		t.Errorf("NewStack: %v does not wrap cc.ErrUnknown", err)
	}
}

// Every known name makes a stack whose connections use it.
func TestNewStackCongestionControl(t *testing.T) {
	for _, name := range tcp.CongestionControlNames() {
		t.Run(name, func(t *testing.T) {
			var copts Options
			copts.TCP.CongestionControl = name
			_, client, server := pairOpts(t, pipe.Config{}, copts, Options{})
			c, _ := connected(t, client, server, "10.0.0.2:80")
			if got := c.Congestion(); got != name {
				t.Errorf("Congestion() = %q, want %q", got, name)
			}
		})
	}
}

// Conn.SetCongestion says ENOENT, as Linux's TCP_CONGESTION does, with
// the names it knows, and leaves the connection's controller alone.
func TestConnSetCongestion(t *testing.T) {
	_, client, server := pair(t, pipe.Config{})
	c, _ := connected(t, client, server, "10.0.0.2:80")
	before := c.Congestion()
	err := c.SetCongestion("vegas")
	var ue *tcp.UnknownCCError
	if !errors.Is(err, syscall.ENOENT) || !errors.As(err, &ue) || ue.Name != "vegas" {
		t.Fatalf("SetCongestion(\"vegas\") = %v, want ENOENT and a *tcp.UnknownCCError", err)
	}
	if got := c.Congestion(); got != before {
		t.Errorf("after a refused SetCongestion: %q, want %q", got, before)
	}
	if err := c.SetCongestion("bbr"); err != nil {
		t.Fatal(err)
	}
	if got := c.Congestion(); got != "bbr" {
		t.Errorf("Congestion() = %q after SetCongestion(\"bbr\")", got)
	}
}

// A connection's own tunables naming an unknown congestion control are
// refused too, for a dial and for a listener, before anything is sent.
func TestConfigUnknownCongestionControl(t *testing.T) {
	_, client, server := pair(t, pipe.Config{})
	cfg := tcp.Config{CongestionControl: "vegas"}
	_, err := client.DialAddrPortConfig(context.Background(), netip.AddrPort{}, netip.MustParseAddrPort("10.0.0.2:80"), cfg)
	var ue *tcp.UnknownCCError
	if !errors.As(err, &ue) || ue.Name != "vegas" {
		t.Errorf("DialAddrPortConfig: %v, want a *tcp.UnknownCCError", err)
	}
	ln, err := server.ListenAddrPortConfig("tcp", netip.MustParseAddrPort("10.0.0.2:80"), 8, cfg)
	if err == nil {
		ln.Close()
	}
	if !errors.As(err, &ue) || ue.Name != "vegas" {
		t.Errorf("ListenAddrPortConfig: %v, want a *tcp.UnknownCCError", err)
	}
	if st := client.Stats(); st.PacketsOut != 0 {
		t.Errorf("the refused dial sent %d packets", st.PacketsOut)
	}
}
