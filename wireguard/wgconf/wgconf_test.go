package wgconf

import (
	"net/netip"
	"strings"
	"testing"
)

const sample = `
# a comment
[Interface]
PrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=
Address = 10.9.0.2/24, fd09::2/64
ListenPort = 51820
DNS = 10.9.0.1, fd09::1, corp.example
MTU = 1380
PostUp = iptables -A FORWARD ...
Table = off

[Peer]
PublicKey = xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=
PresharedKey = /UwcSPg38hW/D9Y3tcS1FOV0K1wuURMbS0sesJEP5ak=
AllowedIPs = 10.9.0.0/24, fd09::1/64
Endpoint = 192.0.2.1:51820
PersistentKeepalive = 25

[Peer]
PublicKey = TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0=
AllowedIPs = 10.9.0.3
Endpoint = peer.example:51820
`

func TestParseAndUAPI(t *testing.T) {
	c, err := Parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	in := c.Interface
	if in.ListenPort != 51820 || in.MTU != 1380 || len(in.Addresses) != 2 || len(in.DNS) != 2 || len(c.Peers) != 2 {
		t.Fatalf("parsed %+v", c)
	}
	if c.Peers[0].AllowedIPs[1] != netip.MustParsePrefix("fd09::/64") {
		t.Errorf("AllowedIPs not masked: %v", c.Peers[0].AllowedIPs)
	}
	uapi, err := c.UAPI(func(host string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("192.0.2.9")}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"private_key=c809f3e5317e9575c9b5ed78b638b7ce530dabe85ddab614220241801ddf0669\n",
		"listen_port=51820\nreplace_peers=true\n",
		"preshared_key=fd4c1c48f837f215bf0fd637b5c4b514e5742b5c2e51131b4b4b1eb0910fe5a9\n",
		"endpoint=192.0.2.1:51820\npersistent_keepalive_interval=25\nreplace_allowed_ips=true\nallowed_ip=10.9.0.0/24\nallowed_ip=fd09::/64\n",
		"endpoint=192.0.2.9:51820\n",
		"allowed_ip=10.9.0.3/32\n",
	} {
		if !strings.Contains(uapi, want) {
			t.Errorf("UAPI lacks %q:\n%s", want, uapi)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, bad := range []string{
		"",
		"[Interface]\n",
		"[Interface]\nPrivateKey = short\n",
		"[Interface]\nPrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\nListenPrt = 1\n",
		"[Interface]\nPrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\n[Peer]\nAllowedIPs = 10.0.0.0/8\n",
		"[Interface]\nPrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\nMTU = 100\n",
		"[Interface]\nPrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\n[Peer]\nPublicKey = xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=\nEndpoint = nohost\n",
		"Address = 10.0.0.1\n",
		"[Wat]\n",
	} {
		if _, err := Parse(strings.NewReader(bad)); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
}

// TestPublicKey checks X25519 against RFC 7748 §6.1's Alice.
func TestPublicKey(t *testing.T) {
	priv, _ := ParseKey("dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=")
	if got := priv.PublicKey().Hex(); got != "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a" {
		t.Errorf("public key %s", got)
	}
	k, err := GenerateKey()
	if err != nil || k[0]&7 != 0 || k[31]&0xc0 != 0x40 {
		t.Errorf("GenerateKey = %x, %v: not clamped", k, err)
	}
}

// FuzzParse: no input makes Parse panic, and what parses gives UAPI text
// without resolving anything it was not given.
func FuzzParse(f *testing.F) {
	f.Add(sample)
	f.Add("[Interface]\nPrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\n")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse(strings.NewReader(s))
		if err != nil {
			return
		}
		c.UAPI(func(string) ([]netip.Addr, error) { return []netip.Addr{netip.IPv4Unspecified()}, nil })
	})
}
